package backend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/storage"
	"github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// filesystemParameters is the filesystem driver's configuration, the same
// for the embedded registry and for its garbage collection.
func filesystemParameters(root string) configuration.Parameters {
	return configuration.Parameters{"rootdirectory": root}
}

// GCOptions configure CollectEmbedded.
type GCOptions struct {
	// DryRun computes what would be freed and changes nothing.
	DryRun bool
	// DeleteUntagged also deletes manifests no tag points at, unless an
	// index that is kept references them (distribution's
	// --delete-untagged). Off by default: manifests pushed by digest
	// only (referrers, images pulled by digest) have no tag.
	DeleteUntagged bool
	Logger         *slog.Logger
}

// GCResult is what a collection of the embedded registry found.
type GCResult struct {
	// Kept is, per repository, every manifest that stays, with the
	// descriptors with urls it references (nil if none).
	Kept map[string]map[digest.Digest][]distribution.Descriptor
	// Manifests are the manifests deleted (or to be, in a dry run), per
	// repository.
	Manifests map[string][]digest.Digest
	// Blobs are the blobs freed (or to be), with their sizes.
	Blobs map[digest.Digest]int64
}

// CollectEmbedded garbage-collects the embedded registry's storage under
// root (the data dir's registry/), which no server may be using: it marks
// what the stored manifests reference and sweeps the rest with
// distribution's own mark and sweep (storage.MarkAndSweep), and reports
// what was freed. A root that does not exist holds nothing to collect.
func CollectEmbedded(ctx context.Context, root string, o GCOptions) (*GCResult, error) {
	res := &GCResult{Kept: map[string]map[digest.Digest][]distribution.Descriptor{}, Manifests: map[string][]digest.Digest{}, Blobs: map[digest.Digest]int64{}}
	if _, err := os.Stat(root); errors.Is(err, os.ErrNotExist) {
		return res, nil
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	bridgeLogrus(o.Logger)
	drv, err := filesystem.FromParameters(filesystemParameters(root))
	if err != nil {
		return nil, fmt.Errorf("registry storage: %w", err)
	}
	reg, err := storage.NewRegistry(ctx, drv, storage.EnableDelete)
	if err != nil {
		return nil, fmt.Errorf("registry storage: %w", err)
	}
	marked, err := mark(ctx, reg, o.DeleteUntagged, res)
	if err != nil {
		return nil, fmt.Errorf("marking: %w", err)
	}
	before, err := blobSizes(ctx, reg)
	if err != nil {
		return nil, err
	}
	if o.DryRun {
		for d, size := range before {
			if _, ok := marked[d]; !ok {
				res.Blobs[d] = size
			}
		}
		return res, nil
	}
	if err := storage.MarkAndSweep(ctx, drv, reg, storage.GCOpts{RemoveUntagged: o.DeleteUntagged, Quiet: true}); err != nil {
		return nil, fmt.Errorf("sweeping: %w", err)
	}
	after, err := blobSizes(ctx, reg)
	if err != nil {
		return nil, err
	}
	for d, size := range before {
		if _, ok := after[d]; !ok {
			res.Blobs[d] = size
		}
	}
	return res, nil
}

// mark walks every manifest of every repository as MarkAndSweep does:
// manifests (untagged ones too, unless deleteUntagged) and everything
// they reference, manifests of an index included, are marked. It fills
// res.Kept and res.Manifests and returns the marked digests.
func mark(ctx context.Context, reg distribution.Namespace, deleteUntagged bool, res *GCResult) (map[digest.Digest]struct{}, error) {
	marked := map[digest.Digest]struct{}{}
	type candidate struct {
		repo string
		d    digest.Digest
	}
	var untagged []candidate
	type repoState struct {
		repo distribution.Repository
		ms   distribution.ManifestService
	}
	repos := map[string]repoState{}
	enum, ok := reg.(distribution.RepositoryEnumerator)
	if !ok {
		return nil, errors.New("the registry cannot list its repositories")
	}
	err := enum.Enumerate(ctx, func(name string) error {
		named, err := reference.WithName(name)
		if err != nil {
			return fmt.Errorf("repository %q: %w", name, err)
		}
		repo, err := reg.Repository(ctx, named)
		if err != nil {
			return err
		}
		ms, err := repo.Manifests(ctx)
		if err != nil {
			return err
		}
		repos[name] = repoState{repo, ms}
		res.Kept[name] = map[digest.Digest][]distribution.Descriptor{}
		me, ok := ms.(distribution.ManifestEnumerator)
		if !ok {
			return errors.New("the registry cannot list manifests")
		}
		err = me.Enumerate(ctx, func(d digest.Digest) error {
			if deleteUntagged {
				tags, err := repo.Tags(ctx).Lookup(ctx, ocispec.Descriptor{Digest: d})
				if err != nil {
					return fmt.Errorf("tags of %s@%s: %w", name, d, err)
				}
				if len(tags) == 0 {
					untagged = append(untagged, candidate{name, d})
					return nil
				}
			}
			return markManifest(ctx, ms, d, marked, res.Kept[name])
		})
		var notFound driver.PathNotFoundError
		if errors.As(err, &notFound) {
			return nil // a repository with no manifests, as MarkAndSweep reads it
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	for _, c := range untagged {
		if _, ok := marked[c.d]; ok {
			// An index that stays references it: it stays too.
			if err := markManifest(ctx, repos[c.repo].ms, c.d, marked, res.Kept[c.repo]); err != nil {
				return nil, err
			}
			continue
		}
		res.Manifests[c.repo] = append(res.Manifests[c.repo], c.d)
	}
	return marked, nil
}

// markManifest marks d and what it references, recursing into manifests
// of the same repository, and notes each one's foreign descriptors in kept.
func markManifest(ctx context.Context, ms distribution.ManifestService, d digest.Digest, marked map[digest.Digest]struct{}, kept map[digest.Digest][]distribution.Descriptor) error {
	if _, done := kept[d]; done {
		return nil
	}
	marked[d] = struct{}{}
	m, err := ms.Get(ctx, d)
	if err != nil {
		return fmt.Errorf("manifest %s: %w", d, err)
	}
	var foreign []distribution.Descriptor
	for _, ref := range m.References() {
		if len(ref.URLs) > 0 {
			foreign = append(foreign, ref)
		}
	}
	kept[d] = foreign
	for _, ref := range m.References() {
		marked[ref.Digest] = struct{}{}
		if ok, _ := ms.Exists(ctx, ref.Digest); ok {
			if err := markManifest(ctx, ms, ref.Digest, marked, kept); err != nil {
				return err
			}
		}
	}
	return nil
}

// blobSizes lists every blob of the registry with its size.
func blobSizes(ctx context.Context, reg distribution.Namespace) (map[digest.Digest]int64, error) {
	sizes := map[digest.Digest]int64{}
	stat := reg.BlobStatter()
	err := reg.Blobs().Enumerate(ctx, func(d digest.Digest) error {
		desc, err := stat.Stat(ctx, d)
		if err != nil {
			return fmt.Errorf("blob %s: %w", d, err)
		}
		sizes[d] = desc.Size
		return nil
	})
	var notFound driver.PathNotFoundError
	if err != nil && !errors.As(err, &notFound) {
		return nil, fmt.Errorf("listing blobs: %w", err)
	}
	return sizes, nil
}
