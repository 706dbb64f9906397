package store

import (
	"context"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Remove implements Cache.
func (c *S3Cache) Remove(ctx context.Context, d v1.Hash) error {
	if err := checkDigest(d); err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	c.mu.Lock()
	e, err := c.entryLocked(ctx, d)
	switch {
	case err != nil:
		c.mu.Unlock()
		return err
	case e.open > 0:
		c.mu.Unlock()
		return fmt.Errorf("cache: %s is being read: %w", d, ErrInUse)
	case c.writing[d] > 0:
		c.mu.Unlock()
		return fmt.Errorf("cache: %s is being written: %w", d, ErrInUse)
	}
	victims := []*s3Entry{e}
	c.deleteLocked(victims)
	c.mu.Unlock()
	return c.finishDeletes(ctx, victims)
}

// deleteLocked forgets blobs nobody holds and marks them being deleted;
// finishDeletes deletes their objects.
func (c *S3Cache) deleteLocked(victims []*s3Entry) {
	for _, e := range victims {
		if e.marked {
			e.marked = false
			c.marked -= e.size
		}
		delete(c.blobs, e.digest)
		c.order.Remove(e.el)
		c.used -= e.size
		c.deleting[e.digest] = make(chan struct{})
	}
}

func (c *S3Cache) finishDeletes(ctx context.Context, victims []*s3Entry) error {
	var firstErr error
	for _, e := range victims {
		err := c.loc.delete(context.WithoutCancel(ctx), c.blobKey(e.digest))
		if err == nil {
			err = c.loc.delete(context.WithoutCancel(ctx), c.metaKey(e.digest))
		}
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("cache: %w", err)
		}
		c.mu.Lock()
		close(c.deleting[e.digest])
		delete(c.deleting, e.digest)
		c.mu.Unlock()
	}
	return firstErr
}

// evictLocked starts evicting the least recently used blobs victims.
func (c *S3Cache) evictLocked(victims []*s3Entry) {
	c.deleteLocked(victims)
	c.evicted += int64(len(victims))
}

func (c *S3Cache) finishEvictions(ctx context.Context, victims []*s3Entry) {
	for _, e := range victims {
		if err := c.finishDeletes(ctx, []*s3Entry{e}); err != nil {
			c.log.Warn("cache: evicting", "digest", e.digest.String(), "error", err)
			continue
		}
		c.log.Info("evicted from the cache", "digest", e.digest.String(), "size", e.size, "last_use", e.lastUse)
	}
}
