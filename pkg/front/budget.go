package front

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"
)

// budget bounds the manifest bytes the front holds and parses at once:
// each manifest PUT or GET takes its size from it before its bytes are
// read (the backend parses them too), and waits while others hold it.
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

// remember notes the size of a manifest, for the next GET of it.
func (b *budget) remember(key string, n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.hints) >= maxHints {
		clear(b.hints)
	}
	b.hints[key] = n
}

// chunk is how much of the budget a manifest body takes at a time while it
// arrives: a client that sends slowly holds only what it has sent.
const chunk = 64 << 10

// errTooLarge is a body longer than the limit given to read.
var errTooLarge = errors.New("larger than the limit")

// read reads a body of at most limit bytes, taking the budget as the bytes
// arrive; release gives back what it took.
func (b *budget) read(ctx context.Context, r io.Reader, limit int64) (body []byte, release func(), err error) {
	var held int64
	release = func() {
		if held > 0 {
			b.sem.Release(held)
			held = 0
		}
	}
	defer func() {
		if err != nil {
			release()
		}
	}()
	var buf bytes.Buffer
	for {
		if int64(buf.Len()) > limit {
			return nil, release, errTooLarge
		}
		if int64(buf.Len())+chunk > held {
			take := min(chunk, b.max-held)
			if take <= 0 {
				return nil, release, errBusy
			}
			wctx, cancel := context.WithTimeout(ctx, b.wait)
			err := b.sem.Acquire(wctx, take)
			cancel()
			if err != nil {
				return nil, release, errBusy
			}
			held += take
		}
		n, rerr := buf.ReadFrom(io.LimitReader(r, held-int64(buf.Len())))
		if rerr != nil {
			return nil, release, rerr
		}
		if n == 0 {
			return buf.Bytes(), release, nil
		}
	}
}
