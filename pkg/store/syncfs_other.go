//go:build !linux

package store

import "os"

// syncFS flushes dir itself; elsewhere than Linux there is no call that
// flushes a whole filesystem.
func syncFS(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
