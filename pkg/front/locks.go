package front

import (
	"sync"

	"github.com/foreignlayers/fl/pkg/name"
)

// repoLocks serialise, per repository, what must not interleave: checking
// a manifest's sizes against the index, storing it, and recording it. Two
// PUTs that declare one digest with two sizes at once would otherwise both
// pass the check. Each repository has a lock of its own, while anyone
// holds or waits for it, so one repository's slow push never holds back
// another's.
type repoLocks struct {
	mu    sync.Mutex
	locks map[string]*repoLock
}

type repoLock struct {
	sync.Mutex
	users int // holding or waiting
}

func newRepoLocks() *repoLocks { return &repoLocks{locks: map[string]*repoLock{}} }

// lock locks repo's lock and returns its unlock.
func (l *repoLocks) lock(repo name.Repository) func() {
	key := repo.String()
	l.mu.Lock()
	rl := l.locks[key]
	if rl == nil {
		rl = &repoLock{}
		l.locks[key] = rl
	}
	rl.users++
	l.mu.Unlock()
	rl.Lock()
	return func() {
		rl.Unlock()
		l.mu.Lock()
		if rl.users--; rl.users == 0 {
			delete(l.locks, key)
		}
		l.mu.Unlock()
	}
}
