package storetest

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/foreignlayers/fl/pkg/store"
)

func cacheWritePastReservation(t *testing.T, c cacheUnderTest) {
	w, err := c.Create(ctx, digest("hell"), 4)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := io.WriteString(w, "hello"); err == nil || n > 4 {
		t.Errorf("writing 5 bytes into 4 reserved: %d, %v", n, err)
	}
	if n, err := io.WriteString(w, "hell"); err != nil || n != 4 {
		t.Fatalf("writing the reserved bytes: %d, %v", n, err)
	}
	if _, err := io.WriteString(w, "o"); err == nil {
		t.Error("a byte past the reservation was accepted")
	}
	if err := w.Commit(ctx, "https://a/hell"); err != nil {
		t.Fatal(err)
	}
	get(t, c, "hell")

	// A short blob cannot be committed.
	w, err = c.Create(ctx, digest("short"), 5)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.WriteString(w, "sh")
	if err := w.Commit(ctx, "https://a/short"); err == nil {
		t.Error("committed 2 bytes of 5")
	}
	_ = w.Cancel()
	if has(t, c, "short") {
		t.Error("a short blob is visible")
	}
	wantStats(t, c, 1, 4, 0)
}

func cacheCommitExisting(t *testing.T, c cacheUnderTest) {
	text := content("a")
	put(t, c, text, "https://a/1")
	put(t, c, text, "https://b/1")
	wantStats(t, c, 1, blobSize, 0)
	if src := get(t, c, text).Sources(); !slices.Equal(src, []string{"https://a/1", "https://b/1"}) {
		t.Errorf("Sources = %q", src)
	}
	put(t, c, text, "https://a/1") // seen again: newest
	if src := get(t, c, text).Sources(); !slices.Equal(src, []string{"https://b/1", "https://a/1"}) {
		t.Errorf("Sources = %q", src)
	}
	// Two writers of one digest at once: one blob, both sources.
	w1, err1 := c.Create(ctx, digest(text), blobSize)
	w2, err2 := c.Create(ctx, digest(text), blobSize)
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	_, _ = io.WriteString(w1, text)
	_, _ = io.WriteString(w2, text)
	if err := errors.Join(w2.Commit(ctx, "https://w/2"), w1.Commit(ctx, "https://w/1")); err != nil {
		t.Fatal(err)
	}
	wantStats(t, c, 1, blobSize, 0)
	// At most 32, newest last.
	for i := range 40 {
		put(t, c, text, fmt.Sprint("https://m/", i))
	}
	src := get(t, c, text).Sources()
	if len(src) != 32 || src[31] != "https://m/39" || src[0] != "https://m/8" {
		t.Errorf("after 40 more sources: %d, %q", len(src), src)
	}
	// The caller cannot change them.
	src[0] = "https://evil/"
	if get(t, c, text).Sources()[0] != "https://m/8" {
		t.Error("Sources aliases the cache")
	}
}

func cacheCancel(t *testing.T, c cacheUnderTest) {
	big := strings.Repeat("b", int(c.max))
	w, err := c.Create(ctx, digest(big), c.max)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.WriteString(w, big[:10])
	wantStats(t, c, 0, 0, c.max)
	if w2, err := c.Create(ctx, digest("small"), 5); !errors.Is(err, store.ErrNoSpace) {
		if w2 != nil {
			_ = w2.Cancel()
		}
		t.Fatalf("Create while a writer holds the whole capacity: %v, want ErrNoSpace", err)
	}
	if err := w.Cancel(); err != nil {
		t.Fatal(err)
	}
	if err := w.Cancel(); err != nil {
		t.Errorf("a second Cancel: %v", err)
	}
	if err := w.Commit(ctx, "https://a/big"); err == nil {
		t.Error("Commit after Cancel succeeded")
	}
	if _, err := w.NewReader(); err == nil {
		t.Error("NewReader after Cancel succeeded")
	}
	wantStats(t, c, 0, 0, 0)
	if has(t, c, big) {
		t.Error("a cancelled blob is visible")
	}
	put(t, c, "small", "https://a/small")
}

func cacheRemove(t *testing.T, c cacheUnderTest) {
	a, b := content("a"), content("b")
	if err := c.Remove(ctx, digest(a)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Remove of an unknown blob: %v, want ErrNotFound", err)
	}
	put(t, c, a, "https://a/a")
	r, err := c.Open(ctx, digest(a))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Remove(ctx, digest(a)); !errors.Is(err, store.ErrInUse) {
		t.Fatalf("Remove of an open blob: %v, want ErrInUse", err)
	}
	_ = r.Close()
	_ = r.Close() // twice is harmless
	if err := c.Remove(ctx, digest(a)); err != nil {
		t.Fatal(err)
	}
	if has(t, c, a) {
		t.Error("a removed blob is visible")
	}
	wantStats(t, c, 0, 0, 0)
	if err := c.Remove(ctx, digest(a)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Remove again: %v, want ErrNotFound", err)
	}

	// Being written again (for another source) is in use too.
	put(t, c, b, "https://a/b")
	w, err := c.Create(ctx, digest(b), blobSize)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Remove(ctx, digest(b)); !errors.Is(err, store.ErrInUse) {
		t.Fatalf("Remove while being written: %v, want ErrInUse", err)
	}
	_ = w.Cancel()
	if err := c.Remove(ctx, digest(b)); err != nil {
		t.Fatal(err)
	}
	if err := c.Remove(ctx, v1.Hash{Algorithm: "sha256", Hex: "../../x"}); err == nil {
		t.Error("Remove accepted a bad digest")
	}
}
