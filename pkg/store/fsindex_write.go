package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/foreignlayers/fl/pkg/name"
)

// Record implements Index. Every descriptor must carry urls, a size of 0
// or more, and a digest fl can verify. The manifest's record is written
// before its layers', so that Forget finds every layer it may have
// touched even after a crash between the two.
func (x *FSIndex) Record(ctx context.Context, repo name.Repository, manifest v1.Hash, descs []v1.Descriptor) error {
	if err := x.checkArgs(repo, manifest); err != nil {
		return err
	}
	order, want, err := groupDescriptors(repo, manifest, descs)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}

	mu := x.lock(repo)
	mu.Lock()
	defer mu.Unlock()

	// Read and check everything before writing anything.
	changed := make([]*layerRecord, 0, len(order))
	for _, digest := range order {
		d := want[digest]
		rec, err := x.readLayer(repo, digest)
		if err != nil {
			return err
		}
		if rec == nil {
			rec = &layerRecord{MediaType: d.MediaType, Size: d.Size, Digest: digest}
		} else if rec.Size != d.Size {
			return fmt.Errorf("index: %s knows %s with size %d, manifest %s declares size %d: %w", repo, digest, rec.Size, manifest, d.Size, ErrConflict)
		}
		if rec.declare(manifest, d.URLs) {
			changed = append(changed, rec)
		}
	}
	mrec, err := x.readManifest(repo, manifest)
	if err != nil {
		return err
	}
	if mrec == nil {
		mrec = &manifestRecord{}
	}
	if layers := appendNew(slices.Clone(mrec.Layers), order...); len(layers) != len(mrec.Layers) {
		mrec.Layers = layers
		if err := x.writeJSON(x.manifestPath(repo, manifest), mrec); err != nil {
			return err
		}
	}
	for _, rec := range changed {
		if err := x.writeJSON(x.layerPath(repo, rec.Digest), rec); err != nil {
			x.seen.Delete(indexKey{repo.String(), rec.Digest})
			return err
		}
		x.remember(repo, rec.Digest, rec)
	}
	if len(changed) == 0 {
		return nil
	}
	return x.durable()
}

// Forget implements Index.
func (x *FSIndex) Forget(_ context.Context, repo name.Repository, manifest v1.Hash) error {
	if err := x.checkArgs(repo, manifest); err != nil {
		return err
	}
	mu := x.lock(repo)
	mu.Lock()
	defer mu.Unlock()
	if err := x.forgetViewLocked(repo, manifest); err != nil {
		return err
	}
	mrec, err := x.readManifest(repo, manifest)
	if err != nil {
		return err
	}
	if mrec == nil {
		return x.durable()
	}
	for _, digest := range mrec.Layers {
		rec, err := x.readLayer(repo, digest)
		if err != nil {
			return err
		}
		if rec == nil || !rec.undeclare(manifest) {
			continue
		}
		p := x.layerPath(repo, digest)
		if len(rec.Manifests) == 0 {
			err, rec = removeRecord(p), nil
		} else {
			err = x.writeJSON(p, rec)
		}
		if err != nil {
			x.seen.Delete(indexKey{repo.String(), digest})
			return err
		}
		x.remember(repo, digest, rec)
	}
	if err := removeRecord(x.manifestPath(repo, manifest)); err != nil {
		return err
	}
	return x.durable()
}

// Remove implements Index. The manifests that declared digest keep
// mentioning it in their records; Forget skips what is not there.
func (x *FSIndex) Remove(_ context.Context, repo name.Repository, digest v1.Hash) error {
	if err := checkRepository(repo); err != nil {
		return fmt.Errorf("index: %w", err)
	}
	if err := checkDigest(digest); err != nil {
		return fmt.Errorf("index: %w: %w", ErrNotFound, err)
	}
	mu := x.lock(repo)
	mu.Lock()
	defer mu.Unlock()
	p := x.layerPath(repo, digest)
	err := os.Remove(p)
	switch {
	case errors.Is(err, os.ErrNotExist):
		x.remember(repo, digest, nil)
		return fmt.Errorf("index: %s in %s: %w", digest, repo, ErrNotFound)
	case err != nil:
		x.seen.Delete(indexKey{repo.String(), digest})
		return fmt.Errorf("index: %w", err)
	}
	_ = os.Remove(filepath.Dir(p)) // fails while not empty
	x.remember(repo, digest, nil)
	return x.durable()
}

func (x *FSIndex) checkArgs(repo name.Repository, manifest v1.Hash) error {
	if err := checkRepository(repo); err != nil {
		return fmt.Errorf("index: %w", err)
	}
	if err := checkDigest(manifest); err != nil {
		return fmt.Errorf("index: manifest: %w", err)
	}
	return nil
}

// groupDescriptors checks descs and merges them by digest, in the order
// first seen: one manifest may name a digest twice, with the same size.
func groupDescriptors(repo name.Repository, manifest v1.Hash, descs []v1.Descriptor) ([]v1.Hash, map[v1.Hash]v1.Descriptor, error) {
	var order []v1.Hash
	want := map[v1.Hash]v1.Descriptor{}
	for _, d := range descs {
		if err := checkDescriptor(d); err != nil {
			return nil, nil, fmt.Errorf("index: manifest %s of %s: %w", manifest, repo, err)
		}
		have, ok := want[d.Digest]
		switch {
		case !ok:
			order = append(order, d.Digest)
			d.URLs = appendNew(nil, d.URLs...)
			want[d.Digest] = d
		case have.Size != d.Size:
			return nil, nil, fmt.Errorf("index: manifest %s of %s declares %s with sizes %d and %d: %w", manifest, repo, d.Digest, have.Size, d.Size, ErrConflict)
		default:
			have.URLs = appendNew(have.URLs, d.URLs...)
			want[d.Digest] = have
		}
	}
	return order, want, nil
}

// checkDescriptor accepts what the index can hold: a foreign layer with a
// digest fl can verify.
func checkDescriptor(d v1.Descriptor) error {
	if err := checkDigest(d.Digest); err != nil {
		return err
	}
	if d.Size < 0 {
		return fmt.Errorf("descriptor %s has a negative size, %d", d.Digest, d.Size)
	}
	if len(d.URLs) == 0 {
		return fmt.Errorf("descriptor %s has no urls", d.Digest)
	}
	return nil
}
