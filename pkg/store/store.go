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
)

// ErrNotFound is returned for a blob or descriptor that is not there.
var ErrNotFound = errors.New("not found")

// Index remembers, per repository, the layer descriptors that carry urls.
type Index interface {
	// Record adds descriptors to repo's index. A descriptor already known
	// gains any new urls, in order after the ones it had.
	Record(ctx context.Context, repo string, descs []v1.Descriptor) error
	// Lookup returns the descriptor of digest in repo, or ErrNotFound.
	Lookup(ctx context.Context, repo string, digest v1.Hash) (v1.Descriptor, error)
}

// Blob is a cached blob, open for reading.
type Blob interface {
	io.ReadSeekCloser
	Size() int64
	ModTime() time.Time
}

// Cache keeps verified blobs by digest.
type Cache interface {
	// Open returns the blob, or ErrNotFound.
	Open(ctx context.Context, digest v1.Hash) (Blob, error)
	// Commit takes a verified file that was written under SpoolDir and
	// makes it the blob for digest, atomically: a reader sees the whole
	// blob or none.
	Commit(ctx context.Context, digest v1.Hash, spoolPath string) error
	// SpoolDir is where blobs are written while they are fetched.
	SpoolDir() string
}
