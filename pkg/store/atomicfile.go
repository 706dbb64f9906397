package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// writeFileAtomic writes b to path through a temporary file in tmpDir
// (which must be on the same filesystem), renamed into place, so a reader
// sees the old content or the new, never a part. With sync, the file is
// flushed to disk before the rename. The temporary file is removed on any
// failure.
func writeFileAtomic(tmpDir, path string, b []byte, sync bool) (err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(tmpDir, "w-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = os.Remove(f.Name())
		}
	}()
	_, err = f.Write(b)
	if err == nil && sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return os.Rename(f.Name(), path)
}

// removeIfExists removes path; a path that is not there is no error.
func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// emptyDir removes everything in dir and makes sure dir exists.
func emptyDir(dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	return os.MkdirAll(dir, 0o755)
}
