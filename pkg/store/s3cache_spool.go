package store

import (
	"context"
	"os"
	"sync/atomic"

	v1 "github.com/google/go-containerregistry/pkg/v1"
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
	var victims []*s3Entry
	if r.w.entry != nil {
		if r.w.entry.open--; r.w.entry.open == 0 {
			victims, _ = c.makeRoomLocked(v1.Hash{})
		}
	}
	c.mu.Unlock()
	c.finishEvictions(context.Background(), victims)
	return err
}
