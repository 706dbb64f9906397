package store

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// FSCache is a Cache in a directory:
//
//	DIR/blobs/ALG/XX/HEX      committed blobs, and nothing else (XX: HEX's first two digits)
//	DIR/meta/ALG/XX/HEX.json  the sources of each blob
//	DIR/spool/                blobs being written, and temporary files; emptied at open
//
// Sizes and the order of use are kept in memory, rebuilt at open from one
// scan of blobs/ (ordered by modification time, which Open advances at
// most once per PersistUseEvery for each blob).
type FSCache struct {
	dir       string
	max       int64
	minFree   int64
	log       *slog.Logger
	freeSpace func(dir string) (int64, error)
	persist   time.Duration

	mu       sync.Mutex
	blobs    map[v1.Hash]*cacheEntry
	order    *list.List // of *cacheEntry, least recently used first
	writing  map[v1.Hash]int
	used     int64 // bytes of committed blobs, marked ones included
	reserved int64 // bytes reserved by writers in progress
	marked   int64 // bytes of committed blobs marked to make room for writers in progress
	evicted  int64
	spooled  atomic.Int64 // bytes writers in progress have written
}

var _ Cache = (*FSCache)(nil)

// FSCacheOptions configure an FSCache.
type FSCacheOptions struct {
	// MaxBytes caps the bytes of committed blobs and reservations; it
	// must be more than 0.
	MaxBytes int64
	// MinFree is the free space of the filesystem the cache never takes.
	MinFree int64
	// Logger receives evictions (at Info); nil discards.
	Logger *slog.Logger
}

// PersistUseEvery is how often, at most, Open records a blob's use in its
// modification time, for the order of eviction after a restart.
const PersistUseEvery = time.Hour

type cacheEntry struct {
	digest    v1.Hash
	size      int64
	lastUse   time.Time
	persisted time.Time // the last use recorded on disk
	open      int       // readers holding it
	marked    bool      // to be evicted when the writer that marked it commits
	sources   []string
	loaded    bool // sources read from disk
	el        *list.Element
}

// OpenFSCache opens (creating) the cache under dir. What the spool holds
// is removed: it was never verified.
func OpenFSCache(dir string, o FSCacheOptions) (*FSCache, error) {
	if o.MaxBytes <= 0 {
		return nil, fmt.Errorf("cache: the maximum size must be more than 0, not %d", o.MaxBytes)
	}
	if o.MinFree < 0 {
		return nil, fmt.Errorf("cache: the minimum free space cannot be negative (%d)", o.MinFree)
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &FSCache{
		dir: dir, max: o.MaxBytes, minFree: o.MinFree, log: log,
		freeSpace: freeSpace, persist: PersistUseEvery,
		blobs: map[v1.Hash]*cacheEntry{}, order: list.New(), writing: map[v1.Hash]int{},
	}
	for _, d := range []string{c.blobsDir(), filepath.Join(dir, "meta")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("cache: %w", err)
		}
	}
	if err := emptyDir(c.spoolDir()); err != nil {
		return nil, fmt.Errorf("cache: emptying the spool: %w", err)
	}
	if err := c.scan(); err != nil {
		return nil, fmt.Errorf("cache: reading %s: %w", c.blobsDir(), err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for el := c.order.Front(); el != nil && c.used > c.max; {
		next := el.Next()
		c.evictLocked(el.Value.(*cacheEntry))
		el = next
	}
	return c, nil
}

func (c *FSCache) blobsDir() string { return filepath.Join(c.dir, "blobs") }
func (c *FSCache) spoolDir() string { return filepath.Join(c.dir, "spool") }

func (c *FSCache) blobPath(d v1.Hash) string {
	return filepath.Join(c.dir, "blobs", d.Algorithm, d.Hex[:2], d.Hex)
}

func (c *FSCache) metaPath(d v1.Hash) string {
	return filepath.Join(c.dir, "meta", d.Algorithm, d.Hex[:2], d.Hex+".json")
}

// scan accounts the committed blobs, least recently modified first.
// Files that are not blobs are logged and left alone.
func (c *FSCache) scan() error {
	var found []*cacheEntry
	err := filepath.WalkDir(c.blobsDir(), func(p string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(c.blobsDir(), p)
		parts := strings.Split(filepath.ToSlash(rel), "/")
		var d v1.Hash
		if len(parts) == 3 {
			d = v1.Hash{Algorithm: parts[0], Hex: parts[2]}
		}
		fi, ierr := de.Info()
		if len(parts) != 3 || checkDigest(d) != nil || parts[1] != d.Hex[:2] || ierr != nil || !fi.Mode().IsRegular() {
			c.log.Warn("not a blob in the cache", "path", p)
			return nil
		}
		found = append(found, &cacheEntry{digest: d, size: fi.Size(), lastUse: fi.ModTime(), persisted: fi.ModTime()})
		return nil
	})
	slices.SortStableFunc(found, func(a, b *cacheEntry) int { return a.lastUse.Compare(b.lastUse) })
	for _, e := range found {
		e.el = c.order.PushBack(e)
		c.blobs[e.digest] = e
		c.used += e.size
	}
	return err
}

// Open implements Cache. Besides the file's open and fstat, it touches
// the disk only to record the use, at most once per PersistUseEvery.
func (c *FSCache) Open(_ context.Context, d v1.Hash) (Blob, error) {
	c.mu.Lock()
	e := c.blobs[d]
	if e == nil {
		c.mu.Unlock()
		return nil, fmt.Errorf("cache: %s: %w", d, ErrNotFound)
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

	p := c.blobPath(d)
	f, err := os.Open(p)
	if err != nil {
		c.release(e, errors.Is(err, os.ErrNotExist))
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("cache: %s vanished: %w", d, ErrNotFound)
		}
		return nil, fmt.Errorf("cache: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		c.release(e, false)
		return nil, fmt.Errorf("cache: %w", err)
	}
	if touch {
		_ = os.Chtimes(p, now, now)
	}
	return &fsBlob{f: f, c: c, e: e, size: fi.Size(), mod: fi.ModTime()}, nil
}

// release ends a use of e; a blob whose file vanished is forgotten.
func (c *FSCache) release(e *cacheEntry, vanished bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e.open--
	if vanished && e.open == 0 && c.blobs[e.digest] == e {
		c.forgetLocked(e)
	}
	if e.open == 0 {
		c.makeRoomLocked(v1.Hash{}) // a Commit may have left the cache over its cap
	}
}

// Remove implements Cache.
func (c *FSCache) Remove(_ context.Context, d v1.Hash) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.blobs[d]
	switch {
	case e == nil:
		return fmt.Errorf("cache: %s: %w", d, ErrNotFound)
	case e.open > 0:
		return fmt.Errorf("cache: %s is being read: %w", d, ErrInUse)
	case c.writing[d] > 0:
		return fmt.Errorf("cache: %s is being written: %w", d, ErrInUse)
	}
	return c.deleteLocked(e)
}

// deleteLocked removes a blob nobody holds, and its metadata.
func (c *FSCache) deleteLocked(e *cacheEntry) error {
	if err := removeIfExists(c.blobPath(e.digest)); err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	c.forgetLocked(e)
	if err := removeIfExists(c.metaPath(e.digest)); err != nil {
		c.log.Warn("cache: removing a blob's sources", "digest", e.digest.String(), "error", err)
	}
	return nil
}

func (c *FSCache) forgetLocked(e *cacheEntry) {
	if e.marked {
		e.marked = false
		c.marked -= e.size
	}
	delete(c.blobs, e.digest)
	c.order.Remove(e.el)
	c.used -= e.size
}

// evictLocked removes the least recently used blob e to make room.
func (c *FSCache) evictLocked(e *cacheEntry) {
	if err := c.deleteLocked(e); err != nil {
		c.log.Warn("cache: evicting", "digest", e.digest.String(), "error", err)
		return
	}
	c.evicted++
	c.log.Info("evicted from the cache", "digest", e.digest.String(), "size", e.size, "last_use", e.lastUse)
}

// Stats implements Cache.
func (c *FSCache) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Stats{Blobs: len(c.blobs), Bytes: c.used, Reserved: c.reserved, Marked: c.marked, Max: c.max, Evicted: c.evicted}
}
