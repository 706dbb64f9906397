package store

import (
	"context"
	"fmt"
	"hash/maphash"
	"path"
	"slices"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/foreignlayers/fl/pkg/name"
)

// S3Index is an Index on S3, one object per repository and digest, read
// on demand: creating it reads nothing, so it starts as fast with a
// million entries as with none, and nothing lists the bucket.
//
//	PREFIX/index/v1/REPO/_layers/ALG/HEX     a digest of REPO, with the URLs each manifest declared
//	PREFIX/index/v1/REPO/_manifests/ALG/HEX  the digests a manifest of REPO declared
//	PREFIX/index/v1/REPO/_views/ALG/HEX      a view digest: the manifest it is the view of
//	PREFIX/index/v1/REPO/_stripped/ALG/HEX   a manifest: its view's digest and size
//
// Several replicas share the objects. Every read-modify-write holds the
// record's lock (an object created with If-None-Match: *, see s3lock.go)
// and is a conditional write (If-Match on the ETag read, If-None-Match: *
// to create), retried a bounded number of times when another writer got
// there first; writes of one repository within a process are also
// serialized, so only replicas race. A record that loses its last
// manifest stays as an empty tombstone rather than being deleted, so
// that no delete has to be ordered against a conditional write. Lookups are answered from a bounded
// in-memory cache of recent results: a found entry for PositiveTTL, a
// missing one for NegativeTTL. A replica therefore sees another's writes
// within those delays; its own at once.
//
// Across replicas, Record's "nothing of the call is recorded" on
// ErrConflict holds for conflicts visible when it starts; a conflicting
// size recorded by another replica while it writes fails only the
// digests it touches.
type S3Index struct {
	loc      S3Location
	seed     maphash.Seed
	locks    [indexStripes]sync.Mutex // by repository
	seen     *lru[indexKey, s3Seen[indexResult]]
	views    *lru[viewKey, s3Seen[viewResult]]
	positive time.Duration
	negative time.Duration
	now      func() time.Time
}

var _ Index = (*S3Index)(nil)

// S3IndexOptions configure an S3Index.
type S3IndexOptions struct {
	// PositiveTTL is how long a found entry is answered from memory;
	// 0 takes DefaultPositiveTTL.
	PositiveTTL time.Duration
	// NegativeTTL is how long a missing entry is; 0 takes
	// DefaultNegativeTTL.
	NegativeTTL time.Duration
	// CacheEntries bounds the lookups kept in memory; 0 takes
	// IndexCacheEntries.
	CacheEntries int
}

// Default lookup cache delays of an S3Index.
const (
	DefaultPositiveTTL = 10 * time.Second
	DefaultNegativeTTL = 2 * time.Second
)

// s3Seen is a remembered result and when it stops counting.
type s3Seen[T any] struct {
	r     T
	until time.Time
}

// NewS3Index returns the index kept at loc. It reads nothing.
func NewS3Index(loc S3Location, o S3IndexOptions) (*S3Index, error) {
	if err := loc.check(); err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	if o.PositiveTTL < 0 || o.NegativeTTL < 0 || o.CacheEntries < 0 {
		return nil, fmt.Errorf("index: negative option in %+v", o)
	}
	if o.PositiveTTL == 0 {
		o.PositiveTTL = DefaultPositiveTTL
	}
	if o.NegativeTTL == 0 {
		o.NegativeTTL = DefaultNegativeTTL
	}
	if o.CacheEntries == 0 {
		o.CacheEntries = IndexCacheEntries
	}
	return &S3Index{
		loc: loc, seed: maphash.MakeSeed(),
		seen:     newLRU[indexKey, s3Seen[indexResult]](o.CacheEntries),
		views:    newLRU[viewKey, s3Seen[viewResult]](max(o.CacheEntries/4, 1)),
		positive: o.PositiveTTL, negative: o.NegativeTTL, now: time.Now,
	}, nil
}

func (x *S3Index) lock(repo name.Repository) *sync.Mutex {
	return &x.locks[maphash.String(x.seed, repo.String())%indexStripes]
}

// key is the object of kind ("_layers", "_manifests", …) for d in repo;
// repo and d were checked, so the key holds no "..".
func (x *S3Index) key(repo name.Repository, kind string, d v1.Hash) string {
	return x.loc.Prefix + path.Join("index/v1", repo.String(), kind, d.Algorithm, d.Hex)
}

func (x *S3Index) ttl(found bool) time.Time {
	if found {
		return x.now().Add(x.positive)
	}
	return x.now().Add(x.negative)
}

// Lookup implements Index.
func (x *S3Index) Lookup(ctx context.Context, repo name.Repository, digest v1.Hash) (v1.Descriptor, error) {
	return x.lookup(ctx, repo, digest, false)
}

// LookupFresh is Lookup without the in-memory cache: it reads the
// object, for a request that would otherwise be answered 404.
func (x *S3Index) LookupFresh(ctx context.Context, repo name.Repository, digest v1.Hash) (v1.Descriptor, error) {
	return x.lookup(ctx, repo, digest, true)
}

func (x *S3Index) lookup(ctx context.Context, repo name.Repository, digest v1.Hash, fresh bool) (v1.Descriptor, error) {
	if err := checkRepository(repo); err != nil {
		return v1.Descriptor{}, fmt.Errorf("index: %w", err)
	}
	k := indexKey{repo.String(), digest}
	s, ok := x.seen.Get(k)
	if fresh || !ok || x.now().After(s.until) {
		if err := checkDigest(digest); err != nil {
			return v1.Descriptor{}, fmt.Errorf("index: %w: %w", ErrNotFound, err)
		}
		rec, _, err := x.readLayer(ctx, repo, digest)
		if err != nil {
			return v1.Descriptor{}, err
		}
		s.r = x.remember(repo, digest, rec)
	}
	if !s.r.found {
		return v1.Descriptor{}, fmt.Errorf("index: %s in %s: %w", digest, repo, ErrNotFound)
	}
	d := s.r.desc
	d.URLs = slices.Clone(d.URLs)
	return d, nil
}

// remember notes what the object of digest holds now (nil: nothing).
func (x *S3Index) remember(repo name.Repository, digest v1.Hash, rec *layerRecord) indexResult {
	r := indexResult{}
	if rec != nil && len(rec.Manifests) > 0 {
		r = indexResult{desc: rec.descriptor(), found: true}
	}
	x.seen.Put(indexKey{repo.String(), digest}, s3Seen[indexResult]{r, x.ttl(r.found)})
	return r
}

// readLayer returns the record of digest in repo and its ETag, or nil.
func (x *S3Index) readLayer(ctx context.Context, repo name.Repository, digest v1.Hash) (*layerRecord, string, error) {
	var rec layerRecord
	key := x.key(repo, "_layers", digest)
	etag, err := x.loc.getJSON(ctx, key, &rec)
	if err != nil || etag == "" {
		return nil, "", wrapIndex(err)
	}
	if rec.Digest != digest {
		return nil, "", fmt.Errorf("index: %s holds %s", key, rec.Digest)
	}
	return &rec, etag, nil
}

func wrapIndex(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("index: %w", err)
}
