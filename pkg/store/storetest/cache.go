package storetest

import (
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/foreignlayers/fl/pkg/store"
)

// cacheUnderTest is a cache, its capacity, and the way to open its
// storage again.
type cacheUnderTest struct {
	store.Cache
	max    int64
	reopen func(t *testing.T) store.Cache
}

type cacheTest = struct {
	name string
	f    func(t *testing.T, c cacheUnderTest)
}

// suiteMax is the capacity of the caches the suite makes: room for three
// blobs of blobSize bytes.
const (
	blobSize = 100
	suiteMax = 3 * blobSize
)

// TestCache runs the Cache suite.
func TestCache(t *testing.T, newCache NewCache) {
	run(t, []cacheTest{
		{"WriteCommitOpen", cacheWriteCommitOpen},
		{"CreateRefusals", cacheCreateRefusals},
		{"WritePastReservation", cacheWritePastReservation},
		{"CommitExistingAddsSource", cacheCommitExisting},
		{"Cancel", cacheCancel},
		{"Remove", cacheRemove},
		{"EvictLeastRecentlyOpened", cacheEvictOrder},
		{"NeverEvictInUse", cacheNeverEvictInUse},
		{"CancelEvictsNothing", cacheCancelEvictsNothing},
		{"CommitEvictsMarked", cacheCommitEvictsMarked},
		{"RoomChangesNothing", cacheRoom},
		{"ReopenAfterCrash", cacheReopenAfterCrash},
		{"Concurrent", cacheConcurrent},
	}, func(t *testing.T) cacheUnderTest {
		c, reopen := newCache(t, CacheOptions{MaxBytes: suiteMax})
		return cacheUnderTest{c, suiteMax, reopen}
	})
}

// content returns blobSize bytes named by s.
func content(s string) string {
	return s + strings.Repeat(".", blobSize-len(s))
}

// put writes and commits content.
func put(t *testing.T, c store.Cache, content, source string) {
	t.Helper()
	w, err := c.Create(ctx, digest(content), int64(len(content)))
	if err != nil {
		t.Fatalf("Create(%.10q): %v", content, err)
	}
	if _, err := io.WriteString(w, content); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx, source); err != nil {
		t.Fatal(err)
	}
}

// get reads the blob of content and checks it.
func get(t *testing.T, c store.Cache, content string) store.Blob {
	t.Helper()
	b, err := c.Open(ctx, digest(content))
	if err != nil {
		t.Fatalf("Open(%.10q): %v", content, err)
	}
	t.Cleanup(func() { _ = b.Close() })
	got, err := io.ReadAll(b)
	if err != nil || string(got) != content || b.Size() != int64(len(content)) {
		t.Fatalf("Open(%.10q): read %.10q (size %d), %v", content, got, b.Size(), err)
	}
	return b
}

// has reports whether the blob of content is cached (which counts as a
// use).
func has(t *testing.T, c store.Cache, content string) bool {
	t.Helper()
	b, err := c.Open(ctx, digest(content))
	if errors.Is(err, store.ErrNotFound) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	_ = b.Close()
	return true
}

func wantStats(t *testing.T, c cacheUnderTest, blobs int, bytes, reserved int64) {
	t.Helper()
	s := c.Stats()
	if s.Blobs != blobs || s.Bytes != bytes || s.Reserved != reserved || s.Max != c.max {
		t.Fatalf("Stats = %+v, want %d blobs, %d bytes, %d reserved, max %d", s, blobs, bytes, reserved, c.max)
	}
}

func cacheWriteCommitOpen(t *testing.T, c cacheUnderTest) {
	const text = "blob content"
	d := digest(text)
	if _, err := c.Open(ctx, d); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Open in an empty cache: %v", err)
	}
	wantStats(t, c, 0, 0, 0)
	w, err := c.Create(ctx, d, int64(len(text)))
	if err != nil {
		t.Fatal(err)
	}
	wantStats(t, c, 0, 0, int64(len(text)))
	follower, err := w.NewReader()
	if err != nil {
		t.Fatal(err)
	}
	defer follower.Close()
	buf := make([]byte, len(text))
	if n, err := follower.ReadAt(buf, 0); n != 0 || err != io.EOF {
		t.Errorf("reading an empty spool: %d, %v; want 0, EOF", n, err)
	}
	_, _ = io.WriteString(w, text[:5])
	if n, err := follower.ReadAt(buf, 0); n != 5 || err != io.EOF || string(buf[:5]) != text[:5] {
		t.Errorf("reading a growing spool: %d %q, %v", n, buf[:n], err)
	}
	_, _ = io.WriteString(w, text[5:])
	if _, err := c.Open(ctx, d); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a blob is visible before Commit: %v", err)
	}
	if err := w.Commit(ctx, "https://a/x"); err != nil {
		t.Fatal(err)
	}
	wantStats(t, c, 1, int64(len(text)), 0)
	// The follower reads on through the rename.
	if n, err := follower.ReadAt(buf, 0); n != len(text) || string(buf) != text {
		t.Errorf("follower after Commit: %q, %v", buf[:n], err)
	}
	b := get(t, c, text)
	if src := b.Sources(); !slices.Equal(src, []string{"https://a/x"}) {
		t.Errorf("Sources = %q", src)
	}
	if b.ModTime().IsZero() {
		t.Error("zero ModTime")
	}
	if _, err := b.Seek(5, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if rest, _ := io.ReadAll(b); string(rest) != text[5:] {
		t.Errorf("read after Seek: %q", rest)
	}
	if n, _ := b.ReadAt(buf[:4], 8); string(buf[:n]) != text[8:] {
		t.Errorf("ReadAt: %q", buf[:n])
	}
	// The writer is done.
	if _, err := io.WriteString(w, "x"); err == nil {
		t.Error("Write after Commit succeeded")
	}
	if err := w.Commit(ctx, "https://a/x"); err == nil {
		t.Error("a second Commit succeeded")
	}
	if err := w.Cancel(); err != nil {
		t.Errorf("Cancel after Commit: %v", err)
	}
	get(t, c, text)
	// An empty blob is a blob.
	put(t, c, "", "https://a/empty")
	get(t, c, "")
}

func cacheCreateRefusals(t *testing.T, c cacheUnderTest) {
	if _, err := c.Create(ctx, digest("x"), -1); err == nil {
		t.Error("Create accepted a negative size")
	}
	_, err := c.Create(ctx, digest("x"), c.max+1)
	if !errors.Is(err, store.ErrTooLarge) {
		t.Fatalf("Create of more than the capacity: %v, want ErrTooLarge", err)
	}
	for _, n := range []int64{c.max + 1, c.max} {
		if !strings.Contains(err.Error(), strconv.FormatInt(n, 10)) {
			t.Errorf("the error does not say %d: %v", n, err)
		}
	}
	for _, h := range badDigests {
		if w, err := c.Create(ctx, h, 1); err == nil {
			_ = w.Cancel()
			t.Errorf("Create accepted the digest %q", h)
		}
	}
	wantStats(t, c, 0, 0, 0)
}
