package storetest

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/foreignlayers/fl/pkg/store"
)

func cacheEvictOrder(t *testing.T, c cacheUnderTest) {
	a, b, cc, d, e := content("a"), content("b"), content("c"), content("d"), content("e")
	put(t, c, a, "https://x/a")
	put(t, c, b, "https://x/b")
	put(t, c, cc, "https://x/c")
	wantStats(t, c, 3, 3*blobSize, 0)
	_ = get(t, c, a).Close() // a was opened last: b is the least recently used
	put(t, c, d, "https://x/d")
	if has(t, c, b) {
		t.Fatal("b, the least recently used, was not evicted")
	}
	if s := c.Stats(); s.Evicted != 1 || s.Blobs != 3 || s.Bytes != 3*blobSize {
		t.Fatalf("Stats = %+v", s)
	}
	// Now c, a, d; opening c makes a the oldest.
	_ = get(t, c, cc).Close()
	put(t, c, e, "https://x/e")
	for _, x := range []struct {
		content string
		want    bool
	}{{a, false}, {cc, true}, {d, true}, {e, true}} {
		if has(t, c, x.content) != x.want {
			t.Errorf("%.1s cached: %v, want %v", x.content, !x.want, x.want)
		}
	}
	if s := c.Stats(); s.Evicted != 2 {
		t.Errorf("Stats = %+v", s)
	}
}

func cacheNeverEvictInUse(t *testing.T, c cacheUnderTest) {
	a, b, cc, d, e := content("a"), content("b"), content("c"), content("d"), content("e")
	put(t, c, a, "https://x/a")
	put(t, c, b, "https://x/b")
	put(t, c, cc, "https://x/c")
	open := get(t, c, a)
	_ = get(t, c, b).Close()
	_ = get(t, c, cc).Close()
	// a is the least recently used, but open: b goes instead.
	put(t, c, d, "https://x/d")
	if !has(t, c, a) || has(t, c, b) {
		t.Fatal("evicted an open blob, or not the least recently used of the others")
	}
	// Order now: c, d, a (a is still open). A writer holds c's place.
	wc, err := c.Create(ctx, digest(e), blobSize)
	if err != nil {
		t.Fatal(err)
	}
	if has(t, c, cc) {
		t.Fatal("c should have made room for e")
	}
	follower, err := wc.NewReader()
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.WriteString(wc, e)
	// d is free to go, a is open, e being written: one blob of room.
	wd, err := c.Create(ctx, digest(cc), blobSize)
	if err != nil {
		t.Fatal(err)
	}
	if w, err := c.Create(ctx, digest(b), blobSize); !errors.Is(err, store.ErrNoSpace) {
		if w != nil {
			_ = w.Cancel()
		}
		t.Fatalf("Create with every blob open or being written: %v, want ErrNoSpace", err)
	}
	if err := wc.Commit(ctx, "https://x/e"); err != nil {
		t.Fatal(err)
	}
	// e is committed, and read by its follower: still in use.
	if err := c.Remove(ctx, digest(e)); !errors.Is(err, store.ErrInUse) {
		t.Fatalf("Remove of a blob its follower reads: %v, want ErrInUse", err)
	}
	if w, err := c.Create(ctx, digest(b), blobSize); !errors.Is(err, store.ErrNoSpace) {
		if w != nil {
			_ = w.Cancel()
		}
		t.Fatalf("Create with every blob read or written: %v, want ErrNoSpace", err)
	}
	_ = follower.Close()
	_ = open.Close()
	_, _ = io.WriteString(wd, cc)
	if err := wd.Commit(ctx, "https://x/c"); err != nil {
		t.Fatal(err)
	}
	// Full again, and a (opened before e and c were written) goes first.
	put(t, c, b, "https://x/b")
	if has(t, c, a) || !has(t, c, e) || !has(t, c, b) {
		t.Error("after closing, the least recently used should have been evicted")
	}
	if s := c.Stats(); s.Reserved != 0 || s.Bytes > c.max {
		t.Errorf("Stats = %+v", s)
	}
}

func cacheReopenAfterCrash(t *testing.T, c cacheUnderTest) {
	a, b, cc := content("a"), content("b"), content("c")
	put(t, c, a, "https://x/a")
	put(t, c, b, "https://x/b")
	w, err := c.Create(ctx, digest(cc), blobSize)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.WriteString(w, cc[:50])
	held := get(t, c, a)
	_ = held // the crashed process had it open

	y := cacheUnderTest{c.reopen(t), c.max, c.reopen}
	wantStats(t, y, 2, 2*blobSize, 0)
	if has(t, y, cc) {
		t.Error("a blob never committed is visible after a crash")
	}
	if src := get(t, y, a).Sources(); !slices.Equal(src, []string{"https://x/a"}) {
		t.Errorf("Sources after reopening: %q", src)
	}
	get(t, y, b)
	// The accounting is whole: the capacity can be used again.
	put(t, y, cc, "https://x/c")
	put(t, y, content("d"), "https://x/d")
	wantStats(t, y, 3, 3*blobSize, 0)
}

// cacheConcurrent: goroutines read, write, cancel and evict blobs of a
// cache too small for all of them.
func cacheConcurrent(t *testing.T, c cacheUnderTest) {
	const workers, rounds, blobs = 6, 30, 8
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(g), 1))
			for range rounds {
				text := content(fmt.Sprint(rnd.IntN(blobs)))
				if err := concurrentRound(c, text, rnd.IntN(4) == 0); err != nil {
					errs <- fmt.Errorf("worker %d: %w", g, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	s := c.Stats()
	if s.Reserved != 0 || s.Bytes > c.max || s.Bytes != int64(s.Blobs)*blobSize {
		t.Errorf("Stats after the storm = %+v", s)
	}
}

func concurrentRound(c store.Cache, text string, cancel bool) error {
	d := digest(text)
	if b, err := c.Open(ctx, d); err == nil {
		got, err := io.ReadAll(b)
		_ = b.Close()
		if err != nil || string(got) != text {
			return fmt.Errorf("read %.10q, %v", got, err)
		}
		return nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	w, err := c.Create(ctx, d, int64(len(text)))
	if errors.Is(err, store.ErrNoSpace) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := io.WriteString(w, text); err != nil {
		_ = w.Cancel()
		return err
	}
	if cancel {
		return w.Cancel()
	}
	return w.Commit(ctx, "https://x/"+d.Hex[:8])
}

// cacheRoom: Room answers as Create would, and evicts nothing.
func cacheRoom(t *testing.T, c cacheUnderTest) {
	a, b, cc, d := content("a"), content("b"), content("c"), content("d")
	if err := c.Room(ctx, digest(a), c.max+1); !errors.Is(err, store.ErrTooLarge) {
		t.Errorf("Room(max+1) = %v, want ErrTooLarge", err)
	}
	put(t, c, a, "https://x/a")
	put(t, c, b, "https://x/b")
	put(t, c, cc, "https://x/c")
	if err := c.Room(ctx, digest(d), blobSize); err != nil {
		t.Fatalf("Room with evictable blobs: %v", err)
	}
	if s := c.Stats(); s.Blobs != 3 || s.Evicted != 0 || s.Reserved != 0 {
		t.Fatalf("Room changed the cache: %+v", s)
	}
	var open []store.Blob
	for _, x := range []string{a, b, cc} {
		open = append(open, get(t, c, x))
	}
	if err := c.Room(ctx, digest(d), blobSize); !errors.Is(err, store.ErrNoSpace) {
		t.Errorf("Room with every blob open = %v, want ErrNoSpace", err)
	}
	for _, bl := range open {
		_ = bl.Close()
	}
}
