package store

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func hashOf(s string) v1.Hash {
	h, _, _ := v1.SHA256(strings.NewReader(s))
	return h
}

// TestFSCacheFreeSpace: the free space less MinFree and less what other
// writers reserved and have not written bounds a reservation; evicting
// unused blobs makes room, open ones never go.
func TestFSCacheFreeSpace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, err := OpenFSCache(t.TempDir(), FSCacheOptions{MaxBytes: 1 << 30, MinFree: 100})
	if err != nil {
		t.Fatal(err)
	}
	var free atomic.Int64
	c.freeSpace = func(string) (int64, error) { return free.Load(), nil }
	free.Store(500)

	if _, err := c.Create(ctx, hashOf("x"), 401); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Create of more than the free space less MinFree: %v, want ErrTooLarge", err)
	}
	a := strings.Repeat("a", 300)
	wa, err := c.Create(ctx, hashOf(a), 300)
	if err != nil {
		t.Fatal(err)
	}
	// 300 reserved and unwritten: 100 left.
	if _, err := c.Create(ctx, hashOf("b"), 101); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("Create beyond the reservations: %v, want ErrNoSpace", err)
	}
	_, _ = io.WriteString(wa, a)
	free.Store(200) // the bytes were written
	if _, err := c.Create(ctx, hashOf("b"), 101); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("Create beyond the free space while a is being written: %v, want ErrNoSpace", err)
	}
	if err := wa.Commit(ctx, "https://x/a"); err != nil {
		t.Fatal(err)
	}
	b, err := c.Open(ctx, hashOf(a))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create(ctx, hashOf("b"), 101); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("Create that needs an open blob's room: %v, want ErrNoSpace", err)
	}
	_ = b.Close()
	wb, err := c.Create(ctx, hashOf("b"), 101)
	if err != nil {
		t.Fatalf("Create once a can be evicted for room: %v", err)
	}
	defer wb.Cancel()
	if s := c.Stats(); s.Blobs != 0 || s.Evicted != 1 || s.Reserved != 101 {
		t.Errorf("Stats = %+v", s)
	}
}

// TestFSCacheDeletesAtCreateOnlyForTheDisk: room under MaxBytes is only
// marked at Create (the blob stays on disk); blobs are deleted at Create
// only when the filesystem's free space less MinFree cannot hold the
// spool otherwise, and only as many as that takes.
func TestFSCacheDeletesAtCreateOnlyForTheDisk(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, err := OpenFSCache(t.TempDir(), FSCacheOptions{MaxBytes: 300, MinFree: 100})
	if err != nil {
		t.Fatal(err)
	}
	var free atomic.Int64
	c.freeSpace = func(string) (int64, error) { return free.Load(), nil }
	free.Store(1 << 20)
	blobs := []string{strings.Repeat("a", 100), strings.Repeat("b", 100), strings.Repeat("c", 100), strings.Repeat("d", 100)}
	for _, x := range blobs[:3] {
		w, err := c.Create(ctx, hashOf(x), 100)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(w, x)
		if err := w.Commit(ctx, "https://x/"+x[:1]); err != nil {
			t.Fatal(err)
		}
	}
	onDisk := func(x string) bool {
		_, err := os.Stat(c.blobPath(hashOf(x)))
		return err == nil
	}
	// The cap needs a gone: it is marked, still on disk.
	wd, err := c.Create(ctx, hashOf(blobs[3]), 100)
	if err != nil {
		t.Fatal(err)
	}
	if s := c.Stats(); s.Evicted != 0 || s.Marked != 100 || !onDisk(blobs[0]) {
		t.Fatalf("Stats = %+v, a on disk: %v; want a marked and kept", s, onDisk(blobs[0]))
	}
	// The disk is short by 50 bytes for another 100: one blob (a, the
	// least recently used, marked or not) is deleted at once, and b is
	// marked for the cap.
	free.Store(100 + 100 + 50) // MinFree, d's unwritten reservation, and 50
	we, err := c.Create(ctx, hashOf("e"), 100)
	if err != nil {
		t.Fatal(err)
	}
	if s := c.Stats(); s.Evicted != 1 || s.Blobs != 2 || s.Marked != 100 || s.Reserved != 200 || onDisk(blobs[0]) || !onDisk(blobs[1]) {
		t.Fatalf("Stats = %+v; want a deleted, b marked", s)
	}
	_ = we.Cancel()
	_ = wd.Cancel()
	if s := c.Stats(); s.Evicted != 1 || s.Blobs != 2 || s.Marked != 0 || s.Reserved != 0 || !onDisk(blobs[1]) || !onDisk(blobs[2]) {
		t.Fatalf("Stats after cancelling = %+v; want b and c kept", s)
	}
}
