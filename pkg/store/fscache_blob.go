package store

import (
	"os"
	"slices"
	"sync/atomic"
	"time"
)

// fsBlob is an open committed blob.
type fsBlob struct {
	f      *os.File
	c      *FSCache
	e      *cacheEntry
	size   int64
	mod    time.Time
	closed atomic.Bool
}

var _ Blob = (*fsBlob)(nil)

func (b *fsBlob) Read(p []byte) (int, error)                { return b.f.Read(p) }
func (b *fsBlob) ReadAt(p []byte, off int64) (int, error)   { return b.f.ReadAt(p, off) }
func (b *fsBlob) Seek(off int64, whence int) (int64, error) { return b.f.Seek(off, whence) }
func (b *fsBlob) Size() int64                               { return b.size }
func (b *fsBlob) ModTime() time.Time                        { return b.mod }

// OSFile is the open file, for a server to hand to sendfile. It stays
// owned by the Blob: close the Blob, not the file.
func (b *fsBlob) OSFile() *os.File { return b.f }

// Sources implements Blob.
func (b *fsBlob) Sources() []string {
	b.c.mu.Lock()
	defer b.c.mu.Unlock()
	b.c.loadSourcesLocked(b.e)
	return slices.Clone(b.e.sources)
}

// Close releases the blob; closing it again does nothing.
func (b *fsBlob) Close() error {
	if b.closed.Swap(true) {
		return nil
	}
	err := b.f.Close()
	b.c.release(b.e, false)
	return err
}
