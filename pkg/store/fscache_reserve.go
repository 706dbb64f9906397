package store

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Create implements Cache. The room is reserved before the spool file
// exists: within MaxBytes, and within the filesystem's free space less
// MinFree and less what the other writers have reserved but not yet
// written.
//
// Room under MaxBytes is not made at once: the least recently used blobs
// that nobody reads or writes, and that no other writer marked, are only
// marked, and stay committed and readable. The writer's Commit evicts
// (planning again, see makeRoomLocked); its Cancel, or a failed Commit,
// unmarks them. So a fetch whose bytes fail verification evicts nothing.
// Blobs are deleted at Create only when the filesystem itself cannot hold
// the new spool otherwise (its free space less MinFree), and only as many
// as that takes.
//
// ErrTooLarge is returned when size exceeds MaxBytes, or the free space
// less MinFree even if the cache held nothing; ErrNoSpace when the room
// is held by blobs in use, being written, or marked by other writers.
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
	w := &fsWriter{c: c, digest: d, size: size}
	c.mu.Lock()
	err = c.reserveLocked(w, free)
	c.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if w.f, err = os.CreateTemp(c.spoolDir(), "blob-*"); err != nil {
		c.mu.Lock()
		c.releaseLocked(w)
		c.mu.Unlock()
		return nil, fmt.Errorf("cache: %w", err)
	}
	return w, nil
}

// Room implements Cache: Create's checks, without evicting, marking or
// reserving.
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
	_, _, err = c.planLocked(d, size, free)
	return err
}

// reserveLocked deletes the blobs the filesystem needs gone now, marks
// those the cap needs gone at Commit, and reserves w's size.
func (c *FSCache) reserveLocked(w *fsWriter, free int64) error {
	now, mark, err := c.planLocked(w.digest, w.size, free)
	if err != nil {
		return err
	}
	for _, e := range now {
		c.evictLocked(e)
	}
	for _, e := range mark {
		e.marked = true
		c.marked += e.size
	}
	w.victims = mark
	c.reserved += w.size
	c.writing[w.digest]++
	return nil
}

// planLocked finds the blobs to delete now, for the filesystem, and those
// to mark, for the cap, to make room for size bytes. Neither is ever a
// blob open or being written; a blob another writer marked may be
// deleted for the filesystem (it frees disk; that writer's room under
// the cap is unchanged: used and marked drop together), never marked
// again.
func (c *FSCache) planLocked(d v1.Hash, size, free int64) (now, mark []*cacheEntry, err error) {
	spooled := c.spooled.Load()
	unwritten := max(c.reserved-spooled, 0)
	if size > free-c.minFree+c.used+spooled {
		return nil, nil, fmt.Errorf("cache: %s is %d bytes, more than the filesystem's free space (%d bytes, and %d bytes of cached blobs) less the minimum to keep free (%d bytes): %w",
			d, size, free, c.used+spooled, c.minFree, ErrTooLarge)
	}
	diskNeed := size - (free - c.minFree - unwritten)
	capNeed := c.used - c.marked + c.reserved + size - c.max
	var disk, room int64 // freed on the filesystem, made under the cap
	for el := c.order.Front(); el != nil && (disk < diskNeed || room < capNeed); el = el.Next() {
		e := el.Value.(*cacheEntry)
		if e.open > 0 || c.writing[e.digest] > 0 {
			continue
		}
		switch {
		case disk < diskNeed:
			now = append(now, e)
			disk += e.size
			if !e.marked {
				room += e.size
			}
		case !e.marked:
			mark = append(mark, e)
			room += e.size
		}
	}
	if disk < diskNeed || room < capNeed {
		return nil, nil, fmt.Errorf("cache: no room for %s (%d bytes) now: %d bytes cached (%d of them marked for eviction) and %d reserved of the %d allowed, %d bytes free on the filesystem (%d to keep free), and the rest is in use: %w",
			d, size, c.used, c.marked, c.reserved, c.max, free, c.minFree, ErrNoSpace)
	}
	return now, mark, nil
}

// releaseLocked ends w's reservation, and unmarks its victims: its bytes
// are now a blob, or gone.
func (c *FSCache) releaseLocked(w *fsWriter) {
	c.reserved -= w.size
	c.spooled.Add(-w.n)
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

// makeRoomLocked evicts least recently used blobs until the committed
// blobs and the reservations, less what writers in progress marked, fit
// MaxBytes again. It runs at each Commit (after the writer's marks were
// released, so it plans again: its victims, unless they were opened or
// are being written meanwhile, are still the least recently used), and
// when a blob is closed. It never evicts a blob open, being written,
// marked by another writer, or keep (the blob just committed).
//
// When that cannot make the room (every candidate was opened since
// Create), the new blob is kept anyway and the cache stays over its cap
// until the next eviction, which the last reader's Close triggers; it
// returns by how many bytes, for Commit to log. This
// rather than failing Commit with ErrNoSpace: the bytes are fetched and
// verified already, failing would waste them and fail the clients that
// wait for them, only to fetch them again; and the excess is bounded by
// the blobs that were opened in the meantime, which Create had counted as
// room and which are read, hence worth keeping, at that moment.
func (c *FSCache) makeRoomLocked(keep v1.Hash) (over int64) {
	need := c.used - c.marked + c.reserved - c.max
	for el := c.order.Front(); el != nil && need > 0; {
		e := el.Value.(*cacheEntry)
		el = el.Next()
		if e.open > 0 || c.writing[e.digest] > 0 || e.marked || e.digest == keep {
			continue
		}
		c.evictLocked(e)
		need -= e.size
	}
	return max(need, 0)
}

// logOver notes that a Commit left the cache over its cap.
func logOver(log *slog.Logger, d v1.Hash, over, max int64) {
	if over > 0 {
		log.Warn("the cache is over its cap until the next eviction: the blobs that would make room were opened since the fetch began",
			"digest", d.String(), "over_bytes", over, "max", max)
	}
}
