package store

import (
	"context"
	"errors"
	"fmt"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/foreignlayers/fl/pkg/name"
)

// Record implements Index, with the rules of FSIndex.Record. Every layer
// record is read and checked before anything is written; the manifest's
// record is written before its layers', so that Forget finds every layer
// it may have touched even after a crash between the two.
func (x *S3Index) Record(ctx context.Context, repo name.Repository, manifest v1.Hash, descs []v1.Descriptor) error {
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

	// declare adds manifest's URLs to a record of digest, or finds the
	// conflict.
	declare := func(digest v1.Hash) func(rec *layerRecord, exists bool) (casAction, error) {
		d := want[digest]
		return func(rec *layerRecord, exists bool) (casAction, error) {
			if !exists || len(rec.Manifests) == 0 {
				*rec = layerRecord{MediaType: d.MediaType, Size: d.Size, Digest: digest}
			} else if rec.Size != d.Size {
				return casKeep, fmt.Errorf("index: %s knows %s with size %d, manifest %s declares size %d: %w", repo, digest, rec.Size, manifest, d.Size, ErrConflict)
			} else if rec.Digest != digest {
				return casKeep, fmt.Errorf("index: the record of %s in %s holds %s", digest, repo, rec.Digest)
			}
			if rec.declare(manifest, d.URLs) {
				return casPut, nil
			}
			return casKeep, nil
		}
	}

	// Read and check everything before writing anything.
	read := make([]*casState[layerRecord], len(order))
	var changed []int
	for i, digest := range order {
		rec, etag, err := x.readLayer(ctx, repo, digest)
		if err != nil {
			return err
		}
		read[i] = &casState[layerRecord]{rec: rec, etag: etag}
		probe := layerRecord{}
		if rec != nil {
			probe = *rec
			probe.Manifests = slices.Clone(rec.Manifests)
		}
		act, err := declare(digest)(&probe, rec != nil)
		if err != nil {
			x.remember(repo, digest, rec)
			return err
		}
		if act == casPut {
			changed = append(changed, i)
		}
	}
	if len(changed) == 0 {
		return nil
	}
	_, err = casUpdate(ctx, x.loc, x.key(repo, "_manifests", manifest), nil, func(m *manifestRecord, _ bool) (casAction, error) {
		layers := appendNew(slices.Clone(m.Layers), order...)
		if len(layers) == len(m.Layers) {
			return casKeep, nil
		}
		m.Layers = layers
		return casPut, nil
	})
	if err != nil {
		return wrapIndex(err)
	}
	for _, i := range changed {
		digest := order[i]
		rec, err := casUpdate(ctx, x.loc, x.key(repo, "_layers", digest), read[i], declare(digest))
		if err != nil {
			x.seen.Delete(indexKey{repo.String(), digest})
			return wrapIndex(err)
		}
		x.remember(repo, digest, rec)
	}
	return nil
}

// Forget implements Index.
func (x *S3Index) Forget(ctx context.Context, repo name.Repository, manifest v1.Hash) error {
	if err := x.checkArgs(repo, manifest); err != nil {
		return err
	}
	mu := x.lock(repo)
	mu.Lock()
	defer mu.Unlock()
	if err := x.forgetView(ctx, repo, manifest); err != nil {
		return err
	}
	mkey := x.key(repo, "_manifests", manifest)
	var mrec manifestRecord
	metag, err := x.loc.getJSON(ctx, mkey, &mrec)
	if err != nil || metag == "" || len(mrec.Layers) == 0 {
		return wrapIndex(err)
	}
	for _, digest := range mrec.Layers {
		if checkDigest(digest) != nil {
			continue
		}
		rec, err := casUpdate(ctx, x.loc, x.key(repo, "_layers", digest), nil, func(rec *layerRecord, exists bool) (casAction, error) {
			if !exists || !rec.undeclare(manifest) {
				return casKeep, nil
			}
			return casPut, nil // with no manifest left, a tombstone
		})
		if err != nil {
			x.seen.Delete(indexKey{repo.String(), digest})
			return wrapIndex(err)
		}
		x.remember(repo, digest, rec)
	}
	// Another replica recording the manifest again meanwhile keeps it.
	_, err = x.loc.putJSON(ctx, mkey, manifestRecord{}, metag)
	if err != nil && !errors.Is(err, errLostRace) {
		return wrapIndex(err)
	}
	return nil
}

// Remove implements Index. The manifests that declared digest keep
// mentioning it in their records; Forget skips what is not there.
func (x *S3Index) Remove(ctx context.Context, repo name.Repository, digest v1.Hash) error {
	if err := checkRepository(repo); err != nil {
		return fmt.Errorf("index: %w", err)
	}
	if err := checkDigest(digest); err != nil {
		return fmt.Errorf("index: %w: %w", ErrNotFound, err)
	}
	mu := x.lock(repo)
	mu.Lock()
	defer mu.Unlock()
	found := false
	_, err := casUpdate(ctx, x.loc, x.key(repo, "_layers", digest), nil, func(rec *layerRecord, exists bool) (casAction, error) {
		found = exists && len(rec.Manifests) > 0
		if !found {
			return casKeep, nil
		}
		rec.Manifests = nil
		return casPut, nil
	})
	if err != nil {
		x.seen.Delete(indexKey{repo.String(), digest})
		return wrapIndex(err)
	}
	x.remember(repo, digest, nil)
	if !found {
		return fmt.Errorf("index: %s in %s: %w", digest, repo, ErrNotFound)
	}
	return nil
}

func (x *S3Index) checkArgs(repo name.Repository, manifest v1.Hash) error {
	if err := checkRepository(repo); err != nil {
		return fmt.Errorf("index: %w", err)
	}
	if err := checkDigest(manifest); err != nil {
		return fmt.Errorf("index: manifest: %w", err)
	}
	return nil
}
