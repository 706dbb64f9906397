// Package datadir holds what fl serve and fl gc share about a data dir:
// the exclusive lock that keeps one process at a time in it.
package datadir

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// ErrInUse is returned when another process holds the lock.
var ErrInUse = errors.New("data dir in use")

// Lock is the exclusive lock (flock on DIR/lock, which holds the pid)
// that one fl serve, or one fl gc, holds on a data dir.
type Lock struct{ f *os.File }

// Acquire takes the lock on dir without waiting. If another process holds
// it, the error wraps ErrInUse and names the holder's pid.
func Acquire(dir string) (*Lock, error) {
	path := filepath.Join(dir, "lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o644)
	if err != nil {
		return nil, err
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
			return nil, fmt.Errorf("%s: %w (%s)", dir, ErrInUse, holder)
		}
		return nil, fmt.Errorf("locking %s: %w", dir, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &Lock{f: f}, nil
}

// Release gives the lock up; a nil Lock does nothing. The pid is left: a
// reader that finds the lock free ignores it.
func (l *Lock) Release() {
	if l != nil {
		_ = l.f.Close()
	}
}
