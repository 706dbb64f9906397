package front

import (
	"fmt"
	"sync"
	"time"
)

// recall is what the fetcher remembers of failures, for a while: URLs
// that served content not matching a descriptor, and fetches that failed
// on every URL. Both are keyed by what the requesting repository itself
// declared (digest, size, URL or URLs), so a descriptor of one repository
// cannot make another's fail. Both maps are bounded.
type recall struct {
	badFor, failFor time.Duration

	mu     sync.Mutex
	bad    map[badKey]time.Time
	failed map[flightKey]failure
}

type badKey struct {
	flightKey // with urls set to the one URL
}

type failure struct {
	err   error
	at    time.Time
	until time.Time
}

// maxRecall bounds each memory.
const maxRecall = 4096

func newRecall(badFor, failFor time.Duration) *recall {
	return &recall{badFor: badFor, failFor: failFor, bad: map[badKey]time.Time{}, failed: map[flightKey]failure{}}
}

func badOf(k flightKey, url string) badKey {
	k.urls = url
	return badKey{k}
}

// isBad reports whether url served content that did not match k lately.
func (m *recall) isBad(k flightKey, url string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	until, ok := m.bad[badOf(k, url)]
	if ok && time.Now().After(until) {
		delete(m.bad, badOf(k, url))
		return false
	}
	return ok
}

func (m *recall) markBad(k flightKey, url string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	if len(m.bad) >= maxRecall {
		sweep(m.bad, func(until time.Time) bool { return now.After(until) })
	}
	m.bad[badOf(k, url)] = now.Add(m.badFor)
}

// remember keeps a failed fetch's error for failFor.
func (m *recall) remember(k flightKey, err error) {
	if m.failFor <= 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	if len(m.failed) >= maxRecall {
		sweep(m.failed, func(f failure) bool { return now.After(f.until) })
	}
	m.failed[k] = failure{err: err, at: now, until: now.Add(m.failFor)}
}

// failure returns the remembered error of a fetch of k, if any.
func (m *recall) failure(k flightKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	f, ok := m.failed[k]
	if !ok {
		return nil
	}
	if time.Now().After(f.until) {
		delete(m.failed, k)
		return nil
	}
	return &rememberedError{err: f.err, ago: time.Since(f.at), retry: time.Until(f.until)}
}

// forget drops every failure and every URL marked bad (SIGHUP: the
// policy, or the URLs' content, may have changed).
func (m *recall) forget() {
	m.mu.Lock()
	defer m.mu.Unlock()
	clear(m.failed)
	clear(m.bad)
}

// sweep deletes expired entries, or everything if none has expired: the
// map never grows past its bound.
func sweep[K comparable, V any](m map[K]V, expired func(V) bool) {
	for k, v := range m {
		if expired(v) {
			delete(m, k)
		}
	}
	if len(m) >= maxRecall {
		clear(m)
	}
}

// rememberedError is a recent failure answered again without a fetch.
type rememberedError struct {
	err        error
	ago, retry time.Duration
}

func (e *rememberedError) Error() string {
	return fmt.Sprintf("%v (this fetch failed %v ago; fl serve tries again in %v)", e.err, e.ago.Round(time.Second), e.retry.Round(time.Second))
}

func (e *rememberedError) Unwrap() error { return e.err }
