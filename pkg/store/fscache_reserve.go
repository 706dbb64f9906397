package store

import (
	"context"
	"fmt"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Create implements Cache. The room is reserved before the spool file
// exists: within MaxBytes, and within the filesystem's free space less
// MinFree and less what the other writers have reserved but not yet
// written. Least recently used blobs that nobody reads or writes are
// evicted only if that makes enough room.
//
// ErrTooLarge is returned when size exceeds MaxBytes, or the free space
// less MinFree even if the cache held nothing; ErrNoSpace when the room
// is held by blobs in use or being written.
func (c *FSCache) Create(ctx context.Context, d v1.Hash, size int64) (Writer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkDigest(d); err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	if size < 0 {
		return nil, fmt.Errorf("cache: %s: negative size %d", d, size)
	}
	if size > c.max {
		return nil, fmt.Errorf("cache: %s is %d bytes, more than the cache's maximum of %d bytes: %w", d, size, c.max, ErrTooLarge)
	}
	free, err := c.freeSpace(c.dir)
	if err != nil {
		return nil, fmt.Errorf("cache: free space of %s: %w", c.dir, err)
	}
	c.mu.Lock()
	err = c.reserveLocked(d, size, free)
	c.mu.Unlock()
	if err != nil {
		return nil, err
	}
	w := &fsWriter{c: c, digest: d, size: size}
	if w.f, err = os.CreateTemp(c.spoolDir(), "blob-*"); err != nil {
		c.mu.Lock()
		c.releaseLocked(w)
		c.mu.Unlock()
		return nil, fmt.Errorf("cache: %w", err)
	}
	return w, nil
}

// Room implements Cache: Create's checks, without evicting or reserving.
func (c *FSCache) Room(ctx context.Context, d v1.Hash, size int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if size > c.max {
		return fmt.Errorf("cache: %s is %d bytes, more than the cache's maximum of %d bytes: %w", d, size, c.max, ErrTooLarge)
	}
	free, err := c.freeSpace(c.dir)
	if err != nil {
		return fmt.Errorf("cache: free space of %s: %w", c.dir, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	_, err = c.planLocked(d, size, free)
	return err
}

func (c *FSCache) reserveLocked(d v1.Hash, size, free int64) error {
	victims, err := c.planLocked(d, size, free)
	if err != nil {
		return err
	}
	for _, e := range victims {
		c.evictLocked(e)
	}
	c.reserved += size
	c.writing[d]++
	return nil
}

// planLocked finds the blobs to evict to make room for size bytes.
func (c *FSCache) planLocked(d v1.Hash, size, free int64) ([]*cacheEntry, error) {
	spooled := c.spooled.Load()
	unwritten := max(c.reserved-spooled, 0)
	if size > free-c.minFree+c.used+spooled {
		return nil, fmt.Errorf("cache: %s is %d bytes, more than the filesystem's free space (%d bytes, and %d bytes of cached blobs) less the minimum to keep free (%d bytes): %w",
			d, size, free, c.used+spooled, c.minFree, ErrTooLarge)
	}
	// The bytes to evict, for the cap and for the filesystem.
	need := max(c.used+c.reserved+size-c.max, size-(free-c.minFree-unwritten))
	var victims []*cacheEntry
	freed := int64(0)
	for el := c.order.Front(); el != nil && freed < need; el = el.Next() {
		e := el.Value.(*cacheEntry)
		if e.open > 0 || c.writing[e.digest] > 0 {
			continue
		}
		victims = append(victims, e)
		freed += e.size
	}
	if freed < need {
		return nil, fmt.Errorf("cache: no room for %s (%d bytes) now: %d bytes cached and %d reserved of the %d allowed, %d bytes free on the filesystem (%d to keep free), and the rest is in use: %w",
			d, size, c.used, c.reserved, c.max, free, c.minFree, ErrNoSpace)
	}
	return victims, nil
}

// releaseLocked ends w's reservation: its bytes are now a blob, or gone.
func (c *FSCache) releaseLocked(w *fsWriter) {
	c.reserved -= w.size
	c.spooled.Add(-w.n)
	if c.writing[w.digest]--; c.writing[w.digest] <= 0 {
		delete(c.writing, w.digest)
	}
}
