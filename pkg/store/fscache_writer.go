package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// fsWriter writes a blob into a spool file, renamed into blobs/ at Commit.
type fsWriter struct {
	c      *FSCache
	digest v1.Hash
	size   int64 // reserved

	mu    sync.Mutex
	f     *os.File
	n     int64 // written
	state writerState

	victims []*cacheEntry // marked at Create, for the cap; guarded by c.mu

	// Guarded by c.mu: the readers NewReader opened, and after Commit the
	// blob they read, which they keep from eviction.
	readers int
	entry   *cacheEntry
}

var _ Writer = (*fsWriter)(nil)

type writerState int

const (
	writing writerState = iota
	committed
	cancelled
)

// Write implements Writer. Bytes past the reserved size are refused: an
// upstream that sends more than it declared cannot grow the cache.
func (w *fsWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.state != writing {
		return 0, fmt.Errorf("cache: %s: write after Commit or Cancel", w.digest)
	}
	if int64(len(p)) > w.size-w.n {
		return 0, fmt.Errorf("cache: %s: writing %d bytes after %d would pass the %d reserved", w.digest, len(p), w.n, w.size)
	}
	n, err := w.f.Write(p)
	w.n += int64(n)
	w.c.spooled.Add(int64(n))
	if err != nil {
		return n, fmt.Errorf("cache: %w", err)
	}
	return n, nil
}

// NewReader implements Writer. Before Commit it reads the spool file (and
// keeps reading it after the rename); after Commit it opens the blob.
func (w *fsWriter) NewReader() (ReaderAtCloser, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch w.state {
	case committed:
		return w.c.Open(context.Background(), w.digest)
	case cancelled:
		return nil, fmt.Errorf("cache: %s: reading a cancelled write", w.digest)
	}
	f, err := os.Open(w.f.Name())
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	w.c.mu.Lock()
	w.readers++
	w.c.mu.Unlock()
	return &spoolReader{f: f, w: w}, nil
}

// Commit implements Writer. Every failure is final: the spool is
// removed and the reservation released.
func (w *fsWriter) Commit(ctx context.Context, source string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.state != writing {
		return fmt.Errorf("cache: %s: Commit after Commit or Cancel", w.digest)
	}
	err := w.flush(ctx, source)
	c := w.c
	c.mu.Lock()
	if err == nil {
		err = c.commitLocked(w, source)
	}
	c.releaseLocked(w)
	if err == nil {
		// The room marked at Create is made now, planned again.
		logOver(c.log, w.digest, c.makeRoomLocked(w.digest), c.max)
	}
	c.mu.Unlock()
	if err != nil {
		w.state = cancelled
		_ = w.f.Close()
		_ = os.Remove(w.f.Name())
		return err
	}
	w.state = committed
	return nil
}

// flush checks that the blob is whole and puts it on disk.
func (w *fsWriter) flush(ctx context.Context, source string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if source == "" {
		return fmt.Errorf("cache: %s: Commit without a source", w.digest)
	}
	if w.n != w.size {
		return fmt.Errorf("cache: %s: %d bytes written of %d", w.digest, w.n, w.size)
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	return nil
}

// commitLocked makes the spool the blob, or adds source to the blob that
// is there already and drops the spool.
func (c *FSCache) commitLocked(w *fsWriter, source string) error {
	d, spool := w.digest, w.f.Name()
	now := time.Now()
	e := c.blobs[d]
	if e != nil {
		c.loadSourcesLocked(e)
		sources := addSource(e.sources, source)
		if err := c.writeMeta(d, sources); err != nil {
			return err
		}
		e.sources = sources
		_ = os.Remove(spool)
	} else {
		sources := []string{source}
		if err := c.writeMeta(d, sources); err != nil {
			return err
		}
		p := c.blobPath(d)
		err := os.MkdirAll(filepath.Dir(p), 0o755)
		if err == nil {
			err = os.Rename(spool, p)
		}
		if err != nil {
			_ = removeIfExists(c.metaPath(d))
			return fmt.Errorf("cache: %w", err)
		}
		e = &cacheEntry{digest: d, size: w.n, persisted: now, sources: sources, loaded: true}
		e.el = c.order.PushBack(e)
		c.blobs[d] = e
		c.used += e.size
		e.open += w.readers
		w.entry = e
	}
	e.lastUse = now
	c.order.MoveToBack(e.el)
	return nil
}

// Cancel implements Writer.
func (w *fsWriter) Cancel() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.state != writing {
		return nil
	}
	w.state = cancelled
	err := errors.Join(w.f.Close(), os.Remove(w.f.Name()))
	w.c.mu.Lock()
	w.c.releaseLocked(w)
	w.c.mu.Unlock()
	if err != nil {
		return fmt.Errorf("cache: cancelling %s: %w", w.digest, err)
	}
	return nil
}

// spoolReader follows a blob being written. While it is open, the blob
// it becomes is not evicted.
type spoolReader struct {
	f      *os.File
	w      *fsWriter
	closed atomic.Bool
}

func (r *spoolReader) ReadAt(p []byte, off int64) (int, error) { return r.f.ReadAt(p, off) }

func (r *spoolReader) Close() error {
	if r.closed.Swap(true) {
		return nil
	}
	err := r.f.Close()
	c := r.w.c
	c.mu.Lock()
	r.w.readers--
	if r.w.entry != nil {
		if r.w.entry.open--; r.w.entry.open == 0 {
			c.makeRoomLocked(v1.Hash{}) // a Commit may have left the cache over its cap
		}
	}
	c.mu.Unlock()
	return err
}
