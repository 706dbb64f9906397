package store_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/foreignlayers/fl/pkg/name"
	"github.com/foreignlayers/fl/pkg/store"
)

func foreignDesc(content string, urls ...string) v1.Descriptor {
	return v1.Descriptor{MediaType: "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", Size: int64(len(content)), Digest: sha256Of(content), URLs: urls}
}

func TestFSIndexRemovesStrayTemporaryFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	openIndex(t, dir)
	stray := filepath.Join(dir, "_tmp", "w-123")
	if err := os.WriteFile(stray, []byte("{half"), 0o644); err != nil {
		t.Fatal(err)
	}
	openIndex(t, dir)
	if _, err := os.Stat(stray); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a stray temporary file survived opening: %v", err)
	}
}

// TestFSIndexOpensWithoutReading: a large index, with one damaged entry,
// opens without reading it; the damage shows only when that entry is
// looked up. The tree holds 100,000 entries (1,000 with -short).
func TestFSIndexOpensWithoutReading(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	repo := name.MustRepository("big/repo")
	x := openIndex(t, dir)
	good := foreignDesc("good", "https://a/good")
	if err := x.Record(ctx, repo, sha256Of("m"), []v1.Descriptor{good}); err != nil {
		t.Fatal(err)
	}
	n := 100_000
	if testing.Short() {
		n = 1000
	}
	// Hard links to one entry: the tree is large, and cheap to make.
	// Filesystems cap the links to one file: a new source every 50,000.
	layers := filepath.Join(dir, "_v1", "big", "repo", "_layers", "sha256")
	entry, err := os.ReadFile(filepath.Join(layers, good.Digest.Hex+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var src string
	for i := range n {
		p := filepath.Join(layers, fmt.Sprintf("%064x.json", i))
		if i%50_000 == 0 {
			src = p
			err = os.WriteFile(p, entry, 0o644)
		} else {
			err = os.Link(src, p)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	damaged := sha256Of("damaged")
	if err := os.WriteFile(filepath.Join(layers, damaged.Hex+".json"), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}

	y := openIndex(t, dir)
	got, err := y.Lookup(ctx, repo, good.Digest)
	if err != nil || got.Size != good.Size {
		t.Fatalf("Lookup after reopening: %+v, %v", got, err)
	}
	// An entry must hold the digest of its name.
	if _, err := y.Lookup(ctx, repo, v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%064x", 7)}); err == nil {
		t.Error("Lookup of an entry holding another digest succeeded")
	}
	// A torn entry (a power loss between its write and the sync) reads as
	// absent, and the next Record writes it again.
	if _, err := y.Lookup(ctx, repo, damaged); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Lookup of a damaged entry: %v, want ErrNotFound", err)
	}
	d := foreignDesc("damaged", "https://a/damaged")
	d.Digest = damaged
	if err := y.Record(ctx, repo, sha256Of("m-again"), []v1.Descriptor{d}); err != nil {
		t.Fatalf("Record over a damaged entry: %v", err)
	}
	if got, err := y.Lookup(ctx, repo, damaged); err != nil || got.URLs[0] != "https://a/damaged" {
		t.Errorf("after Record: %+v, %v", got, err)
	}
}

// TestFSIndexStaysInItsDirectory: whatever the names, every file the
// index writes is where the layout says, and no temporary file stays.
func TestFSIndexStaysInItsDirectory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	parent := t.TempDir()
	dir := filepath.Join(parent, "index")
	x := openIndex(t, dir)
	for _, r := range []string{"a", "a/b", "a/b/c", "x-1/y.2/z__3", strings.Repeat("l", 255)} {
		repo := name.MustRepository(r)
		if err := x.Record(ctx, repo, sha256Of("m"+r), []v1.Descriptor{foreignDesc("l"+r, "https://a/"+r)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, bad := range []v1.Hash{{Algorithm: "sha256", Hex: "../../../../escape"}, {Algorithm: "../../escape", Hex: "00"}} {
		d := foreignDesc("x", "https://a/x")
		d.Digest = bad
		_ = x.Record(ctx, name.MustRepository("a"), sha256Of("m"), []v1.Descriptor{d})
		_ = x.Record(ctx, name.MustRepository("a"), bad, []v1.Descriptor{foreignDesc("x", "https://a/x")})
		_ = x.Forget(ctx, name.MustRepository("a"), bad)
		_ = x.Remove(ctx, name.MustRepository("a"), bad)
	}
	if entries, _ := os.ReadDir(parent); len(entries) != 1 {
		t.Errorf("the parent directory holds %d entries", len(entries))
	}
	files := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		rel, _ := filepath.Rel(dir, p)
		parts := strings.Split(filepath.ToSlash(rel), "/")
		n := len(parts)
		if n < 5 || parts[0] != "_v1" || parts[n-3] != "_layers" && parts[n-3] != "_manifests" || parts[n-2] != "sha256" {
			t.Errorf("unexpected file %s", rel)
		} else if _, err := name.ParseRepository(strings.Join(parts[1:n-3], "/")); err != nil {
			t.Errorf("unexpected file %s: %v", rel, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files != 10 {
		t.Errorf("%d files, want 10 (5 layers, 5 manifests)", files)
	}
}

// FuzzFSIndexPaths feeds request text, as a route would, to the index:
// whatever a client names, every file the index writes stays under its
// directory, at a path built from a valid repository and a sha256 digest.
func FuzzFSIndexPaths(f *testing.F) {
	for _, s := range []string{"a/b", "../x", "a/../../b", "a%2F..", "A", "a//b", "a/./b", "x/_v1", strings.Repeat("a/", 130)} {
		f.Add(s, "sha256:"+strings.Repeat("0", 64))
	}
	f.Add("a", "sha256:../../x")
	f.Fuzz(func(t *testing.T, repo, digest string) {
		parent := t.TempDir()
		dir := filepath.Join(parent, "index")
		x := openIndex(t, dir)
		r, err := name.ParseRepository(repo)
		if err != nil {
			return // the route refuses it before the index sees it
		}
		ctx := context.Background()
		d := foreignDesc("l", "https://a/x")
		if h, err := v1.NewHash(digest); err == nil {
			d.Digest = h
		}
		_ = x.Record(ctx, r, sha256Of(repo), []v1.Descriptor{d})
		_, _ = x.Lookup(ctx, r, d.Digest)
		_ = x.Forget(ctx, r, sha256Of(repo))
		_ = x.Remove(ctx, r, d.Digest)
		if entries, _ := os.ReadDir(parent); len(entries) != 1 {
			t.Fatalf("%q %q: the parent directory holds %d entries", repo, digest, len(entries))
		}
		_ = filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
			if err == nil && !e.IsDir() {
				rel, _ := filepath.Rel(dir, p)
				if strings.HasPrefix(rel, "..") || strings.Contains(rel, "/../") {
					t.Fatalf("%q %q: file outside the index: %s", repo, digest, p)
				}
			}
			return nil
		})
	})
}
