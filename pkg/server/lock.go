package server

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// dirLock is the exclusive lock one fl serve holds on its data dir, so a
// second server cannot share (and empty the spool of) the first's.
type dirLock struct{ f *os.File }

// lockDataDir takes the lock on dir, or says who holds it.
func lockDataDir(dir string) (*dirLock, error) {
	path := filepath.Join(dir, "lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("--data-dir: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			holder := "unknown pid"
			if b, rerr := os.ReadFile(path); rerr == nil {
				if pid, perr := strconv.Atoi(string(bytes.TrimSpace(b))); perr == nil {
					holder = "pid " + strconv.Itoa(pid)
				}
			}
			return nil, fmt.Errorf("--data-dir %s is in use by another fl serve (%s); stop it, or give this one a --data-dir of its own", dir, holder)
		}
		return nil, fmt.Errorf("locking --data-dir %s: %w", dir, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &dirLock{f: f}, nil
}

// release gives the lock up. The pid is left: a reader that finds the lock
// free ignores it.
func (l *dirLock) release() {
	if l != nil {
		_ = l.f.Close()
	}
}
