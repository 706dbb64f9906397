package store_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/foreignlayers/fl/pkg/store"
)

func putBlob(t *testing.T, c store.Cache, content, source string) v1.Hash {
	t.Helper()
	d := sha256Of(content)
	w, err := c.Create(context.Background(), d, int64(len(content)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(w, content); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(context.Background(), source); err != nil {
		t.Fatal(err)
	}
	return d
}

func cached(t *testing.T, c store.Cache, d v1.Hash) bool {
	t.Helper()
	b, err := c.Open(context.Background(), d)
	if errors.Is(err, store.ErrNotFound) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	_ = b.Close()
	return true
}

// TestFSCacheLayout: blobs/ holds committed blobs only, each at
// blobs/ALG/XX/HEX with the content of its digest; the spool is empty
// once writers are done; the server can reach the file for sendfile.
func TestFSCacheLayout(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c := openCache(t, dir, store.FSCacheOptions{MaxBytes: 1 << 20})
	a := putBlob(t, c, "aaa", "https://x/a")
	putBlob(t, c, "aaa", "https://y/a")
	putBlob(t, c, "bbb", "https://x/b")
	w, err := c.Create(context.Background(), sha256Of("ccc"), 3)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.WriteString(w, "cc")

	files := 0
	err = filepath.WalkDir(filepath.Join(dir, "blobs"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		b, _ := os.ReadFile(p)
		h := sha256Of(string(b))
		if want := filepath.Join(dir, "blobs", "sha256", h.Hex[:2], h.Hex); p != want {
			t.Errorf("%s holds content of digest %s", p, h)
		}
		return nil
	})
	if err != nil || files != 2 {
		t.Errorf("blobs/ holds %d files (%v), want 2", files, err)
	}
	_ = w.Cancel()
	if entries, _ := os.ReadDir(filepath.Join(dir, "spool")); len(entries) != 0 {
		t.Errorf("the spool holds %d files after the writers finished", len(entries))
	}
	b, err := c.Open(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	f, ok := b.(interface{ OSFile() *os.File })
	if !ok {
		t.Fatal("the blob does not offer its *os.File")
	}
	if got, _ := io.ReadAll(f.OSFile()); string(got) != "aaa" {
		t.Errorf("OSFile reads %q", got)
	}
}

// TestFSCacheReopen: after a crash, the spool's leftovers are removed,
// files in blobs/ that are not blobs are not counted, the order of use is
// the blobs' modification times, and a cache over its new maximum
// evicts down to it.
func TestFSCacheReopen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var log bytes.Buffer
	o := store.FSCacheOptions{MaxBytes: 400, Logger: slog.New(slog.NewTextHandler(&log, nil))}
	c := openCache(t, dir, o)
	blobs := map[string]v1.Hash{}
	for _, s := range []string{"a", "b", "c"} {
		blobs[s] = putBlob(t, c, strings.Repeat(s, 100), "https://x/"+s)
	}
	if _, err := c.Create(context.Background(), sha256Of("x"), 1); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "blobs/sha256/zz"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"blobs/sha256/zz/not-a-blob", "blobs/sha256/" + blobs["a"].Hex, "blobs/README"} {
		if err := os.WriteFile(filepath.Join(dir, p), []byte("junk"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Used: b long ago, then c, then a.
	now := time.Now()
	for s, age := range map[string]time.Duration{"b": 3 * time.Hour, "c": 2 * time.Hour, "a": time.Hour} {
		p := filepath.Join(dir, "blobs", "sha256", blobs[s].Hex[:2], blobs[s].Hex)
		if err := os.Chtimes(p, now.Add(-age), now.Add(-age)); err != nil {
			t.Fatal(err)
		}
	}

	o.MaxBytes = 300
	c = openCache(t, dir, o)
	if entries, _ := os.ReadDir(filepath.Join(dir, "spool")); len(entries) != 0 {
		t.Errorf("the spool holds %d files after reopening", len(entries))
	}
	if s := c.Stats(); s.Blobs != 3 || s.Bytes != 300 || s.Reserved != 0 {
		t.Fatalf("Stats after reopening = %+v", s)
	}
	putBlob(t, c, "d", "https://x/d")
	if cached(t, c, blobs["b"]) || !cached(t, c, blobs["a"]) || !cached(t, c, blobs["c"]) {
		t.Error("b, the least recently used before the restart, should have been evicted")
	}
	if !strings.Contains(log.String(), "evicted") || !strings.Contains(log.String(), blobs["b"].String()) {
		t.Errorf("the eviction was not logged: %s", log.String())
	}
	// Open recorded the use of a (last persisted an hour ago) on disk.
	pa := filepath.Join(dir, "blobs", "sha256", blobs["a"].Hex[:2], blobs["a"].Hex)
	if fi, err := os.Stat(pa); err != nil || time.Since(fi.ModTime()) > 30*time.Minute {
		t.Errorf("the use of a was not recorded: %v", err)
	}

	// A smaller maximum evicts at open, least recently used first.
	blobs["d"] = sha256Of("d")
	for s, age := range map[string]time.Duration{"c": 2 * time.Hour, "d": time.Hour, "a": 0} {
		p := filepath.Join(dir, "blobs", "sha256", blobs[s].Hex[:2], blobs[s].Hex)
		if err := os.Chtimes(p, now.Add(-age), now.Add(-age)); err != nil {
			t.Fatal(err)
		}
	}
	o.MaxBytes = 150
	c = openCache(t, dir, o)
	if s := c.Stats(); s.Blobs != 2 || s.Bytes != 101 || s.Evicted != 1 {
		t.Errorf("Stats after reopening smaller = %+v", s)
	}
	if cached(t, c, blobs["c"]) || !cached(t, c, blobs["a"]) || !cached(t, c, blobs["d"]) {
		t.Error("c, the least recently used blob, should have been evicted")
	}
}

func TestFSCacheOptions(t *testing.T) {
	t.Parallel()
	for _, o := range []store.FSCacheOptions{{}, {MaxBytes: -1}, {MaxBytes: 1, MinFree: -1}} {
		if _, err := store.OpenFSCache(t.TempDir(), o); err == nil {
			t.Errorf("OpenFSCache accepted %+v", o)
		}
	}
	// All of the filesystem is too much to keep free.
	c := openCache(t, t.TempDir(), store.FSCacheOptions{MaxBytes: 1 << 40, MinFree: 1 << 62})
	if _, err := c.Create(context.Background(), sha256Of("x"), 1); !errors.Is(err, store.ErrTooLarge) || !strings.Contains(err.Error(), "free") {
		t.Errorf("Create beyond the free space: %v, want ErrTooLarge naming the free space", err)
	}
}
