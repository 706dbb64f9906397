package front

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/foreignlayers/fl/pkg/fetch"
	"github.com/foreignlayers/fl/pkg/store"
)

// Errors of a foreign fetch.
var (
	ErrDigestMismatch = errors.New("upstream content does not match the descriptor")
	ErrTooManyFetches = errors.New("too many upstream fetches in progress")
	errUseCache       = errors.New("the blob is in the cache")
)

// fetcher fetches each foreign blob once, however many requests want it:
// the first request starts a flight, later ones join it and read the
// growing spool file.
type fetcher struct {
	client  *fetch.Client
	cache   store.Cache
	sem     chan struct{}
	wait    time.Duration // how long a new flight waits for a slot
	timeout time.Duration // bound on one whole fetch
	log     *slog.Logger
	m       *metrics

	mu      sync.Mutex
	flights map[v1.Hash]*flight
	bad     map[v1.Hash]map[string]time.Time // URLs that served wrong content, until when
}

// badFor is how long a URL that served wrong content is skipped.
const badFor = 10 * time.Minute

type flightState int

const (
	running flightState = iota
	verified
	failed
)

// flight is one fetch of one blob into a spool file.
type flight struct {
	desc  v1.Descriptor
	spool string

	mu      sync.Mutex
	written int64
	started bool // first byte written, or failed
	state   flightState
	err     error
	wake    chan struct{} // closed and replaced at every change
}

// join returns the flight for desc, starting one if there is none.
func (f *fetcher) join(ctx context.Context, desc v1.Descriptor) (*flight, bool, error) {
	f.mu.Lock()
	if fl, ok := f.flights[desc.Digest]; ok {
		f.mu.Unlock()
		return fl, true, nil
	}
	f.mu.Unlock()

	// A slot first, without holding the lock.
	t := time.NewTimer(f.wait)
	defer t.Stop()
	select {
	case f.sem <- struct{}{}:
	case <-t.C:
		return nil, false, ErrTooManyFetches
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	if fl, ok := f.flights[desc.Digest]; ok {
		<-f.sem
		return fl, true, nil
	}
	// The flight before may have just finished.
	if b, err := f.cache.Open(ctx, desc.Digest); err == nil {
		_ = b.Close()
		<-f.sem
		return nil, false, errUseCache
	}
	file, err := os.CreateTemp(f.cache.SpoolDir(), desc.Digest.Hex+"-*")
	if err != nil {
		<-f.sem
		return nil, false, fmt.Errorf("spooling %s: %w", desc.Digest, err)
	}
	fl := &flight{desc: desc, spool: file.Name(), wake: make(chan struct{})}
	f.flights[desc.Digest] = fl
	f.m.inflight.Inc()
	go f.run(fl, file)
	return fl, false, nil
}

// run fetches the blob from its URLs in order, failing over to the next
// URL while nothing has been written, and commits it to the cache only
// once its size and digest are verified.
func (f *fetcher) run(fl *flight, file *os.File) {
	defer func() {
		f.mu.Lock()
		delete(f.flights, fl.desc.Digest)
		f.mu.Unlock()
		f.m.inflight.Dec()
		<-f.sem
	}()
	ctx, cancel := context.WithTimeout(context.Background(), f.timeout)
	defer cancel()
	var errs []error
	for _, u := range fl.desc.URLs {
		if f.isBad(fl.desc.Digest, u) {
			errs = append(errs, fmt.Errorf("%w: %s served content that did not match within the last %v; skipped", ErrDigestMismatch, u, badFor))
			continue
		}
		start := time.Now()
		err := f.fetchFrom(ctx, fl, file, u)
		if err == nil {
			f.m.fetches.WithLabelValues("ok").Inc()
			f.log.Info("fetched foreign layer", "digest", fl.desc.Digest, "url", u, "size", fl.desc.Size, "duration", time.Since(start).Round(time.Millisecond))
			f.finish(ctx, fl, file)
			return
		}
		errs = append(errs, err)
		if errors.Is(err, ErrDigestMismatch) {
			f.markBad(fl.desc.Digest, u)
			f.m.fetches.WithLabelValues("mismatch").Inc()
			f.log.Error("foreign layer content does not match its digest; nothing kept, later requests try the next URL", "digest", fl.desc.Digest, "url", u, "err", err)
		} else {
			f.m.fetches.WithLabelValues("error").Inc()
			f.log.Warn("fetching foreign layer failed", "digest", fl.desc.Digest, "url", u, "err", err)
		}
		fl.mu.Lock()
		written := fl.written
		fl.mu.Unlock()
		if written > 0 {
			// Readers have had bytes from this URL; they cannot be taken
			// back, so this flight ends here.
			break
		}
	}
	if len(errs) == 0 {
		errs = append(errs, errors.New("no URL to fetch from"))
	}
	_ = file.Close()
	fl.fail(errors.Join(errs...))
}

func (f *fetcher) fetchFrom(ctx context.Context, fl *flight, file *os.File, u string) error {
	body, err := f.client.Open(ctx, u)
	if err != nil {
		return err
	}
	defer body.Close()
	if n := body.Size(); n >= 0 && n != fl.desc.Size {
		return fmt.Errorf("%w: %s has %d bytes, the descriptor says %d", ErrDigestMismatch, u, n, fl.desc.Size)
	}
	h := sha256.New()
	buf := make([]byte, 256<<10)
	var n int64
	for {
		m, rerr := body.Read(buf)
		if m > 0 {
			if n+int64(m) > fl.desc.Size {
				return fmt.Errorf("%w: %s sent more than the descriptor's %d bytes", ErrDigestMismatch, u, fl.desc.Size)
			}
			if _, err := file.Write(buf[:m]); err != nil {
				return fmt.Errorf("spooling: %w", err)
			}
			h.Write(buf[:m])
			n += int64(m)
			f.m.upstreamBytes.Add(float64(m))
			fl.progress(n)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return rerr
		}
	}
	return check(fl.desc, n, h, u)
}

func check(desc v1.Descriptor, n int64, h hash.Hash, u string) error {
	if n != desc.Size {
		return fmt.Errorf("%w: %s sent %d bytes, the descriptor says %d", ErrDigestMismatch, u, n, desc.Size)
	}
	got := "sha256:" + hex.EncodeToString(h.Sum(nil))
	if got != desc.Digest.String() {
		return fmt.Errorf("%w: %s has digest %s, the descriptor says %s", ErrDigestMismatch, u, got, desc.Digest)
	}
	return nil
}

// finish makes the verified spool the cached blob, then lets readers have
// the tail. Readers that opened the spool keep reading it through the
// rename.
func (f *fetcher) finish(ctx context.Context, fl *flight, file *os.File) {
	err := file.Sync()
	if cerr := file.Close(); err == nil {
		err = cerr
	}
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if err == nil {
		err = f.cache.Commit(ctx, fl.desc.Digest, fl.spool)
	}
	if err != nil {
		f.log.Error("caching foreign layer failed", "digest", fl.desc.Digest, "err", err)
		_ = os.Remove(fl.spool)
		fl.setLocked(failed, fmt.Errorf("caching %s: %w", fl.desc.Digest, err))
		return
	}
	fl.setLocked(verified, nil)
}

func (f *fetcher) isBad(d v1.Hash, u string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	until, ok := f.bad[d][u]
	if ok && time.Now().After(until) {
		delete(f.bad[d], u)
		if len(f.bad[d]) == 0 {
			delete(f.bad, d)
		}
		return false
	}
	return ok
}

func (f *fetcher) markBad(d v1.Hash, u string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.bad[d] == nil {
		f.bad[d] = map[string]time.Time{}
	}
	f.bad[d][u] = time.Now().Add(badFor)
}

func (fl *flight) progress(n int64) {
	fl.mu.Lock()
	fl.written, fl.started = n, true
	close(fl.wake)
	fl.wake = make(chan struct{})
	fl.mu.Unlock()
}

func (fl *flight) fail(err error) {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	_ = os.Remove(fl.spool)
	fl.setLocked(failed, err)
}

func (fl *flight) setLocked(s flightState, err error) {
	fl.state, fl.err, fl.started = s, err, true
	close(fl.wake)
	fl.wake = make(chan struct{})
}

// snap is a flight's state at one moment, and a channel closed at its
// next change.
type snap struct {
	written int64
	started bool
	state   flightState
	err     error
	wake    <-chan struct{}
}

func (fl *flight) snapshot() snap {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	return snap{fl.written, fl.started, fl.state, fl.err, fl.wake}
}

// wait blocks until the flight has written its first byte or ended.
// It returns the flight's error if it failed.
func (fl *flight) waitStart(ctx context.Context) error {
	for {
		s := fl.snapshot()
		if s.state == failed {
			return s.err
		}
		if s.started {
			return nil
		}
		select {
		case <-s.wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// waitDone blocks until the flight has ended.
func (fl *flight) waitDone(ctx context.Context) error {
	for {
		s := fl.snapshot()
		switch s.state {
		case failed:
			return s.err
		case verified:
			return nil
		}
		select {
		case <-s.wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// newReader opens the spool for one follower; errUseCache if the flight is
// already verified and committed.
func (fl *flight) newReader(ctx context.Context) (*flightReader, error) {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	switch fl.state {
	case failed:
		return nil, fl.err
	case verified:
		return nil, errUseCache
	}
	f, err := os.Open(fl.spool)
	if err != nil {
		return nil, err
	}
	return &flightReader{ctx: ctx, fl: fl, f: f}, nil
}

// flightReader reads a growing spool. It never returns the blob's last
// byte before the whole blob has verified.
type flightReader struct {
	ctx context.Context
	fl  *flight
	f   *os.File
	pos int64
}

func (r *flightReader) Read(p []byte) (int, error) {
	size := r.fl.desc.Size
	for {
		s := r.fl.snapshot()
		written := s.written
		switch s.state {
		case failed:
			return 0, s.err
		case verified:
			written = size
		default:
			written = min(written, size-1) // hold back the tail
		}
		if r.pos < written {
			n, rerr := r.f.ReadAt(p[:min(int64(len(p)), written-r.pos)], r.pos)
			r.pos += int64(n)
			if rerr == io.EOF && n > 0 {
				rerr = nil
			}
			return n, rerr
		}
		if s.state == verified {
			return 0, io.EOF
		}
		select {
		case <-s.wake:
		case <-r.ctx.Done():
			return 0, r.ctx.Err()
		}
	}
}

func (r *flightReader) Close() error { return r.f.Close() }
