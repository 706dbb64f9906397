// Package store holds what fl serve remembers: the index of foreign layer
// descriptors per repository, and the content-addressed cache of foreign
// blobs that were fetched and verified. Both sit behind small interfaces so
// that shared object storage can take their place for several replicas;
// this package has the filesystem implementations, and storetest a suite
// that every implementation must pass.
package store

import (
	"context"
	"errors"
	"io"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/foreignlayers/fl/pkg/name"
)

// Errors, for errors.Is.
var (
	// ErrNotFound is returned for a blob or descriptor that is not there.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a repository already knows the digest with another size.
	ErrConflict = errors.New("conflicting descriptor")
	// ErrTooLarge: a blob is larger than the cache can ever hold.
	ErrTooLarge = errors.New("blob is larger than the cache")
	// ErrNoSpace: room for a blob cannot be made now (the cache is full of
	// blobs in use, or the filesystem is short of free space).
	ErrNoSpace = errors.New("no space in the cache")
	// ErrInUse: a blob being read or written cannot be removed.
	ErrInUse = errors.New("blob in use")
)

// Index remembers, per repository, the descriptors with urls that the
// manifests stored in that repository declare. It is written only after
// the backend has stored (or served) a manifest.
type Index interface {
	// Record notes that manifest, stored in repo, declares descs (each
	// with urls). A digest that repo already knows with another size is
	// ErrConflict, and then nothing of this call is recorded. The URLs of
	// a digest are the union over the manifests that declare it, in the
	// order first seen.
	Record(ctx context.Context, repo name.Repository, manifest v1.Hash, descs []v1.Descriptor) error
	// Forget drops what manifest declared in repo (the manifest was
	// deleted): a digest no manifest of repo declares any more is
	// removed, and URLs only manifest declared are dropped. Forgetting an
	// unknown manifest is not an error.
	Forget(ctx context.Context, repo name.Repository, manifest v1.Hash) error
	// Remove drops digest from repo (the blob was deleted), whatever
	// manifests declare it; ErrNotFound if repo did not know it.
	Remove(ctx context.Context, repo name.Repository, digest v1.Hash) error
	// Lookup returns the descriptor of digest in repo, with its merged
	// URLs, or ErrNotFound. The result shares no memory with the index.
	Lookup(ctx context.Context, repo name.Repository, digest v1.Hash) (v1.Descriptor, error)

	// RecordView notes that the strip-urls view of manifest original in
	// repo is view (its digest and size; the same digest when the manifest
	// has no urls). Forget drops it with the manifest.
	RecordView(ctx context.Context, repo name.Repository, original v1.Hash, view v1.Descriptor) error
	// ViewOf returns the view of original, or ErrNotFound.
	ViewOf(ctx context.Context, repo name.Repository, original v1.Hash) (v1.Descriptor, error)
	// OriginalOf returns the manifest whose view has digest view, or
	// ErrNotFound (also for a manifest that is its own view).
	OriginalOf(ctx context.Context, repo name.Repository, view v1.Hash) (v1.Hash, error)
}

// Blob is a cached blob, open for reading. A blob is never evicted while
// it is open.
type Blob interface {
	io.ReadSeekCloser
	io.ReaderAt
	Size() int64
	ModTime() time.Time
	// Sources are the URLs (in the policy's canonical form) the blob was
	// fetched from and verified, newest last.
	Sources() []string
}

// Writer is a blob being written into the cache. Nothing of it is
// visible to Open before Commit.
type Writer interface {
	io.Writer
	// NewReader reads what has been written so far, for requests that
	// follow a fetch in flight. Reading past what was written gives
	// io.EOF, and a later read may find more.
	NewReader() (ReaderAtCloser, error)
	// Commit makes the written bytes the blob, once the caller has
	// verified their size and digest; source is the URL they came from.
	// Committing a digest that is cached already adds source to its
	// Sources and keeps one copy. It evicts the least recently used blobs
	// the cap needs gone (see Create); when those were opened meanwhile
	// and none can take their place, the blob is kept anyway and the
	// cache is over its cap until the next eviction.
	Commit(ctx context.Context, source string) error
	// Cancel discards what was written, releases its reservation and
	// unmarks the blobs Create marked. It may be called more than once,
	// and after Commit it does nothing.
	Cancel() error
}

// ReaderAtCloser reads at offsets and is closed after use.
type ReaderAtCloser interface {
	io.ReaderAt
	io.Closer
}

// Stats describe a cache's use.
//
// While writers are in progress, Bytes+Reserved may exceed Max: the room
// a writer needs under Max is made of blobs marked at Create (Marked),
// which stay committed, readable and counted in Bytes until the writer
// commits. Bytes+Reserved-Marked is what the cap bounds; it exceeds Max
// only after a Commit whose victims were opened meanwhile (the cache then
// logs it), until the next eviction.
type Stats struct {
	Blobs    int   // committed blobs, marked ones included
	Bytes    int64 // bytes of committed blobs, marked ones included
	Reserved int64 // bytes reserved by writers in progress
	Marked   int64 // bytes of committed blobs marked for eviction at writers' Commit
	Max      int64 // the capacity
	Evicted  int64 // blobs evicted since start
}

// Cache keeps verified blobs by digest, within a capacity.
type Cache interface {
	// Open returns the blob, or ErrNotFound; it counts as a use for the
	// least-recently-used eviction.
	Open(ctx context.Context, digest v1.Hash) (Blob, error)
	// Create starts writing the blob of digest, size bytes long, after
	// reserving its room: ErrTooLarge if size exceeds the capacity,
	// ErrNoSpace if the room cannot be made of least recently used blobs
	// that nobody reads or writes. The blobs that make the room are only
	// marked: they stay cached and readable, and are evicted at the
	// writer's Commit (chosen again then, never one open); Cancel
	// unmarks them, so bytes that fail verification evict nothing. (A
	// cache may delete at Create what its storage, not its cap, needs
	// freed to hold the bytes.) Nothing is written before the reservation
	// succeeds.
	Create(ctx context.Context, digest v1.Hash, size int64) (Writer, error)
	// Room answers as Create would (nil, ErrTooLarge or ErrNoSpace), but
	// changes nothing: no eviction, no mark, no reservation. A caller
	// checks it before it asks an upstream for the bytes, and calls
	// Create once the upstream has answered.
	Room(ctx context.Context, digest v1.Hash, size int64) error
	// Remove deletes a committed blob: ErrNotFound if it is not there,
	// ErrInUse while it is open.
	Remove(ctx context.Context, digest v1.Hash) error
	// Stats reports the cache's use.
	Stats() Stats
}
