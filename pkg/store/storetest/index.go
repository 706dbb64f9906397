package storetest

import (
	"errors"
	"slices"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/foreignlayers/fl/pkg/name"
	"github.com/foreignlayers/fl/pkg/store"
)

// indexUnderTest is an index and the way to open its storage again.
type indexUnderTest struct {
	store.Index
	reopen func(t *testing.T) store.Index
}

type indexTest = struct {
	name string
	f    func(t *testing.T, x indexUnderTest)
}

// TestIndex runs the Index suite.
func TestIndex(t *testing.T, newIndex NewIndex) {
	run(t, []indexTest{
		{"RecordLookup", indexRecordLookup},
		{"MergeURLs", indexMergeURLs},
		{"Conflict", indexConflict},
		{"Forget", indexForget},
		{"RecordAfterForget", indexRecordAfterForget},
		{"Remove", indexRemove},
		{"Reopen", indexReopen},
		{"BadInputs", indexBadInputs},
		{"Concurrent", indexConcurrent},
		{"Views", indexViews},
	}, func(t *testing.T) indexUnderTest {
		x, reopen := newIndex(t)
		return indexUnderTest{x, reopen}
	})
}

// lookup fails the test unless repo knows digest with these URLs.
func lookup(t *testing.T, x store.Index, repo name.Repository, d v1.Descriptor, urls ...string) {
	t.Helper()
	got, err := x.Lookup(ctx, repo, d.Digest)
	if err != nil {
		t.Fatalf("Lookup(%s, %s): %v", repo, d.Digest, err)
	}
	if got.Digest != d.Digest || got.Size != d.Size || got.MediaType != d.MediaType || !slices.Equal(got.URLs, urls) {
		t.Fatalf("Lookup(%s, %s) = %+v, want size %d, media type %s, urls %q", repo, d.Digest, got, d.Size, d.MediaType, urls)
	}
}

// absent fails the test unless repo does not know digest.
func absent(t *testing.T, x store.Index, repo name.Repository, digest v1.Hash) {
	t.Helper()
	if got, err := x.Lookup(ctx, repo, digest); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Lookup(%s, %s) = %+v, %v; want ErrNotFound", repo, digest, got, err)
	}
}

func record(t *testing.T, x store.Index, repo name.Repository, m v1.Hash, descs ...v1.Descriptor) {
	t.Helper()
	if err := x.Record(ctx, repo, m, descs); err != nil {
		t.Fatalf("Record(%s, %s): %v", repo, m, err)
	}
}

func forget(t *testing.T, x store.Index, repo name.Repository, m v1.Hash) {
	t.Helper()
	if err := x.Forget(ctx, repo, m); err != nil {
		t.Fatalf("Forget(%s, %s): %v", repo, m, err)
	}
}

func indexRecordLookup(t *testing.T, x indexUnderTest) {
	d := desc("abc", "https://a/x", "https://a/x", "https://b/x")
	absent(t, x, repoA, d.Digest)
	record(t, x, repoA, manifest(1), d)
	lookup(t, x, repoA, d, "https://a/x", "https://b/x")
	absent(t, x, repoB, d.Digest) // a repository sees only its own
	absent(t, x, repoC, d.Digest) // "lib" is not "lib/ubuntu"

	// The caller cannot change the index through what it got or gave.
	got, _ := x.Lookup(ctx, repoA, d.Digest)
	got.URLs[0] = "https://evil/"
	d.URLs[0] = "https://evil/"
	lookup(t, x, repoA, desc("abc"), "https://a/x", "https://b/x")

	// Recording the same again changes nothing.
	record(t, x, repoA, manifest(1), desc("abc", "https://a/x", "https://b/x"))
	lookup(t, x, repoA, desc("abc"), "https://a/x", "https://b/x")

	// A manifest without foreign layers is no error.
	record(t, x, repoA, manifest(2))
	forget(t, x, repoA, manifest(2))
	lookup(t, x, repoA, desc("abc"), "https://a/x", "https://b/x")
}

func indexMergeURLs(t *testing.T, x indexUnderTest) {
	d := desc("abc")
	record(t, x, repoA, manifest(1), desc("abc", "https://a/x"))
	record(t, x, repoA, manifest(2), desc("abc", "https://b/x", "https://a/x"))
	lookup(t, x, repoA, d, "https://a/x", "https://b/x")
	record(t, x, repoA, manifest(3), desc("abc", "https://c/x"), desc("abc", "https://b/x", "https://d/x"))
	lookup(t, x, repoA, d, "https://a/x", "https://b/x", "https://c/x", "https://d/x")
	// Another repository's URLs do not mix in.
	record(t, x, repoB, manifest(1), desc("abc", "https://evil/x"))
	lookup(t, x, repoA, d, "https://a/x", "https://b/x", "https://c/x", "https://d/x")
	lookup(t, x, repoB, d, "https://evil/x")
}

func indexConflict(t *testing.T, x indexUnderTest) {
	record(t, x, repoA, manifest(1), desc("abc", "https://a/x"))
	liar := desc("abcd", "https://evil/x")
	liar.Digest = digest("abc") // size 4
	other := desc("new", "https://a/new")
	err := x.Record(ctx, repoA, manifest(2), []v1.Descriptor{other, liar})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("Record of a known digest with another size: %v, want ErrConflict", err)
	}
	absent(t, x, repoA, other.Digest) // nothing of the call was recorded
	lookup(t, x, repoA, desc("abc"), "https://a/x")
	forget(t, x, repoA, manifest(2))
	lookup(t, x, repoA, desc("abc"), "https://a/x")

	// Two sizes for one digest in one call.
	f1, f2 := desc("fff", "https://a/f"), desc("ffff", "https://a/f")
	f2.Digest = f1.Digest
	if err := x.Record(ctx, repoA, manifest(3), []v1.Descriptor{other, f1, f2}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("Record of one digest with two sizes: %v, want ErrConflict", err)
	}
	absent(t, x, repoA, f1.Digest)
	absent(t, x, repoA, other.Digest)

	// Another repository may know the digest with another size.
	record(t, x, repoB, manifest(2), liar)
	lookup(t, x, repoB, liar, "https://evil/x")
	lookup(t, x, repoA, desc("abc"), "https://a/x")
}

func indexForget(t *testing.T, x indexUnderTest) {
	shared, only1 := desc("shared"), desc("only1")
	record(t, x, repoA, manifest(1), desc("shared", "https://a/s"), desc("only1", "https://a/1"))
	record(t, x, repoA, manifest(2), desc("shared", "https://b/s"))
	record(t, x, repoB, manifest(1), desc("only1", "https://a/1"))
	lookup(t, x, repoA, shared, "https://a/s", "https://b/s")

	forget(t, x, repoA, manifest(1))
	absent(t, x, repoA, only1.Digest)
	lookup(t, x, repoA, shared, "https://b/s") // kept, without the forgotten manifest's URLs
	lookup(t, x, repoB, only1, "https://a/1")  // another repository keeps its own

	forget(t, x, repoA, manifest(1))  // again
	forget(t, x, repoA, manifest(99)) // never recorded
	forget(t, x, repoC, manifest(2))  // another repository's manifest
	lookup(t, x, repoA, shared, "https://b/s")

	forget(t, x, repoA, manifest(2))
	absent(t, x, repoA, shared.Digest)
}

func indexRecordAfterForget(t *testing.T, x indexUnderTest) {
	d := desc("abc")
	record(t, x, repoA, manifest(1), desc("abc", "https://a/x"))
	forget(t, x, repoA, manifest(1))
	absent(t, x, repoA, d.Digest)
	record(t, x, repoA, manifest(1), desc("abc", "https://a/x"))
	lookup(t, x, repoA, d, "https://a/x")
	// The size may change once no manifest declares the digest.
	forget(t, x, repoA, manifest(1))
	bigger := desc("abcd", "https://a/y")
	bigger.Digest = d.Digest
	record(t, x, repoA, manifest(2), bigger)
	lookup(t, x, repoA, bigger, "https://a/y")
	forget(t, x, repoA, manifest(2))
	absent(t, x, repoA, d.Digest)
}

func indexRemove(t *testing.T, x indexUnderTest) {
	d, e := desc("d"), desc("e")
	if err := x.Remove(ctx, repoA, d.Digest); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Remove of an unknown digest: %v, want ErrNotFound", err)
	}
	record(t, x, repoA, manifest(1), desc("d", "https://a/d"), desc("e", "https://a/e"))
	record(t, x, repoB, manifest(1), desc("d", "https://a/d"))
	if err := x.Remove(ctx, repoA, d.Digest); err != nil {
		t.Fatal(err)
	}
	absent(t, x, repoA, d.Digest)
	lookup(t, x, repoA, e, "https://a/e")
	lookup(t, x, repoB, d, "https://a/d")
	if err := x.Remove(ctx, repoA, d.Digest); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Remove again: %v, want ErrNotFound", err)
	}
	// Forgetting the manifest that declared it does not bring it back.
	forget(t, x, repoA, manifest(1))
	absent(t, x, repoA, d.Digest)
	absent(t, x, repoA, e.Digest)
	lookup(t, x, repoB, d, "https://a/d")
}

func indexReopen(t *testing.T, x indexUnderTest) {
	shared, gone, removed := desc("shared"), desc("gone"), desc("removed")
	record(t, x, repoA, manifest(1), desc("shared", "https://a/s"), desc("gone", "https://a/g"))
	record(t, x, repoA, manifest(2), desc("shared", "https://b/s"), desc("removed", "https://a/r"))
	record(t, x, repoB, manifest(3), desc("shared", "https://c/s"))
	forget(t, x, repoA, manifest(1))
	if err := x.Remove(ctx, repoA, removed.Digest); err != nil {
		t.Fatal(err)
	}

	y := x.reopen(t)
	lookup(t, y, repoA, shared, "https://b/s")
	lookup(t, y, repoB, shared, "https://c/s")
	absent(t, y, repoA, gone.Digest)
	absent(t, y, repoA, removed.Digest)
	// What the manifests declared survived too: Forget still knows.
	forget(t, y, repoA, manifest(2))
	absent(t, y, repoA, shared.Digest)
	lookup(t, y, repoB, shared, "https://c/s")
	if err := y.Record(ctx, repoB, manifest(4), []v1.Descriptor{desc("sharedX", "https://x")}); err != nil {
		t.Fatal(err)
	}
	bad := desc("shared!", "https://evil/")
	bad.Digest = shared.Digest
	if err := y.Record(ctx, repoB, manifest(5), []v1.Descriptor{bad}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("after reopening, a conflicting size: %v, want ErrConflict", err)
	}
}

func indexBadInputs(t *testing.T, x indexUnderTest) {
	d := desc("abc", "https://a/x")
	var zero name.Repository
	if err := x.Record(ctx, zero, manifest(1), []v1.Descriptor{d}); err == nil {
		t.Error("Record accepted the zero repository")
	}
	if _, err := x.Lookup(ctx, zero, d.Digest); err == nil {
		t.Error("Lookup accepted the zero repository")
	}
	if err := x.Forget(ctx, zero, manifest(1)); err == nil {
		t.Error("Forget accepted the zero repository")
	}
	if err := x.Remove(ctx, zero, d.Digest); err == nil {
		t.Error("Remove accepted the zero repository")
	}
	for _, h := range badDigests {
		bad := desc("bad", "https://a/bad")
		bad.Digest = h
		if err := x.Record(ctx, repoA, manifest(1), []v1.Descriptor{d, bad}); err == nil {
			t.Errorf("Record accepted a layer digest %q", h)
		}
		if err := x.Record(ctx, repoA, h, []v1.Descriptor{d}); err == nil {
			t.Errorf("Record accepted a manifest digest %q", h)
		}
		if _, err := x.Lookup(ctx, repoA, h); err == nil {
			t.Errorf("Lookup found %q", h)
		}
		if err := x.Remove(ctx, repoA, h); err == nil {
			t.Errorf("Remove accepted %q", h)
		}
		if err := x.Forget(ctx, repoA, h); err == nil {
			t.Errorf("Forget accepted %q", h)
		}
	}
	noURLs, negative := desc("abc"), desc("neg", "https://a/n")
	negative.Size = -1
	for _, bad := range []v1.Descriptor{noURLs, negative} {
		if err := x.Record(ctx, repoA, manifest(1), []v1.Descriptor{bad}); err == nil {
			t.Errorf("Record accepted %+v", bad)
		}
	}
	absent(t, x, repoA, d.Digest) // every call above failed whole
}

// indexViews: a manifest's strip-urls view, both ways; a manifest that is
// its own view is only looked up one way; Forget drops the view; views
// survive reopening and stay in their repository.
func indexViews(t *testing.T, x indexUnderTest) {
	m, v, plain := manifest(1), manifest(2), manifest(3)
	view := v1.Descriptor{Digest: v, Size: 123}
	if _, err := x.ViewOf(ctx, repoA, m); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("ViewOf before RecordView: %v", err)
	}
	for range 2 { // idempotent
		if err := x.RecordView(ctx, repoA, m, view); err != nil {
			t.Fatal(err)
		}
	}
	if err := x.RecordView(ctx, repoA, plain, v1.Descriptor{Digest: plain, Size: 9}); err != nil {
		t.Fatal(err)
	}
	y := x.reopen(t)
	if got, err := y.ViewOf(ctx, repoA, m); err != nil || got.Digest != v || got.Size != 123 {
		t.Errorf("ViewOf = %+v, %v", got, err)
	}
	if got, err := y.OriginalOf(ctx, repoA, v); err != nil || got != m {
		t.Errorf("OriginalOf = %v, %v", got, err)
	}
	if got, err := y.ViewOf(ctx, repoA, plain); err != nil || got.Digest != plain {
		t.Errorf("ViewOf(own view) = %+v, %v", got, err)
	}
	if _, err := y.OriginalOf(ctx, repoA, plain); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("OriginalOf(own view) = %v, want ErrNotFound", err)
	}
	if _, err := y.OriginalOf(ctx, repoB, v); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a view leaked to another repository: %v", err)
	}
	if err := y.Forget(ctx, repoA, m); err != nil {
		t.Fatal(err)
	}
	if _, err := y.OriginalOf(ctx, repoA, v); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("OriginalOf after Forget: %v", err)
	}
	if _, err := y.ViewOf(ctx, repoA, m); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ViewOf after Forget: %v", err)
	}
	if err := y.RecordView(ctx, name.Repository{}, m, view); err == nil {
		t.Errorf("RecordView accepted the zero Repository")
	}
}
