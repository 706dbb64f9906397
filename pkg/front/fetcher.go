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

// fetcher fetches each foreign blob once however many requests want it:
// the first request starts a flight, later ones with the same descriptor
// join it and read what it has written so far.
type fetcher struct {
	client  *fetch.Client
	cache   store.Cache
	sem     chan struct{}
	wait    time.Duration // how long a new flight waits for a slot
	timeout time.Duration // bound on one whole fetch
	grace   time.Duration // how long a flight nobody reads goes on
	recall  *recall
	log     *slog.Logger
	m       *metrics

	mu      sync.Mutex
	flights map[flightKey]*flight
}

// badFor is how long a URL that served wrong content for a descriptor is
// skipped for that descriptor.
const badFor = 10 * time.Minute

// join attaches the request to the flight for desc, starting one if there
// is none. The caller must detach when it stops reading. errUseCache means
// a flight for desc has just committed the blob.
func (f *fetcher) join(ctx context.Context, desc v1.Descriptor) (*flight, bool, error) {
	key := keyOf(desc)
	if fl, ok, err := f.attachExisting(key); ok || err != nil {
		return fl, ok, err
	}
	if err := f.recall.failure(key); err != nil {
		return nil, false, err
	}
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
	if fl, ok, err := f.attachLocked(key); ok || err != nil {
		<-f.sem
		return fl, ok, err
	}
	// A blob the cache cannot hold is refused before any request; room
	// is reserved only once a URL has answered, and the cache evicts for
	// it only at Commit, once the bytes verified: a URL that fails, or
	// sends other bytes, evicts nothing.
	if err := f.cache.Room(ctx, desc.Digest, desc.Size); err != nil {
		<-f.sem
		return nil, false, err
	}
	fctx, cancel := context.WithCancelCause(context.Background())
	fl := &flight{key: key, desc: desc, cache: f.cache, cancel: cancel, grace: f.grace, readers: 1, wake: make(chan struct{})}
	f.flights[key] = fl
	f.m.inflight.Inc()
	go f.run(fctx, fl)
	return fl, false, nil
}

func (f *fetcher) attachExisting(key flightKey) (*flight, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.attachLocked(key)
}

func (f *fetcher) attachLocked(key flightKey) (*flight, bool, error) {
	fl, ok := f.flights[key]
	if !ok {
		return nil, false, nil
	}
	switch state, err, ok := fl.attach(); {
	case ok:
		return fl, true, nil
	case state == verified:
		return nil, false, errUseCache
	default:
		return nil, false, err
	}
}

// run fetches the blob from its URLs in order, failing over to the next
// URL while nothing has been written, and commits it to the cache only
// once its size and digest are verified.
func (f *fetcher) run(ctx context.Context, fl *flight) {
	defer func() {
		f.mu.Lock()
		delete(f.flights, fl.key)
		f.mu.Unlock()
		f.m.inflight.Dec()
		<-f.sem
		fl.cancel(nil)
	}()
	ctx, stop := context.WithTimeout(ctx, f.timeout)
	defer stop()
	var errs []error
	tried := 0        // URLs asked, not skipped
	h := sha256.New() // the content is sha256: vet and recordable keep nothing else
	var n int64       // bytes verified into the hash and written so far
	for _, u := range fl.desc.URLs {
		if f.recall.isBad(fl.key, u) {
			errs = append(errs, fmt.Errorf("%w: %s served content that did not match this descriptor within the last %v; skipped until then (SIGHUP forgets it)", ErrDigestMismatch, u, badFor))
			continue
		}
		start, from := time.Now(), n
		tried++
		var err error
		n, err = f.fetchFrom(ctx, fl, u, h, n)
		if err == nil {
			f.m.fetches.WithLabelValues("ok").Inc()
			f.log.Info("fetched foreign layer", "digest", fl.desc.Digest, "url", u, "size", fl.desc.Size, "duration", time.Since(start).Round(time.Millisecond))
			f.finish(ctx, fl, u)
			return
		}
		if ctx.Err() != nil {
			cause := context.Cause(ctx)
			f.log.Info("foreign layer fetch stopped", "digest", fl.desc.Digest, "url", u, "cause", cause)
			fl.discard()
			fl.end(failed, fmt.Errorf("fetching %s from %s: %w", fl.desc.Digest, u, cause))
			return // not the URL's fault: nothing remembered
		}
		errs = append(errs, err)
		if errors.Is(err, ErrDigestMismatch) {
			if from == 0 {
				// Only a URL that served the whole is to blame: after a
				// failover, the bytes before came from another URL.
				f.recall.markBad(fl.key, u)
			}
			f.m.fetches.WithLabelValues("mismatch").Inc()
			f.log.Error("foreign layer content does not match its digest; nothing kept, later requests try the next URL", "digest", fl.desc.Digest, "url", u, "err", err)
			if n > 0 {
				// Readers have had bytes of wrong content: they cannot be
				// taken back, so this flight ends here.
				fl.discard()
				fl.end(failed, errors.Join(errs...))
				return
			}
			continue
		}
		if errors.Is(err, store.ErrNoSpace) || errors.Is(err, store.ErrTooLarge) {
			fl.discard()
			fl.end(failed, err) // the cache's answer, not the URLs': not remembered
			return
		}
		f.m.fetches.WithLabelValues("error").Inc()
		f.log.Warn("fetching foreign layer failed", "digest", fl.desc.Digest, "url", u, "from_byte", n, "err", err)
		// The next URL takes over from byte n, with a Range request: the
		// digest covers the whole, so a mirror with other content fails.
	}
	if len(errs) == 0 {
		errs = append(errs, errors.New("no URL to fetch from"))
	}
	err := errors.Join(errs...)
	fl.discard()
	if tried > 0 {
		// Remembered, so retries do not each reach the URLs. A flight
		// that only skipped URLs known to serve wrong content asked
		// nothing: it needs no remembering.
		f.recall.remember(fl.key, err)
	}
	f.log.Warn("no URL of the foreign layer could be fetched", "digest", fl.desc.Digest, "urls", len(fl.desc.URLs), "err", err)
	fl.end(failed, err)
}

// fetchFrom reads u from byte n (a Range request when n > 0) into the
// flight and h, and checks the whole once u ends. It returns how many
// bytes the flight has.
func (f *fetcher) fetchFrom(ctx context.Context, fl *flight, u string, h hash.Hash, n int64) (int64, error) {
	body, err := f.client.OpenFrom(ctx, u, n)
	if err != nil {
		return n, err
	}
	defer body.Close()
	want := fl.desc.Size
	if size := body.Size(); n == 0 && size >= 0 && size != want {
		return n, fmt.Errorf("%w: %s has %d bytes, the descriptor says %d", ErrDigestMismatch, u, size, want)
	}
	if err := fl.reserve(ctx); err != nil {
		return n, err
	}
	buf := make([]byte, 256<<10)
	for {
		m, rerr := body.Read(buf)
		if m > 0 {
			if n+int64(m) > want {
				return n, fmt.Errorf("%w: %s sent more than the descriptor's %d bytes", ErrDigestMismatch, u, want)
			}
			if _, err := fl.writer().Write(buf[:m]); err != nil {
				return n, fmt.Errorf("caching: %w", err)
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
			return n, rerr
		}
	}
	if n != want {
		return n, fmt.Errorf("%w: %s sent %d bytes, the descriptor says %d", ErrDigestMismatch, u, n, want)
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != fl.desc.Digest.String() {
		return n, fmt.Errorf("%w: %s has digest %s, the descriptor says %s", ErrDigestMismatch, u, got, fl.desc.Digest)
	}
	return n, nil
}

// finish makes the verified bytes the cached blob, then lets readers have
// the tail.
func (f *fetcher) finish(ctx context.Context, fl *flight, source string) {
	if err := fl.writer().Commit(ctx, source); err != nil {
		f.log.Error("caching foreign layer failed", "digest", fl.desc.Digest, "err", err)
		fl.discard()
		fl.end(failed, fmt.Errorf("caching %s: %w", fl.desc.Digest, err))
		return
	}
	fl.end(verified, nil)
}
