package front

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// bcryptSpy records the cost of every bcrypt comparison an Auth runs.
type bcryptSpy struct {
	mu    sync.Mutex
	costs []int
}

func spyBcrypt(a *Auth) *bcryptSpy {
	s := &bcryptSpy{}
	real := a.compare
	a.compare = func(hash, pass []byte) error {
		c, _ := bcrypt.Cost(hash)
		s.mu.Lock()
		s.costs = append(s.costs, c)
		s.mu.Unlock()
		return real(hash, pass)
	}
	return s
}

// take returns the costs recorded since the last take.
func (s *bcryptSpy) take() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.costs
	s.costs = nil
	return c
}

func checkCreds(t *testing.T, a *Auth, user, pass string) bool {
	t.Helper()
	ok, err := a.check(context.Background(), user, pass, "127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// An unknown user costs exactly one bcrypt, at the cost most of the
// file's users have, as a known user with a wrong password does.
// Successes are remembered a minute, failures some seconds; a reload
// forgets both.
func TestAuthCredentialCost(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "htpasswd")
	var file []byte
	for i, cost := range []int{5, 5, 4} {
		h, err := bcrypt.GenerateFromPassword([]byte("pw"+strconv.Itoa(i)), cost)
		if err != nil {
			t.Fatal(err)
		}
		file = fmt.Appendf(file, "user%d:%s\n", i, h)
	}
	if err := os.WriteFile(path, file, 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := LoadHtpasswd(path, AuthOptions{})
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Now()
	a.now = func() time.Time { return clock }
	spy := spyBcrypt(a)

	for _, step := range []struct {
		name       string
		user, pass string
		ok         bool
		costs      []int
	}{
		{"unknown user", "nobody", "pw0", false, []int{5}},
		{"unknown user again (remembered)", "nobody", "pw0", false, nil},
		{"another unknown user", "nobody2", "x", false, []int{5}},
		{"wrong password", "user0", "wrong", false, []int{5}},
		{"right password", "user0", "pw0", true, []int{5}},
		{"right password again (remembered)", "user0", "pw0", true, nil},
		{"cheaper user", "user2", "pw2", true, []int{4}},
	} {
		if ok := checkCreds(t, a, step.user, step.pass); ok != step.ok {
			t.Errorf("%s: ok = %v", step.name, ok)
		}
		if got := spy.take(); !reflect.DeepEqual(got, step.costs) {
			t.Errorf("%s: bcrypt runs at costs %v, want %v", step.name, got, step.costs)
		}
	}

	clock = clock.Add(credBadTTL + time.Second)
	checkCreds(t, a, "nobody", "pw0")
	checkCreds(t, a, "user0", "pw0")
	if got := spy.take(); !reflect.DeepEqual(got, []int{5}) {
		t.Errorf("after %v: bcrypt runs %v; want one for the failure, none for the success", credBadTTL, got)
	}
	clock = clock.Add(credOKTTL)
	checkCreds(t, a, "user0", "pw0")
	if got := spy.take(); len(got) != 1 {
		t.Errorf("after %v: success checked %d times, want once more", credOKTTL, len(got))
	}
	if err := a.Reload(); err != nil {
		t.Fatal(err)
	}
	checkCreds(t, a, "user0", "pw0")
	if got := spy.take(); len(got) != 1 {
		t.Errorf("after a reload: %d bcrypt runs, want 1 (nothing remembered across reloads)", len(got))
	}
}

// 32 connections sending the same bad credentials at once cost one
// bcrypt.
func TestAuthCredentialSharedCheck(t *testing.T) {
	t.Parallel()
	a, _ := newTestAuth(t, AuthOptions{}, "alice", "s3cret")
	gate := make(chan struct{})
	var runs atomic.Int64
	a.compare = func(hash, pass []byte) error {
		runs.Add(1)
		<-gate
		return bcrypt.ErrMismatchedHashAndPassword
	}
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			if ok, err := a.check(context.Background(), "alice", "guess", "127.0.0.1:1"); ok || err != nil {
				t.Errorf("bad credentials: %v %v", ok, err)
			}
		})
	}
	waitFor(t, func() bool { return runs.Load() == 1 })
	waitFor(t, func() bool { s := a.state.Load(); s.mu.Lock(); defer s.mu.Unlock(); return len(s.inflight) == 1 })
	close(gate)
	wg.Wait()
	if n := runs.Load(); n != 1 {
		t.Errorf("%d bcrypt runs for 32 identical checks", n)
	}
}

// bcrypt runs at most cap(sem) at a time; while a flood of bad
// credentials holds every slot, a user whose success is remembered gets in
// without waiting, and a request that gives up leaves the queue.
func TestAuthCredentialFloodDoesNotStarve(t *testing.T) {
	t.Parallel()
	a, _ := newTestAuth(t, AuthOptions{}, "alice", "s3cret")
	if want := max(1, runtime.GOMAXPROCS(0)/2); bcryptSlots() != want {
		t.Errorf("%d bcrypt slots, want %d", bcryptSlots(), want)
	}
	if !checkCreds(t, a, "alice", "s3cret") { // remembered from now on
		t.Fatal("alice refused")
	}
	gate := make(chan struct{})
	var inside, most atomic.Int64
	a.compare = func(hash, pass []byte) error {
		n := inside.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		<-gate
		inside.Add(-1)
		return bcrypt.ErrMismatchedHashAndPassword
	}
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			_, _ = a.check(context.Background(), "alice", fmt.Sprint("guess", i), fmt.Sprintf("10.0.%d.%d:1", i/200, i%200))
		})
	}
	waitFor(t, func() bool { return inside.Load() == int64(bcryptSlots()) })

	done := make(chan bool)
	go func() { ok, _ := a.check(context.Background(), "alice", "s3cret", "127.0.0.1:1"); done <- ok }()
	select {
	case ok := <-done:
		if !ok {
			t.Errorf("alice refused during the flood")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a remembered success waited behind the flood")
	}
	// A new check queues; when its request ends it gives up.
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error)
	go func() { _, err := a.check(ctx, "bob", "new", "127.0.0.1:1"); errc <- err }()
	cancel()
	if err := <-errc; err == nil {
		t.Errorf("a cancelled check waiting for bcrypt returned no error")
	}
	close(gate)
	wg.Wait()
	if m := most.Load(); m > int64(bcryptSlots()) {
		t.Errorf("%d bcrypt runs at once, more than %d", m, bcryptSlots())
	}
}

// The memory of checks stays bounded however many credentials are tried.
func TestAuthCredentialCacheBounded(t *testing.T) {
	t.Parallel()
	a, _ := newTestAuth(t, AuthOptions{}, "alice", "s3cret")
	a.compare = func(hash, pass []byte) error { return bcrypt.ErrMismatchedHashAndPassword }
	for i := range 3 * maxCredKeys {
		checkCreds(t, a, "alice", strconv.Itoa(i))
	}
	s := a.state.Load()
	if n := len(s.bad); n > maxCredKeys || n == 0 {
		t.Errorf("%d failures remembered, want 1..%d", n, maxCredKeys)
	}
}

// waitFor polls cond for up to 10 seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

// The gate hands slots out in turn across client addresses, then user
// names: floods from one address (at one user, or at made-up names) delay
// another address, or another user of the same address, by a slot or two;
// one address may not queue past its bound.
func TestGateIsFairAcrossUsers(t *testing.T) {
	t.Parallel()
	g := newGate(1)
	ctx := context.Background()
	hold, err := g.acquire(ctx, "alice", "10.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	var mu sync.Mutex
	var wg sync.WaitGroup
	enqueue := func(user, addr string) {
		wg.Add(1)
		queued := g.waitingFor(user)
		go func() {
			defer wg.Done()
			release, err := g.acquire(ctx, user, addr)
			if err != nil {
				t.Errorf("%s refused: %v", user, err)
				return
			}
			mu.Lock()
			order = append(order, user)
			mu.Unlock()
			release()
		}()
		waitFor(t, func() bool { return g.waitingFor(user) == queued+1 })
	}
	// A flood at alice from one address, a flood of made-up names from
	// another; bob shares the first address, carol has her own.
	for range 5 {
		enqueue("alice", "10.0.0.1:1")
	}
	for i := range 5 {
		enqueue(fmt.Sprint("u", i), "10.0.0.3:1")
	}
	enqueue("bob", "10.0.0.1:2")
	enqueue("carol", "10.0.0.2:1")
	hold()
	wg.Wait()
	if i, j := slices.Index(order, "carol"), slices.Index(order, "bob"); len(order) != 12 || i < 0 || i > 2 || j < 0 || j > 3 {
		t.Errorf("slots went to %v; want carol (another address) among the first 3, bob (another user of the flooded address) among the first 4", order)
	}
	// One address cannot queue past its bound.
	g2 := newGate(1)
	hold2, _ := g2.acquire(ctx, "x", "192.0.2.1:1")
	cctx, cancel := context.WithCancel(ctx)
	for i := range maxWaitingPerClient {
		go func() { _, _ = g2.acquire(cctx, fmt.Sprint("u", i), "192.0.2.1:1") }()
	}
	waitFor(t, func() bool { return g2.waitingTotal() == maxWaitingPerClient })
	if _, err := g2.acquire(ctx, "another", "192.0.2.1:2"); !errors.Is(err, errTooManyChecks) {
		t.Errorf("a check past the address's bound: %v", err)
	}
	cancel()
	waitFor(t, func() bool { return g2.waitingTotal() == 0 })
	hold2()
	if release, err := g2.acquire(ctx, "another", "192.0.2.1:3"); err != nil {
		t.Errorf("after the flood gave up: %v", err)
	} else {
		release()
	}
}

// waitingFor and waitingTotal are for tests.
func (g *gate) waitingFor(user string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, c := range g.clients {
		if q := c.users[user]; q != nil {
			n += q.Len()
		}
	}
	return n
}

func (g *gate) waitingTotal() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.waiting
}
