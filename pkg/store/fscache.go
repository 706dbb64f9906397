package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// FSCache is a Cache in a directory: blobs/ALG/XX/HEX, written under spool/
// and renamed into place.
type FSCache struct {
	dir string
}

var _ Cache = (*FSCache)(nil)

// OpenFSCache opens (creating) the cache under dir. Spooled files left by
// an earlier run are removed: they were never verified.
func OpenFSCache(dir string) (*FSCache, error) {
	c := &FSCache{dir: dir}
	if err := os.RemoveAll(c.SpoolDir()); err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	for _, d := range []string{filepath.Join(dir, "blobs"), c.SpoolDir()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("cache: %w", err)
		}
	}
	return c, nil
}

func (c *FSCache) path(d v1.Hash) string {
	pre := d.Hex
	if len(pre) > 2 {
		pre = pre[:2]
	}
	return filepath.Join(c.dir, "blobs", d.Algorithm, pre, d.Hex)
}

// SpoolDir implements Cache.
func (c *FSCache) SpoolDir() string { return filepath.Join(c.dir, "spool") }

// Open implements Cache.
func (c *FSCache) Open(_ context.Context, d v1.Hash) (Blob, error) {
	f, err := os.Open(c.path(d))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("cache: %w", err)
	}
	return &fileBlob{File: f, size: fi.Size(), mod: fi.ModTime()}, nil
}

// Commit implements Cache.
func (c *FSCache) Commit(_ context.Context, d v1.Hash, spool string) error {
	if filepath.Dir(spool) != c.SpoolDir() {
		return fmt.Errorf("cache: %s is not under %s", spool, c.SpoolDir())
	}
	dst := c.path(d)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	if err := os.Rename(spool, dst); err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	return nil
}

type fileBlob struct {
	*os.File
	size int64
	mod  time.Time
}

// OSFile lets a server hand the file to sendfile.
func (b *fileBlob) OSFile() *os.File { return b.File }

func (b *fileBlob) Size() int64        { return b.size }
func (b *fileBlob) ModTime() time.Time { return b.mod }
