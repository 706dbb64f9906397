package store_test

import (
	"context"
	"slices"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/foreignlayers/fl/pkg/name"
	"github.com/foreignlayers/fl/pkg/store"
)

// Walk finds nested repositories (a/b and a/b/c), lists what each holds,
// and no longer lists what was forgotten.
func TestFSIndexWalk(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	x := openIndex(t, t.TempDir())
	ab, abc := name.MustRepository("a/b"), name.MustRepository("a/b/c")
	l1, l2 := foreignDesc("one", "https://x/1"), foreignDesc("two", "https://x/2")
	m1, m2, m3 := sha256Of("m1"), sha256Of("m2"), sha256Of("m3")
	for _, r := range []struct {
		repo name.Repository
		m    v1.Hash
		l    v1.Descriptor
	}{{ab, m1, l1}, {abc, m2, l2}, {abc, m3, l1}} {
		if err := x.Record(ctx, r.repo, r.m, []v1.Descriptor{r.l}); err != nil {
			t.Fatal(err)
		}
	}
	if err := x.Forget(ctx, abc, m2); err != nil {
		t.Fatal(err)
	}
	got := map[string]store.IndexRepository{}
	if err := x.Walk(ctx, func(r store.IndexRepository) error { got[r.Repo.String()] = r; return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("walked %d repositories, want 2: %v", len(got), got)
	}
	if r := got["a/b"]; !slices.Equal(r.Manifests, []v1.Hash{m1}) || !slices.Equal(r.Layers, []v1.Hash{l1.Digest}) {
		t.Errorf("a/b: %+v", r)
	}
	if r := got["a/b/c"]; !slices.Equal(r.Manifests, []v1.Hash{m3}) || !slices.Equal(r.Layers, []v1.Hash{l1.Digest}) {
		t.Errorf("a/b/c after forgetting m2: %+v", r)
	}
	n := 0
	if err := x.Walk(ctx, func(store.IndexRepository) error { n++; return store.ErrStop }); err != nil || n != 1 {
		t.Errorf("ErrStop: %d calls, %v", n, err)
	}
}

// List reports committed blobs with their sizes, and which are open.
func TestFSCacheList(t *testing.T) {
	t.Parallel()
	c := openCache(t, t.TempDir(), store.FSCacheOptions{MaxBytes: 1 << 20})
	a, b := putBlob(t, c, "aaa", "https://x/a"), putBlob(t, c, "bbbb", "https://x/b")
	open, err := c.Open(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	got := c.List()
	if len(got) != 2 {
		t.Fatalf("List: %v", got)
	}
	for _, e := range got {
		want := map[v1.Hash]store.CacheEntry{a: {Digest: a, Size: 3}, b: {Digest: b, Size: 4, InUse: true}}[e.Digest]
		if e.Size != want.Size || e.InUse != want.InUse || e.LastUse.IsZero() {
			t.Errorf("%s: %+v", e.Digest, e)
		}
	}
}
