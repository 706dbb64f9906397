package store

import (
	"context"
	"errors"
	"io"
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
