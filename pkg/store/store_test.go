package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/foreignlayers/fl/pkg/name"
	"github.com/foreignlayers/fl/pkg/store"
	"github.com/foreignlayers/fl/pkg/store/storetest"
)

func TestFSIndex(t *testing.T) {
	t.Parallel()
	storetest.TestIndex(t, func(t *testing.T) (store.Index, func(*testing.T) store.Index) {
		dir := t.TempDir()
		return openIndex(t, dir), func(t *testing.T) store.Index { return openIndex(t, dir) }
	})
}

func TestFSCache(t *testing.T) {
	t.Parallel()
	storetest.TestCache(t, func(t *testing.T, o storetest.CacheOptions) (store.Cache, func(*testing.T) store.Cache) {
		dir := t.TempDir()
		fo := store.FSCacheOptions{MaxBytes: o.MaxBytes}
		return openCache(t, dir, fo), func(t *testing.T) store.Cache { return openCache(t, dir, fo) }
	})
}

func openIndex(t testing.TB, dir string) *store.FSIndex {
	t.Helper()
	x, err := store.OpenFSIndex(dir)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func openCache(t testing.TB, dir string, o store.FSCacheOptions) *store.FSCache {
	t.Helper()
	c, err := store.OpenFSCache(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func sha256Of(s string) v1.Hash {
	h, _, _ := v1.SHA256(strings.NewReader(s))
	return h
}

// BenchmarkFSIndexLookup measures the warm path: a lookup the index
// answers from memory, as every request for a foreign blob does.
func BenchmarkFSIndexLookup(b *testing.B) {
	ctx := context.Background()
	x := openIndex(b, b.TempDir())
	repo := name.MustRepository("lib/ubuntu")
	var digests []v1.Hash
	for i := range 64 {
		d := v1.Descriptor{MediaType: "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", Size: 1 << 20,
			Digest: sha256Of(fmt.Sprint("layer ", i)), URLs: []string{"https://mirror.example.com/layer", "https://other.example.com/layer"}}
		if err := x.Record(ctx, repo, sha256Of(fmt.Sprint("manifest ", i)), []v1.Descriptor{d}); err != nil {
			b.Fatal(err)
		}
		digests = append(digests, d.Digest)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := x.Lookup(ctx, repo, digests[i%len(digests)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

// BenchmarkFSCacheOpen measures opening and closing a cached blob, as
// every request served from the cache does.
func BenchmarkFSCacheOpen(b *testing.B) {
	ctx := context.Background()
	c := openCache(b, b.TempDir(), store.FSCacheOptions{MaxBytes: 1 << 20})
	d := sha256Of("content")
	w, err := c.Create(ctx, d, 7)
	if err != nil {
		b.Fatal(err)
	}
	_, _ = w.Write([]byte("content"))
	if err := w.Commit(ctx, "https://x/content"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		blob, err := c.Open(ctx, d)
		if err != nil {
			b.Fatal(err)
		}
		_ = blob.Close()
	}
}
