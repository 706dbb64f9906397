package store

import (
	"encoding/json"
	"fmt"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// MaxSources is how many sources a cached blob remembers, newest last.
const MaxSources = 32

type blobMeta struct {
	Sources []string `json:"sources"`
}

// loadSourcesLocked reads e's sources once. Sources that cannot be read
// are logged and count as none: a blob without sources is fetched again,
// which is safe.
func (c *FSCache) loadSourcesLocked(e *cacheEntry) {
	if e.loaded {
		return
	}
	e.loaded = true
	var m blobMeta
	ok, err := readJSON(c.metaPath(e.digest), &m)
	if err != nil {
		c.log.Warn("cache: reading a blob's sources", "digest", e.digest.String(), "error", err)
		return
	}
	if ok {
		e.sources = m.Sources
	}
}

func (c *FSCache) writeMeta(d v1.Hash, sources []string) error {
	b, err := json.Marshal(blobMeta{Sources: sources})
	if err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	// Not synced: a lost update loses sources, and a blob without the
	// requester's source is fetched again.
	if err := writeFileAtomic(c.spoolDir(), c.metaPath(d), b, false); err != nil {
		return fmt.Errorf("cache: sources of %s: %w", d, err)
	}
	return nil
}

// addSource returns sources with s last (moved there if it was already
// in), keeping the newest MaxSources.
func addSource(sources []string, s string) []string {
	out := slices.DeleteFunc(slices.Clone(sources), func(x string) bool { return x == s })
	out = append(out, s)
	if len(out) > MaxSources {
		out = out[len(out)-MaxSources:]
	}
	return out
}
