// Package storetest is the suite every store.Index and store.Cache
// implementation must pass.
package storetest

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/foreignlayers/fl/pkg/store"
)

func hash(s string) v1.Hash {
	h, _, _ := v1.SHA256(strings.NewReader(s))
	return h
}

// TestIndex runs the Index suite. reopen returns the index as a new
// process would see it, over the same storage.
func TestIndex(t *testing.T, open func(t *testing.T) store.Index, reopen func(t *testing.T) store.Index) {
	ctx := context.Background()
	x := open(t)
	d := v1.Descriptor{MediaType: "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", Size: 3, Digest: hash("abc"), URLs: []string{"https://a/x"}}
	if _, err := x.Lookup(ctx, "lib/ubuntu", d.Digest); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("empty index: %v", err)
	}
	if err := x.Record(ctx, "lib/ubuntu", []v1.Descriptor{d}); err != nil {
		t.Fatal(err)
	}
	got, err := x.Lookup(ctx, "lib/ubuntu", d.Digest)
	if err != nil || got.Size != 3 || got.URLs[0] != "https://a/x" || got.MediaType != d.MediaType {
		t.Fatalf("lookup = %+v, %v", got, err)
	}
	if _, err := x.Lookup(ctx, "other", d.Digest); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an index entry leaked to another repository: %v", err)
	}
	// Another manifest names a mirror: the URLs merge, in order.
	d2 := d
	d2.URLs = []string{"https://b/x", "https://a/x"}
	if err := x.Record(ctx, "lib/ubuntu", []v1.Descriptor{d2}); err != nil {
		t.Fatal(err)
	}
	got, _ = x.Lookup(ctx, "lib/ubuntu", d.Digest)
	if len(got.URLs) != 2 || got.URLs[0] != "https://a/x" || got.URLs[1] != "https://b/x" {
		t.Errorf("merged urls = %v", got.URLs)
	}
	// The caller cannot change the index through what it got.
	got.URLs[0] = "https://evil/"
	again, _ := x.Lookup(ctx, "lib/ubuntu", d.Digest)
	if again.URLs[0] != "https://a/x" {
		t.Errorf("lookup result aliases the index")
	}
	// It survives a restart.
	y := reopen(t)
	got, err = y.Lookup(ctx, "lib/ubuntu", d.Digest)
	if err != nil || len(got.URLs) != 2 {
		t.Errorf("after reopening: %+v, %v", got, err)
	}
}

// TestCache runs the Cache suite.
func TestCache(t *testing.T, open func(t *testing.T) store.Cache) {
	ctx := context.Background()
	c := open(t)
	d := hash("blob content")
	if _, err := c.Open(ctx, d); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("empty cache: %v", err)
	}
	f, err := os.CreateTemp(c.SpoolDir(), "spool-")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString("blob content")
	_ = f.Close()
	if _, err := c.Open(ctx, d); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a spooled blob is visible before commit")
	}
	if err := c.Commit(ctx, d, f.Name()); err != nil {
		t.Fatal(err)
	}
	b, err := c.Open(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Size() != int64(len("blob content")) {
		t.Errorf("size %d", b.Size())
	}
	if _, err := b.Seek(5, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(b)
	if string(rest) != "content" {
		t.Errorf("read after seek: %q", rest)
	}
	if err := c.Commit(ctx, hash("x"), "/etc/passwd"); err == nil {
		t.Errorf("committed a file from outside the spool directory")
	}
}
