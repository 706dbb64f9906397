package front

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// How long credential checks are remembered, and how many.
const (
	credOKTTL   = time.Minute
	credBadTTL  = 10 * time.Second
	maxCredKeys = 1024
)

// htpasswd is one load of the file, with the checks made against it: a
// reload starts afresh, so nothing checked against old hashes survives it.
type htpasswd struct {
	users map[string][]byte
	// dummy is a hash at the cost most users have: an unknown user's
	// password is compared with it, so unknown and known users cost the
	// same.
	dummy []byte

	mu       sync.Mutex
	ok, bad  map[[32]byte]time.Time // until when a check holds
	inflight map[[32]byte]*credCheck
}

// credCheck is one bcrypt run that concurrent requests with the same
// credentials wait for.
type credCheck struct {
	done chan struct{}
	ok   bool
	err  error
}

func readHtpasswd(path string) (*htpasswd, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--htpasswd: %w", err)
	}
	defer f.Close()
	s := &htpasswd{
		users: map[string][]byte{}, ok: map[[32]byte]time.Time{}, bad: map[[32]byte]time.Time{},
		inflight: map[[32]byte]*credCheck{},
	}
	costs := map[int]int{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		user, hash, ok := strings.Cut(line, ":")
		if !ok || user == "" {
			return nil, fmt.Errorf("--htpasswd %s line %d: expected user:hash", path, n)
		}
		cost, err := bcrypt.Cost([]byte(hash))
		if !strings.HasPrefix(hash, "$2") || err != nil {
			return nil, fmt.Errorf("--htpasswd %s line %d: user %s: only bcrypt hashes are accepted (htpasswd -B)", path, n, user)
		}
		costs[cost]++
		s.users[user] = []byte(hash)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("--htpasswd %s: %w", path, err)
	}
	if len(s.users) == 0 {
		return nil, fmt.Errorf("--htpasswd %s has no users", path)
	}
	common := 0
	for c, n := range costs {
		if n > costs[common] || n == costs[common] && c > common {
			common = c
		}
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	if s.dummy, err = bcrypt.GenerateFromPassword(secret, common); err != nil {
		return nil, fmt.Errorf("--htpasswd %s: %w", path, err)
	}
	return s, nil
}

// check reports whether user and pass are valid. Answers are remembered
// (successes a minute, failures a few seconds) under a hash of both, so a
// client that sends Basic credentials with every request costs one bcrypt
// a minute; concurrent checks of the same credentials share one run; and
// bcrypt runs a few at a time, handed out fairly across user names, so a flood of bad credentials
// delays new checks but never a remembered success.
func (a *Auth) check(ctx context.Context, user, pass, remoteAddr string) (bool, error) {
	s := a.state.Load()
	key := a.credKey(user, pass)
	for {
		s.mu.Lock()
		now := a.now()
		if until, hit := s.ok[key]; hit && now.Before(until) {
			s.mu.Unlock()
			return true, nil
		}
		if until, hit := s.bad[key]; hit && now.Before(until) {
			s.mu.Unlock()
			return false, nil
		}
		if c := s.inflight[key]; c != nil {
			s.mu.Unlock()
			select {
			case <-c.done:
				if c.err != nil {
					continue // its request gave up; try again with ours
				}
				return c.ok, nil
			case <-ctx.Done():
				return false, ctx.Err()
			}
		}
		c := &credCheck{done: make(chan struct{})}
		s.inflight[key] = c
		s.mu.Unlock()

		c.ok, c.err = a.bcrypt(ctx, s, user, pass, remoteAddr)
		s.mu.Lock()
		delete(s.inflight, key)
		if c.err == nil {
			if c.ok {
				rememberCred(s.ok, key, a.now(), credOKTTL)
			} else {
				rememberCred(s.bad, key, a.now(), credBadTTL)
			}
		}
		s.mu.Unlock()
		close(c.done)
		return c.ok, c.err
	}
}

// bcrypt compares pass with user's hash, or with the dummy hash for an
// unknown user, once the gate hands it a slot.
func (a *Auth) bcrypt(ctx context.Context, s *htpasswd, user, pass, remoteAddr string) (bool, error) {
	hash, known := s.users[user]
	if !known {
		hash = s.dummy
	}
	release, err := a.gate.acquire(ctx, user, remoteAddr)
	if err != nil {
		return false, err
	}
	defer release()
	err = a.compare(hash, []byte(pass))
	return known && err == nil, nil
}

// credKey identifies credentials without keeping the password.
func (a *Auth) credKey(user, pass string) [32]byte {
	h := sha256.New()
	h.Write(a.salt[:])
	_ = binary.Write(h, binary.BigEndian, uint32(len(user)))
	h.Write([]byte(user))
	h.Write([]byte(pass))
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// rememberCred adds key to m, keeping m at most maxCredKeys: expired
// entries go first; if all are fresh, m starts over rather than grows.
func rememberCred(m map[[32]byte]time.Time, key [32]byte, now time.Time, ttl time.Duration) {
	if len(m) >= maxCredKeys {
		for k, v := range m {
			if now.After(v) {
				delete(m, k)
			}
		}
		if len(m) >= maxCredKeys {
			clear(m)
		}
	}
	m[key] = now.Add(ttl)
}
