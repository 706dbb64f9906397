package store

import (
	"context"
	"fmt"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Create implements Cache. The room is reserved within MaxBytes before
// anything is written. It is not made at once: the least recently used
// blobs that nobody in this replica reads or writes, and that no other
// writer marked, are only marked, and stay committed and readable. The
// writer's Commit evicts (planning again, see makeRoomLocked); its
// Cancel, or a failed Commit, unmarks them. So a fetch whose bytes fail
// verification evicts nothing.
func (c *S3Cache) Create(ctx context.Context, d v1.Hash, size int64) (Writer, error) {
	if err := c.checkCreate(ctx, d, size); err != nil {
		return nil, err
	}
	w := &s3Writer{c: c, digest: d, size: size, key: c.blobKey(d)}
	c.mu.Lock()
	// An eviction of d in flight must end first: its delete would
	// otherwise remove what this writer commits.
	if err := c.waitDeletedLocked(ctx, d); err != nil {
		c.mu.Unlock()
		return nil, err
	}
	mark, err := c.planLocked(d, size)
	if err == nil {
		for _, e := range mark {
			e.marked = true
			c.marked += e.size
		}
		w.victims = mark
		c.reserved += size
		c.writing[d]++
	}
	c.mu.Unlock()
	if err != nil {
		return nil, err
	}
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

// Room implements Cache: Create's checks, without evicting, marking or
// reserving.
func (c *S3Cache) Room(ctx context.Context, d v1.Hash, size int64) error {
	if err := c.checkCreate(ctx, d, size); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	_, err := c.planLocked(d, size)
	return err
}

// planLocked finds the blobs to mark to make room for size bytes: never
// one open, being written, or marked by another writer.
func (c *S3Cache) planLocked(d v1.Hash, size int64) ([]*s3Entry, error) {
	need := c.used - c.marked + c.reserved + size - c.max
	var victims []*s3Entry
	freed := int64(0)
	for el := c.order.Front(); el != nil && freed < need; el = el.Next() {
		e := el.Value.(*s3Entry)
		if e.open > 0 || c.writing[e.digest] > 0 || e.marked {
			continue
		}
		victims = append(victims, e)
		freed += e.size
	}
	if freed < need {
		return nil, fmt.Errorf("cache: no room for %s (%d bytes) now: %d bytes cached (%d of them marked for eviction) and %d reserved of the %d allowed, and the rest is in use: %w",
			d, size, c.used, c.marked, c.reserved, c.max, ErrNoSpace)
	}
	return victims, nil
}

// releaseLocked ends w's reservation, and unmarks its victims: its bytes
// are now a blob, or gone.
func (c *S3Cache) releaseLocked(w *s3Writer) {
	c.reserved -= w.size
	if c.writing[w.digest]--; c.writing[w.digest] <= 0 {
		delete(c.writing, w.digest)
	}
	for _, e := range w.victims {
		if e.marked { // a Remove may have taken it meanwhile
			e.marked = false
			c.marked -= e.size
		}
	}
	w.victims = nil
}

// makeRoomLocked starts evicting least recently used blobs until the
// committed blobs and the reservations, less what writers in progress
// marked, fit MaxBytes again; finishEvictions, without c.mu, deletes
// their objects. It runs at each Commit (after the writer's marks were
// released, so it plans again: its victims, unless they were opened or
// are being written meanwhile, are still the least recently used), and
// when a blob's last reader in this replica closes it. It never evicts a
// blob open or being written in this replica, marked by another writer,
// or keep (the blob just committed).
//
// When that cannot make the room, the new blob is kept anyway, and over
// says by how many bytes the cache is over its cap until the next
// eviction (see FSCache.makeRoomLocked for why, rather than ErrNoSpace).
func (c *S3Cache) makeRoomLocked(keep v1.Hash) (victims []*s3Entry, over int64) {
	need := c.used - c.marked + c.reserved - c.max
	for el := c.order.Front(); el != nil && need > 0; el = el.Next() {
		e := el.Value.(*s3Entry)
		if e.open > 0 || c.writing[e.digest] > 0 || e.marked || e.digest == keep {
			continue
		}
		victims = append(victims, e)
		need -= e.size
	}
	c.evictLocked(victims)
	return victims, max(need, 0)
}
