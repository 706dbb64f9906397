package store

import (
	"context"
	"fmt"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Create implements Cache. The room is reserved within MaxBytes before
// anything is written, evicting least recently used blobs that nobody in
// this replica reads or writes, only if that makes enough room.
func (c *S3Cache) Create(ctx context.Context, d v1.Hash, size int64) (Writer, error) {
	if err := c.checkCreate(ctx, d, size); err != nil {
		return nil, err
	}
	c.mu.Lock()
	// An eviction of d in flight must end first: its delete would
	// otherwise remove what this writer commits.
	if err := c.waitDeletedLocked(ctx, d); err != nil {
		c.mu.Unlock()
		return nil, err
	}
	victims, err := c.planLocked(d, size)
	if err == nil {
		c.evictLocked(victims)
		c.reserved += size
		c.writing[d]++
	}
	c.mu.Unlock()
	if err != nil {
		return nil, err
	}
	c.finishEvictions(ctx, victims)
	w := &s3Writer{c: c, digest: d, size: size, key: c.blobKey(d)}
	w.ctx, w.stop = context.WithCancel(context.WithoutCancel(ctx))
	if w.f, err = os.CreateTemp(c.spoolDir, "fl-s3-blob-*"); err != nil {
		w.stop()
		c.mu.Lock()
		c.releaseLocked(w)
		c.mu.Unlock()
		return nil, fmt.Errorf("cache: %w", err)
	}
	return w, nil
}

func (c *S3Cache) checkCreate(ctx context.Context, d v1.Hash, size int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkDigest(d); err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	if size < 0 {
		return fmt.Errorf("cache: %s: negative size %d", d, size)
	}
	if size > c.max {
		return fmt.Errorf("cache: %s is %d bytes, more than the cache's maximum of %d bytes: %w", d, size, c.max, ErrTooLarge)
	}
	return nil
}

// Room implements Cache: Create's checks, without evicting or reserving.
func (c *S3Cache) Room(ctx context.Context, d v1.Hash, size int64) error {
	if err := c.checkCreate(ctx, d, size); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	_, err := c.planLocked(d, size)
	return err
}

// planLocked finds the blobs to evict to make room for size bytes.
func (c *S3Cache) planLocked(d v1.Hash, size int64) ([]*s3Entry, error) {
	need := c.used + c.reserved + size - c.max
	var victims []*s3Entry
	freed := int64(0)
	for el := c.order.Front(); el != nil && freed < need; el = el.Next() {
		e := el.Value.(*s3Entry)
		if e.open > 0 || c.writing[e.digest] > 0 {
			continue
		}
		victims = append(victims, e)
		freed += e.size
	}
	if freed < need {
		return nil, fmt.Errorf("cache: no room for %s (%d bytes) now: %d bytes cached and %d reserved of the %d allowed, and the rest is in use: %w",
			d, size, c.used, c.reserved, c.max, ErrNoSpace)
	}
	return victims, nil
}

// releaseLocked ends w's reservation: its bytes are now a blob, or gone.
func (c *S3Cache) releaseLocked(w *s3Writer) {
	c.reserved -= w.size
	if c.writing[w.digest]--; c.writing[w.digest] <= 0 {
		delete(c.writing, w.digest)
	}
}
