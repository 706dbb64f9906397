// Package gc collects the garbage of a stopped fl serve's data dir: the
// embedded registry's unreferenced blobs (distribution's mark and sweep),
// and the foreign-layer cache blobs and index entries that no stored
// manifest references any more.
package gc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/foreignlayers/fl/pkg/backend"
	"github.com/foreignlayers/fl/pkg/datadir"
	"github.com/foreignlayers/fl/pkg/store"
)

// Options configure Collect.
type Options struct {
	DataDir string
	// DryRun reports what would be freed and changes nothing.
	DryRun bool
	// DeleteUntagged also deletes manifests that no tag points at and no
	// kept index references.
	DeleteUntagged bool
	Logger         *slog.Logger
}

// Report is what a collection freed (or, in a dry run, would free).
type Report struct {
	DryRun   bool          `json:"dryRun"`
	Registry RegistryFreed `json:"registry"`
	Cache    CacheFreed    `json:"cache"`
	Index    IndexFreed    `json:"index"`
	// Bytes is the registry's and the cache's bytes together.
	Bytes int64 `json:"bytes"`
}

// RegistryFreed is what the embedded registry lost.
type RegistryFreed struct {
	Manifests []RepoDigest `json:"manifests"`
	Blobs     []Blob       `json:"blobs"`
	Bytes     int64        `json:"bytes"`
}

// CacheFreed is what the foreign-layer cache lost.
type CacheFreed struct {
	Blobs []Blob `json:"blobs"`
	Bytes int64  `json:"bytes"`
}

// IndexFreed is what the foreign-layer index lost: records of manifests
// the registry no longer holds, and layers no kept manifest declares.
type IndexFreed struct {
	Manifests []RepoDigest `json:"manifests"`
	Layers    []RepoDigest `json:"layers"`
}

// Blob is a blob and its size.
type Blob struct {
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
}

// RepoDigest is a digest in a repository.
type RepoDigest struct {
	Repository string `json:"repository"`
	Digest     string `json:"digest"`
}

// Collect runs the collection. It holds the data dir's lock throughout,
// so it refuses to run while fl serve (or another fl gc) holds it, and no
// server can start until it is done.
func Collect(ctx context.Context, o Options) (*Report, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	dir, err := filepath.Abs(o.DataDir)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("--data-dir %s: not a data dir of fl serve", dir)
	}
	lock, err := datadir.Acquire(dir)
	if errors.Is(err, datadir.ErrInUse) {
		return nil, fmt.Errorf("--data-dir %w by a running fl serve (or fl gc); fl gc runs with the server stopped", err)
	} else if err != nil {
		return nil, fmt.Errorf("--data-dir: %w", err)
	}
	defer lock.Release()

	regDir, idxDir, cacheDir := filepath.Join(dir, "registry"), filepath.Join(dir, "index"), filepath.Join(dir, "cache")
	if _, err := os.Stat(regDir); errors.Is(err, os.ErrNotExist) {
		if err := mustBeEmpty(ctx, idxDir, cacheDir); err != nil {
			return nil, err
		}
	}
	res, err := backend.CollectEmbedded(ctx, regDir, backend.GCOptions{DryRun: o.DryRun, DeleteUntagged: o.DeleteUntagged, Logger: o.Logger})
	if err != nil {
		return nil, fmt.Errorf("the embedded registry: %w", err)
	}
	rep := &Report{DryRun: o.DryRun}
	for repo, ds := range res.Manifests {
		for _, d := range ds {
			rep.Registry.Manifests = append(rep.Registry.Manifests, RepoDigest{repo, d.String()})
		}
	}
	for d, size := range res.Blobs {
		rep.Registry.Blobs = append(rep.Registry.Blobs, Blob{d.String(), size})
		rep.Registry.Bytes += size
	}

	// What the kept manifests reference with urls, per repository and in all.
	kept := map[string]map[v1.Hash]bool{}    // manifests per repository
	foreign := map[string]map[v1.Hash]bool{} // foreign layers per repository
	anyForeign := map[v1.Hash]bool{}
	for repo, ms := range res.Kept {
		kept[repo], foreign[repo] = map[v1.Hash]bool{}, map[v1.Hash]bool{}
		for m, descs := range ms {
			if h, err := v1.NewHash(m.String()); err == nil {
				kept[repo][h] = true
			}
			for _, d := range descs {
				if h, err := v1.NewHash(d.Digest.String()); err == nil {
					foreign[repo][h] = true
					anyForeign[h] = true
				}
			}
		}
	}
	if err := collectIndex(ctx, idxDir, o.DryRun, kept, foreign, &rep.Index); err != nil {
		return nil, err
	}
	if err := collectCache(ctx, cacheDir, o, anyForeign, &rep.Cache); err != nil {
		return nil, err
	}
	rep.Bytes = rep.Registry.Bytes + rep.Cache.Bytes
	rep.sort()
	return rep, nil
}

// mustBeEmpty refuses a data dir without an embedded registry whose index
// or cache holds something: that is a data dir of fl serve --upstream,
// whose manifests live in the upstream registry.
func mustBeEmpty(ctx context.Context, idxDir, cacheDir string) error {
	found := false
	if err := store.WalkFSIndex(ctx, idxDir, func(store.IndexRepository) error { found = true; return store.ErrStop }); err != nil {
		return err
	}
	blobs, err := store.ListFSCache(cacheDir)
	if err != nil {
		return err
	}
	if found || len(blobs) > 0 {
		return errors.New("the data dir has no embedded registry, but an index or a cache: it belongs to fl serve --upstream, whose manifests live in the upstream registry; fl gc collects only the embedded registry's data")
	}
	return nil
}

// collectIndex forgets the manifests the registry no longer holds, and
// removes the layers no kept manifest of their repository declares.
func collectIndex(ctx context.Context, dir string, dryRun bool, kept, foreign map[string]map[v1.Hash]bool, out *IndexFreed) error {
	var repos []store.IndexRepository
	if err := store.WalkFSIndex(ctx, dir, func(r store.IndexRepository) error { repos = append(repos, r); return nil }); err != nil {
		return err
	}
	if len(repos) == 0 {
		return nil
	}
	var idx *store.FSIndex
	if !dryRun {
		var err error
		if idx, err = store.OpenFSIndex(dir); err != nil {
			return err
		}
	}
	for _, r := range repos {
		name := r.Repo.String()
		for _, m := range r.Manifests {
			if kept[name][m] {
				continue
			}
			out.Manifests = append(out.Manifests, RepoDigest{name, m.String()})
			if idx != nil {
				if err := idx.Forget(ctx, r.Repo, m); err != nil {
					return err
				}
			}
		}
		for _, l := range r.Layers {
			if foreign[name][l] {
				continue
			}
			out.Layers = append(out.Layers, RepoDigest{name, l.String()})
			if idx != nil {
				if err := idx.Remove(ctx, r.Repo, l); err != nil && !errors.Is(err, store.ErrNotFound) {
					return err
				}
			}
		}
	}
	return nil
}

// collectCache removes the cached blobs no kept manifest declares with
// urls.
func collectCache(ctx context.Context, dir string, o Options, foreign map[v1.Hash]bool, out *CacheFreed) error {
	blobs, err := store.ListFSCache(dir)
	if err != nil || len(blobs) == 0 {
		return err
	}
	var c *store.FSCache
	if !o.DryRun {
		if c, err = store.OpenFSCache(dir, store.FSCacheOptions{MaxBytes: math.MaxInt64, Logger: o.Logger}); err != nil {
			return err
		}
	}
	for _, b := range blobs {
		if foreign[b.Digest] {
			continue
		}
		if c != nil {
			if err := c.Remove(ctx, b.Digest); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		out.Blobs = append(out.Blobs, Blob{b.Digest.String(), b.Size})
		out.Bytes += b.Size
	}
	return nil
}

func (r *Report) sort() {
	byRepo := func(a, b RepoDigest) int {
		return strings.Compare(a.Repository+"@"+a.Digest, b.Repository+"@"+b.Digest)
	}
	byDigest := func(a, b Blob) int { return strings.Compare(a.Digest, b.Digest) }
	slices.SortFunc(r.Registry.Manifests, byRepo)
	slices.SortFunc(r.Registry.Blobs, byDigest)
	slices.SortFunc(r.Cache.Blobs, byDigest)
	slices.SortFunc(r.Index.Manifests, byRepo)
	slices.SortFunc(r.Index.Layers, byRepo)
	// Empty lists, not nulls, for scripts.
	for _, l := range []*[]RepoDigest{&r.Registry.Manifests, &r.Index.Manifests, &r.Index.Layers} {
		if *l == nil {
			*l = []RepoDigest{}
		}
	}
	for _, l := range []*[]Blob{&r.Registry.Blobs, &r.Cache.Blobs} {
		if *l == nil {
			*l = []Blob{}
		}
	}
}
