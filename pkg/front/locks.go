package front

import (
	"hash/maphash"
	"sync"

	"github.com/foreignlayers/fl/pkg/name"
)

// repoLocks serialise, per repository, what must not interleave: checking
// a manifest's sizes against the index, storing it, and recording it. Two
// PUTs that declare one digest with two sizes at once would otherwise both
// pass the check. Repositories share one of a fixed number of locks.
type repoLocks struct {
	seed  maphash.Seed
	locks [64]sync.Mutex
}

func newRepoLocks() *repoLocks { return &repoLocks{seed: maphash.MakeSeed()} }

// lock locks repo's lock and returns its unlock.
func (l *repoLocks) lock(repo name.Repository) func() {
	m := &l.locks[maphash.String(l.seed, repo.String())%uint64(len(l.locks))]
	m.Lock()
	return m.Unlock
}
