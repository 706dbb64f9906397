package store

import (
	"os"

	"golang.org/x/sys/unix"
)

// syncFS flushes the filesystem that holds dir: one call makes every
// index file written before it durable, where a sync per file made a
// manifest of a thousand layers cost a thousand syncs.
func syncFS(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.Syncfs(int(f.Fd()))
}
