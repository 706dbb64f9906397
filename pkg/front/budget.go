package front

import (
	"context"
	"errors"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"
)

// budget bounds the manifest bytes the front holds and parses at once:
// each manifest PUT or GET takes its size from it before its bytes are
// read (the backend parses them too), and waits while others hold it.
// PUTs and GETs have budgets of their own, so slow pushes never hold back
// pulls.
type budget struct {
	sem     *semaphore.Weighted
	max     int64 // the whole budget
	unknown int64 // what a manifest GET of unknown size takes
	wait    time.Duration

	mu    sync.Mutex
	hints map[string]int64 // repository@reference -> size last seen
}

// errBusy is a manifest that found no room in the budget in time.
var errBusy = errors.New("too many large manifests are being handled at once")

// maxHints bounds the memory of sizes.
const maxHints = 8192

// newBudget returns a budget of total bytes. A GET of a manifest whose
// size is not known yet takes a quarter of the largest manifest: the
// backend reads and parses it before the front can see how big it is.
func newBudget(total, maxManifest int64, wait time.Duration) *budget {
	return &budget{sem: semaphore.NewWeighted(total), max: total, unknown: max(maxManifest/4, 64<<10), wait: wait, hints: map[string]int64{}}
}

// acquire takes n bytes of the budget (at most the whole of it), waiting
// up to the budget's wait; release gives them back.
func (b *budget) acquire(ctx context.Context, n int64) (release func(), err error) {
	n = min(max(n, 1), b.max)
	ctx, cancel := context.WithTimeout(ctx, b.wait)
	defer cancel()
	if err := b.sem.Acquire(ctx, n); err != nil {
		return nil, errBusy
	}
	var once sync.Once
	return func() { once.Do(func() { b.sem.Release(n) }) }, nil
}

// hint is the size a manifest had when last seen.
func (b *budget) hint(key string) int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n, ok := b.hints[key]; ok {
		return n
	}
	return b.unknown
}

// remember notes the size of a manifest, for the next GET of it. A hint
// only grows: one GET answered small (another Accept header, say) cannot
// make the next GETs of a large manifest cheap.
func (b *budget) remember(key string, n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.hints) >= maxHints {
		clear(b.hints)
	}
	b.hints[key] = max(b.hints[key], n)
}
