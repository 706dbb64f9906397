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
	// Order now: c, d, a (a is still open). A writer marks c, which
	// stays cached until it commits.
	wc, err := c.Create(ctx, digest(e), blobSize)
	if err != nil {
		t.Fatal(err)
	}
	if s := c.Stats(); s.Blobs != 3 || s.Marked != blobSize || s.Evicted != 1 {
		t.Fatalf("Stats after a Create that needs c's room = %+v, want c marked, not evicted", s)
	}
	follower, err := wc.NewReader()
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.WriteString(wc, e)
	// c is marked, d is free to go, a is open: one blob of room.
	f := content("f")
	wf, err := c.Create(ctx, digest(f), blobSize)
	if err != nil {
		t.Fatal(err)
	}
	if w, err := c.Create(ctx, digest(b), blobSize); !errors.Is(err, store.ErrNoSpace) {
		if w != nil {
			_ = w.Cancel()
		}
		t.Fatalf("Create with every blob open, marked or being written: %v, want ErrNoSpace", err)
	}
	if err := wc.Commit(ctx, "https://x/e"); err != nil {
		t.Fatal(err)
	}
	if s := c.Stats(); s.Blobs != 3 || s.Bytes != 3*blobSize || s.Marked != blobSize || s.Evicted != 2 {
		t.Fatalf("Stats after e's Commit = %+v, want c evicted and d still marked", s)
	}
	// e is committed, and read by its follower: still in use.
	if err := c.Remove(ctx, digest(e)); !errors.Is(err, store.ErrInUse) {
		t.Fatalf("Remove of a blob its follower reads: %v, want ErrInUse", err)
	}
	if w, err := c.Create(ctx, digest(b), blobSize); !errors.Is(err, store.ErrNoSpace) {
		if w != nil {
			_ = w.Cancel()
		}
		t.Fatalf("Create with every blob read, marked or written: %v, want ErrNoSpace", err)
	}
	_ = follower.Close()
	_ = open.Close()
	_, _ = io.WriteString(wf, f)
	if err := wf.Commit(ctx, "https://x/f"); err != nil {
		t.Fatal(err)
	}
	// Full again, and a (opened before e and f were written) goes first.
	put(t, c, b, "https://x/b")
	if has(t, c, cc) || has(t, c, d) || has(t, c, a) || !has(t, c, e) || !has(t, c, f) || !has(t, c, b) {
		t.Error("after closing, the least recently used should have been evicted")
	}
	if s := c.Stats(); s.Reserved != 0 || s.Marked != 0 || s.Bytes > c.max {
		t.Errorf("Stats = %+v", s)
	}
}

// cacheCancelEvictsNothing: the room a Create needs is only marked; a
// Cancel, or a Commit that fails, evicts nothing, and the marked blob
// stays readable meanwhile.
func cacheCancelEvictsNothing(t *testing.T, c cacheUnderTest) {
	a, b, cc, d := content("a"), content("b"), content("c"), content("d")
	put(t, c, a, "https://x/a")
	put(t, c, b, "https://x/b")
	put(t, c, cc, "https://x/c")
	for _, fail := range []string{"cancel", "short commit"} {
		w, err := c.Create(ctx, digest(d), blobSize)
		if err != nil {
			t.Fatal(err)
		}
		if s := c.Stats(); s.Blobs != 3 || s.Bytes != 3*blobSize || s.Reserved != blobSize || s.Marked != blobSize || s.Evicted != 0 {
			t.Fatalf("%s: Stats after Create = %+v, want one blob marked, none evicted", fail, s)
		}
		// A pusher's URL sends other bytes: they fail verification.
		_, _ = io.WriteString(w, content("not d")[:blobSize/2])
		if fail == "cancel" {
			err = w.Cancel()
		} else if err = w.Commit(ctx, "https://x/d"); err != nil {
			err = nil // a Commit of the wrong size fails, as it should
		} else {
			err = errors.New("a Commit of half the bytes succeeded")
		}
		if err != nil {
			t.Fatal(err)
		}
		if s := c.Stats(); s.Blobs != 3 || s.Bytes != 3*blobSize || s.Reserved != 0 || s.Marked != 0 || s.Evicted != 0 {
			t.Fatalf("%s: Stats = %+v, want nothing evicted, nothing marked", fail, s)
		}
	}
	for _, x := range []string{a, b, cc} {
		if !has(t, c, x) {
			t.Errorf("%.1s was evicted by writes that never committed", x)
		}
	}
	if has(t, c, d) {
		t.Error("d is cached")
	}
}

// cacheCommitEvictsMarked: the victim a Create marks stays readable
// until the writer commits; the Commit evicts the least recently used
// then, another one if the victim was opened meanwhile, and keeps the
// blob even when every candidate is open, over the cap until the last
// reader closes.
func cacheCommitEvictsMarked(t *testing.T, c cacheUnderTest) {
	a, b, cc, d, e := content("a"), content("b"), content("c"), content("d"), content("e")
	put(t, c, a, "https://x/a")
	put(t, c, b, "https://x/b")
	put(t, c, cc, "https://x/c")
	// a is the least recently used: Create marks it.
	w, err := c.Create(ctx, digest(d), blobSize)
	if err != nil {
		t.Fatal(err)
	}
	if s := c.Stats(); s.Marked != blobSize || s.Evicted != 0 {
		t.Fatalf("Stats after Create = %+v", s)
	}
	// a, marked, is read meanwhile: b takes its place at Commit.
	held := get(t, c, a)
	_, _ = io.WriteString(w, d)
	if err := w.Commit(ctx, "https://x/d"); err != nil {
		t.Fatal(err)
	}
	if s := c.Stats(); s.Blobs != 3 || s.Bytes != 3*blobSize || s.Marked != 0 || s.Evicted != 1 {
		t.Fatalf("Stats after Commit = %+v, want one evicted", s)
	}
	if has(t, c, b) || !has(t, c, cc) || !has(t, c, d) {
		t.Fatal("Commit should have evicted b, the least recently used blob not open")
	}
	// Order: a (open), c, d. Create marks c; then c and d are opened too.
	w, err = c.Create(ctx, digest(e), blobSize)
	if err != nil {
		t.Fatal(err)
	}
	holders := []store.Blob{held, get(t, c, cc), get(t, c, d)}
	_, _ = io.WriteString(w, e)
	if err := w.Commit(ctx, "https://x/e"); err != nil {
		t.Fatalf("Commit with every other blob open: %v, want the blob kept over the cap", err)
	}
	if s := c.Stats(); s.Blobs != 4 || s.Bytes != 4*blobSize || s.Reserved != 0 || s.Marked != 0 || s.Evicted != 1 {
		t.Fatalf("Stats after a Commit over the cap = %+v, want 4 blobs", s)
	}
	for _, h := range holders {
		_ = h.Close()
	}
	// The first close made room: a, the least recently used, went.
	if s := c.Stats(); s.Blobs != 3 || s.Bytes != 3*blobSize || s.Evicted != 2 {
		t.Fatalf("Stats once the readers closed = %+v, want back under the cap", s)
	}
	if has(t, c, a) || !has(t, c, cc) || !has(t, c, d) || !has(t, c, e) {
		t.Error("closing should have evicted a, the least recently used")
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
