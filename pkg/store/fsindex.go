package store

import (
	"context"
	"fmt"
	"hash/maphash"
	"os"
	"path/filepath"
	"slices"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/foreignlayers/fl/pkg/name"
)

// FSIndex is an Index in a directory, read on demand: opening it loads
// nothing, so it starts as fast with a million entries as with none.
//
//	DIR/_v1/REPO/_layers/ALG/HEX.json     a digest of REPO, with the URLs each manifest declared
//	DIR/_v1/REPO/_manifests/ALG/HEX.json  the digests a manifest of REPO declared
//	DIR/_tmp/                            temporary files, renamed into place; emptied at open
//
// REPO is the repository's components as directories; a component never
// starts with '_', so these names cannot collide with a repository's.
// Writes of one repository are serialized; lookups are answered from a
// bounded in-memory cache of recent results, found or not.
type FSIndex struct {
	dir   string
	seed  maphash.Seed
	locks [indexStripes]sync.RWMutex // by repository
	seen  *lru[indexKey, indexResult]
	views *lru[viewKey, viewResult]
}

var _ Index = (*FSIndex)(nil)

const (
	indexStripes = 64
	// IndexCacheEntries is how many lookup results an FSIndex keeps in
	// memory.
	IndexCacheEntries = 1 << 16
)

type indexKey struct {
	repo   string
	digest v1.Hash
}

// indexResult is a remembered lookup: the merged descriptor, or found
// false.
type indexResult struct {
	desc  v1.Descriptor
	found bool
}

// OpenFSIndex opens the index under dir, creating dir if need be.
// Temporary files a crash left behind are removed; nothing else is read.
func OpenFSIndex(dir string) (*FSIndex, error) {
	x := &FSIndex{dir: dir, seed: maphash.MakeSeed(), seen: newLRU[indexKey, indexResult](IndexCacheEntries), views: newLRU[viewKey, viewResult](IndexCacheEntries / 4)}
	if err := os.MkdirAll(filepath.Join(dir, "_v1"), 0o755); err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	if err := emptyDir(x.tmpDir()); err != nil {
		return nil, fmt.Errorf("index: removing temporary files: %w", err)
	}
	return x, nil
}

func (x *FSIndex) tmpDir() string { return filepath.Join(x.dir, "_tmp") }

func (x *FSIndex) repoDir(repo name.Repository) string {
	return filepath.Join(append([]string{x.dir, "_v1"}, repo.Components()...)...)
}

// layerPath and manifestPath take digests that passed checkDigest.
func (x *FSIndex) layerPath(repo name.Repository, d v1.Hash) string {
	return filepath.Join(x.repoDir(repo), "_layers", d.Algorithm, d.Hex+".json")
}

func (x *FSIndex) manifestPath(repo name.Repository, d v1.Hash) string {
	return filepath.Join(x.repoDir(repo), "_manifests", d.Algorithm, d.Hex+".json")
}

func (x *FSIndex) lock(repo name.Repository) *sync.RWMutex {
	return &x.locks[maphash.String(x.seed, repo.String())%indexStripes]
}

// Lookup implements Index.
func (x *FSIndex) Lookup(_ context.Context, repo name.Repository, digest v1.Hash) (v1.Descriptor, error) {
	if err := checkRepository(repo); err != nil {
		return v1.Descriptor{}, fmt.Errorf("index: %w", err)
	}
	k := indexKey{repo.String(), digest}
	r, ok := x.seen.Get(k)
	if !ok {
		if err := checkDigest(digest); err != nil {
			// Nothing with such a digest can be recorded.
			return v1.Descriptor{}, fmt.Errorf("index: %w: %w", ErrNotFound, err)
		}
		var err error
		if r, err = x.load(repo, digest); err != nil {
			return v1.Descriptor{}, err
		}
	}
	if !r.found {
		return v1.Descriptor{}, fmt.Errorf("index: %s in %s: %w", digest, repo, ErrNotFound)
	}
	d := r.desc
	d.URLs = slices.Clone(d.URLs)
	return d, nil
}

// load reads digest's entry from disk and remembers the result. The read
// lock keeps writers of repo out, so what is remembered is current.
func (x *FSIndex) load(repo name.Repository, digest v1.Hash) (indexResult, error) {
	mu := x.lock(repo)
	mu.RLock()
	defer mu.RUnlock()
	rec, err := x.readLayer(repo, digest)
	if err != nil {
		return indexResult{}, err
	}
	r := indexResult{}
	if rec != nil {
		r = indexResult{desc: rec.descriptor(), found: true}
	}
	x.seen.Put(indexKey{repo.String(), digest}, r)
	return r, nil
}

// remember updates the lookup cache after a write; the caller holds the
// repository's lock.
func (x *FSIndex) remember(repo name.Repository, digest v1.Hash, rec *layerRecord) {
	r := indexResult{}
	if rec != nil {
		r = indexResult{desc: rec.descriptor(), found: true}
	}
	x.seen.Put(indexKey{repo.String(), digest}, r)
}
