package front

import (
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/foreignlayers/fl/pkg/store"
)

// flightKey names what a fetch fetches: requests share a flight only when
// their descriptors agree on digest, size and URLs, so what one
// repository declares never decides what another's clients receive.
type flightKey struct {
	digest v1.Hash
	size   int64
	urls   string // the URLs, newline-separated, in order
}

func keyOf(desc v1.Descriptor) flightKey {
	return flightKey{digest: desc.Digest, size: desc.Size, urls: strings.Join(desc.URLs, "\n")}
}

func (k flightKey) String() string {
	return k.digest.String() + " (" + strconv.FormatInt(k.size, 10) + " bytes)"
}

type flightState int

const (
	running flightState = iota
	verified
	failed
)

// errAbandoned ends a flight that no client read for the grace period.
var errAbandoned = errors.New("no client is reading this fetch any more")

// flight is one fetch of one blob into a cache writer. Requests attach to
// it while they read; when the last one leaves and nobody comes back
// within the grace period, the fetch is cancelled and frees its slot.
type flight struct {
	key    flightKey
	desc   v1.Descriptor
	cache  store.Cache
	cancel context.CancelCauseFunc
	grace  time.Duration

	mu      sync.Mutex
	w       store.Writer // set by reserve, once a URL answered
	readers int
	idle    *time.Timer
	written int64
	started bool // first byte written, or ended
	state   flightState
	err     error
	wake    chan struct{} // closed and replaced at every change
}

// attach adds a reader; false once the flight has ended.
func (fl *flight) attach() (flightState, error, bool) {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if fl.state != running {
		return fl.state, fl.err, false
	}
	fl.readers++
	if fl.idle != nil {
		fl.idle.Stop()
		fl.idle = nil
	}
	return running, nil, true
}

// detach removes a reader; the last one starts the grace period.
func (fl *flight) detach() {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	fl.readers--
	if fl.readers > 0 || fl.state != running {
		return
	}
	fl.idle = time.AfterFunc(fl.grace, func() {
		fl.mu.Lock()
		abandoned := fl.readers == 0 && fl.state == running
		fl.mu.Unlock()
		if abandoned {
			fl.cancel(errAbandoned)
		}
	})
}

// reserve makes room in the cache for the blob, once.
func (fl *flight) reserve(ctx context.Context) error {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if fl.w != nil {
		return nil
	}
	w, err := fl.cache.Create(ctx, fl.desc.Digest, fl.desc.Size)
	if err != nil {
		return err
	}
	fl.w = w
	return nil
}

// writer is the flight's cache writer; nil before reserve.
func (fl *flight) writer() store.Writer {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	return fl.w
}

// discard drops what the flight wrote, and its reservation.
func (fl *flight) discard() {
	if w := fl.writer(); w != nil {
		_ = w.Cancel()
	}
}

func (fl *flight) progress(n int64) {
	fl.mu.Lock()
	fl.written, fl.started = n, true
	fl.notifyLocked()
	fl.mu.Unlock()
}

func (fl *flight) end(s flightState, err error) {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	fl.state, fl.err, fl.started = s, err, true
	if fl.idle != nil {
		fl.idle.Stop()
		fl.idle = nil
	}
	fl.notifyLocked()
}

func (fl *flight) notifyLocked() {
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

// waitStart blocks until the flight has written its first byte or ended.
// It returns the flight's error if it failed.
func (fl *flight) waitStart(ctx context.Context) error {
	return fl.waitFor(ctx, func(s snap) bool { return s.started })
}

// waitDone blocks until the flight has ended.
func (fl *flight) waitDone(ctx context.Context) error {
	return fl.waitFor(ctx, func(s snap) bool { return s.state != running })
}

func (fl *flight) waitFor(ctx context.Context, done func(snap) bool) error {
	for {
		s := fl.snapshot()
		if s.state == failed {
			return s.err
		}
		if done(s) {
			return nil
		}
		select {
		case <-s.wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// newReader opens what the flight has written for one request;
// errUseCache if the flight has already verified and committed.
func (fl *flight) newReader(ctx context.Context) (*flightReader, error) {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	switch fl.state {
	case failed:
		return nil, fl.err
	case verified:
		return nil, errUseCache
	}
	rd, err := fl.w.NewReader()
	if err != nil {
		return nil, err
	}
	return &flightReader{ctx: ctx, fl: fl, r: rd}, nil
}

// flightReader reads a flight as it grows. It never returns the blob's
// last byte before the whole blob has verified against the descriptor.
type flightReader struct {
	ctx context.Context
	fl  *flight
	r   store.ReaderAtCloser
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
			n, rerr := r.r.ReadAt(p[:min(int64(len(p)), written-r.pos)], r.pos)
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

func (r *flightReader) Close() error { return r.r.Close() }
