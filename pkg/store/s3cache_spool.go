package store

import (
	"os"
	"sync/atomic"
)

// s3SpoolReader follows a blob being written. While it is open, the blob
// it becomes is not evicted by this replica.
type s3SpoolReader struct {
	f      *os.File
	w      *s3Writer
	closed atomic.Bool
}

func (r *s3SpoolReader) ReadAt(p []byte, off int64) (int, error) { return r.f.ReadAt(p, off) }

func (r *s3SpoolReader) Close() error {
	if r.closed.Swap(true) {
		return nil
	}
	err := r.f.Close()
	c := r.w.c
	c.mu.Lock()
	r.w.readers--
	if r.w.entry != nil {
		r.w.entry.open--
	}
	c.mu.Unlock()
	return err
}
