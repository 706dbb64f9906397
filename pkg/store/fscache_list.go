package store

import (
	"container/list"
	"errors"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// CacheEntry is one committed blob of a cache.
type CacheEntry struct {
	Digest v1.Hash
	Size   int64
	// LastUse is the last Open in this process, or the file's
	// modification time (which Open advances at most once per
	// PersistUseEvery) for a blob not opened since the start.
	LastUse time.Time
	// InUse is whether a reader holds it now.
	InUse bool
}

// List returns the committed blobs, by digest. It reads nothing from
// disk.
func (c *FSCache) List() []CacheEntry {
	c.mu.Lock()
	out := make([]CacheEntry, 0, len(c.blobs))
	for _, e := range c.blobs {
		out = append(out, CacheEntry{Digest: e.digest, Size: e.size, LastUse: e.lastUse, InUse: e.open > 0 || c.writing[e.digest] > 0})
	}
	c.mu.Unlock()
	slices.SortFunc(out, func(a, b CacheEntry) int { return strings.Compare(a.Digest.String(), b.Digest.String()) })
	return out
}

// ListFSCache lists the blobs of the cache under dir without opening it:
// it changes nothing (the spool stays as it is), and finds nothing if dir
// does not exist.
func ListFSCache(dir string) ([]CacheEntry, error) {
	c := &FSCache{dir: dir, log: slog.New(slog.DiscardHandler), blobs: map[v1.Hash]*cacheEntry{}, order: list.New(), writing: map[v1.Hash]int{}}
	if _, err := os.Stat(c.blobsDir()); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err := c.scan(); err != nil {
		return nil, err
	}
	return c.List(), nil
}
