package store

import (
	"container/list"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// S3Cache is a Cache on S3:
//
//	PREFIX/cache/blobs/ALG/HEX       committed blobs, and nothing else
//	PREFIX/cache/meta/ALG/HEX.json   the sources of each blob; its modification
//	                                 time is the blob's last use, as last recorded
//
// A blob is written with a multipart upload to its final key, which S3
// keeps invisible until CompleteMultipartUpload: parts of PartSize bytes
// go up while the bytes arrive, and the last part and the completion wait
// for Commit, which the caller calls only after it verified the size and
// the digest. Cancel aborts the upload. A local spool file keeps the
// bytes of a blob in flight for followers (NewReader), bounded by the
// declared size; blobs of at most PartSize bytes are one PutObject at
// Commit.
//
// Sizes and the order of use are kept in memory, from one listing of
// blobs/ and meta/ at open, and from what this process opens and writes.
// Open advances a blob's recorded last use (by rewriting its sources) at
// most once per PersistUseEvery.
//
// Several replicas may share the objects; each enforces MaxBytes over
// the blobs it knows (those listed at its start, and those it wrote or
// opened since), so together they may hold more until one of them
// restarts or evicts. A replica evicts only blobs that nobody reads or
// writes in that replica: a blob another replica is reading can be
// evicted under it, and that reader then fails (its client retries). The
// order of eviction across replicas follows each replica's own uses, and
// the last-use times they record at most once per PersistUseEvery.
type S3Cache struct {
	loc      S3Location
	max      int64
	partSize int64
	spoolDir string
	log      *slog.Logger
	persist  time.Duration

	mu       sync.Mutex
	blobs    map[v1.Hash]*s3Entry
	order    *list.List // of *s3Entry, least recently used first
	writing  map[v1.Hash]int
	deleting map[v1.Hash]chan struct{} // closed once the objects are gone
	used     int64                     // bytes of committed blobs, marked ones included
	reserved int64                     // bytes reserved by writers in progress
	marked   int64                     // bytes of committed blobs marked to make room for writers in progress
	evicted  int64

	commits [64]sync.Mutex // by digest: orders the commits of one digest
}

var _ Cache = (*S3Cache)(nil)

// S3CacheOptions configure an S3Cache.
type S3CacheOptions struct {
	// MaxBytes caps the bytes of committed blobs and reservations; it
	// must be more than 0.
	MaxBytes int64
	// PartSize is the size of the parts of a multipart upload: at least
	// MinPartSize (S3's minimum for every part but the last); 0 takes
	// DefaultPartSize.
	PartSize int64
	// SpoolDir holds the bytes of blobs in flight; empty takes the
	// system's temporary directory. It needs room for the blobs being
	// written at once.
	SpoolDir string
	// Logger receives evictions (at Info); nil discards.
	Logger *slog.Logger
}

// Part sizes of an S3Cache.
const (
	MinPartSize     = 5 << 20
	DefaultPartSize = 16 << 20
)

type s3Entry struct {
	digest    v1.Hash
	size      int64
	mod       time.Time
	lastUse   time.Time
	persisted time.Time
	open      int
	marked    bool // to be evicted when the writer that marked it commits
	sources   []string
	loaded    bool
	el        *list.Element
}

// OpenS3Cache opens the cache kept at loc: it lists the committed blobs
// and their recorded last uses (two listings, of blobs/ and meta/), and
// evicts the least recently used if they exceed MaxBytes.
func OpenS3Cache(ctx context.Context, loc S3Location, o S3CacheOptions) (*S3Cache, error) {
	if err := loc.check(); err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	if o.MaxBytes <= 0 {
		return nil, fmt.Errorf("cache: the maximum size must be more than 0, not %d", o.MaxBytes)
	}
	if o.PartSize == 0 {
		o.PartSize = DefaultPartSize
	}
	if o.PartSize < MinPartSize {
		return nil, fmt.Errorf("cache: parts of %d bytes are smaller than S3's minimum of %d", o.PartSize, MinPartSize)
	}
	if o.SpoolDir == "" {
		o.SpoolDir = os.TempDir()
	}
	if err := os.MkdirAll(o.SpoolDir, 0o755); err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &S3Cache{
		loc: loc, max: o.MaxBytes, partSize: o.PartSize, spoolDir: o.SpoolDir, log: log, persist: PersistUseEvery,
		blobs: map[v1.Hash]*s3Entry{}, order: list.New(), writing: map[v1.Hash]int{}, deleting: map[v1.Hash]chan struct{}{},
	}
	if err := c.scan(ctx); err != nil {
		return nil, fmt.Errorf("cache: listing %s: %w", c.loc.Prefix+"cache/", err)
	}
	c.mu.Lock()
	var victims []*s3Entry
	over := c.used - c.max
	for el := c.order.Front(); el != nil && over > 0; el = el.Next() {
		e := el.Value.(*s3Entry)
		victims = append(victims, e)
		over -= e.size
	}
	c.evictLocked(victims)
	c.mu.Unlock()
	c.finishEvictions(ctx, victims)
	return c, nil
}

func (c *S3Cache) blobKey(d v1.Hash) string {
	return c.loc.Prefix + path.Join("cache/blobs", d.Algorithm, d.Hex)
}

func (c *S3Cache) metaKey(d v1.Hash) string {
	return c.loc.Prefix + path.Join("cache/meta", d.Algorithm, d.Hex+".json")
}

// scan accounts the committed blobs, least recently used first.
func (c *S3Cache) scan(ctx context.Context) error {
	used := map[v1.Hash]time.Time{}
	metaPrefix := c.loc.Prefix + "cache/meta/"
	err := c.list(ctx, metaPrefix, func(key string, _ int64, mod time.Time) {
		if d, ok := digestOfKey(strings.TrimSuffix(strings.TrimPrefix(key, metaPrefix), ".json")); ok {
			used[d] = mod
		}
	})
	if err != nil {
		return err
	}
	var found []*s3Entry
	blobPrefix := c.loc.Prefix + "cache/blobs/"
	err = c.list(ctx, blobPrefix, func(key string, size int64, mod time.Time) {
		d, ok := digestOfKey(strings.TrimPrefix(key, blobPrefix))
		if !ok {
			c.log.Warn("not a blob in the cache", "key", key)
			return
		}
		last := mod
		if u, ok := used[d]; ok && u.After(last) {
			last = u
		}
		found = append(found, &s3Entry{digest: d, size: size, mod: mod, lastUse: last, persisted: last})
	})
	if err != nil {
		return err
	}
	slices.SortStableFunc(found, func(a, b *s3Entry) int { return a.lastUse.Compare(b.lastUse) })
	for _, e := range found {
		e.el = c.order.PushBack(e)
		c.blobs[e.digest] = e
		c.used += e.size
	}
	return nil
}

// digestOfKey parses "ALG/HEX".
func digestOfKey(rel string) (v1.Hash, bool) {
	alg, hex, ok := strings.Cut(rel, "/")
	d := v1.Hash{Algorithm: alg, Hex: hex}
	return d, ok && checkDigest(d) == nil
}

func (c *S3Cache) list(ctx context.Context, prefix string, f func(key string, size int64, mod time.Time)) error {
	p := s3.NewListObjectsV2Paginator(c.loc.Client, &s3.ListObjectsV2Input{Bucket: &c.loc.Bucket, Prefix: &prefix})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, o := range out.Contents {
			f(aws.ToString(o.Key), aws.ToInt64(o.Size), aws.ToTime(o.LastModified))
		}
	}
	return nil
}

// Open implements Cache. A blob this replica does not know (another one
// wrote it) is looked up with a HEAD; a known one costs no request
// before the first read.
func (c *S3Cache) Open(ctx context.Context, d v1.Hash) (Blob, error) {
	if err := checkDigest(d); err != nil {
		return nil, fmt.Errorf("cache: %w: %w", ErrNotFound, err)
	}
	c.mu.Lock()
	e, err := c.entryLocked(ctx, d)
	if err != nil {
		c.mu.Unlock()
		return nil, err
	}
	e.open++
	now := time.Now()
	e.lastUse = now
	c.order.MoveToBack(e.el)
	touch := now.Sub(e.persisted) >= c.persist
	if touch {
		e.persisted = now
	}
	c.mu.Unlock()
	if touch {
		c.touch(ctx, e)
	}
	return &s3Blob{c: c, e: e, key: c.blobKey(d)}, nil
}

// entryLocked returns d's entry. A blob this replica does not know is
// looked up with a HEAD, and accounted if found. c.mu is held on entry
// and on return, and released meanwhile.
func (c *S3Cache) entryLocked(ctx context.Context, d v1.Hash) (*s3Entry, error) {
	if err := c.waitDeletedLocked(ctx, d); err != nil {
		return nil, err
	}
	if e := c.blobs[d]; e != nil {
		return e, nil
	}
	c.mu.Unlock()
	head, err := c.loc.Client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &c.loc.Bucket, Key: aws.String(c.blobKey(d))})
	c.mu.Lock()
	if isNotFound(err) {
		return nil, fmt.Errorf("cache: %s: %w", d, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	e := c.blobs[d]
	if e == nil && c.deleting[d] == nil {
		mod := aws.ToTime(head.LastModified)
		e = &s3Entry{digest: d, size: aws.ToInt64(head.ContentLength), mod: mod, lastUse: mod, persisted: mod}
		e.el = c.order.PushBack(e)
		c.blobs[d] = e
		c.used += e.size
	}
	if e == nil {
		return nil, fmt.Errorf("cache: %s: %w", d, ErrNotFound)
	}
	return e, nil
}

// waitDeletedLocked waits, without c.mu, until d's objects being deleted
// are gone.
func (c *S3Cache) waitDeletedLocked(ctx context.Context, d v1.Hash) error {
	for {
		ch := c.deleting[d]
		if ch == nil {
			return nil
		}
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			c.mu.Lock()
			return ctx.Err()
		}
		c.mu.Lock()
	}
}

// release ends a use of e; the last one may let an eviction a Commit
// could not make happen now.
func (c *S3Cache) release(e *s3Entry) {
	c.mu.Lock()
	e.open--
	var victims []*s3Entry
	if e.open == 0 {
		victims, _ = c.makeRoomLocked(v1.Hash{})
	}
	c.mu.Unlock()
	c.finishEvictions(context.Background(), victims)
}

// Stats implements Cache.
func (c *S3Cache) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Stats{Blobs: len(c.blobs), Bytes: c.used, Reserved: c.reserved, Marked: c.marked, Max: c.max, Evicted: c.evicted}
}
