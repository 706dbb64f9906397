package backend

import (
	"context"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/registry/storage"
	"github.com/opencontainers/go-digest"
)

// foreignMiddleware is the name of the repository middleware below.
const foreignMiddleware = "fl-foreign-layers"

// distribution checks that every blob a manifest references is in the
// registry, except for a few non-distributable media types. An OCI layer
// of the ordinary types with urls, or any zstd layer with urls, would be
// refused as MANIFEST_BLOB_UNKNOWN. This middleware stores a manifest that
// has foreign references without that check for them, after checking its
// other references itself, as distribution would.
func initForeign(_ context.Context, repo distribution.Repository, _ map[string]any) (distribution.Repository, error) {
	return foreignRepo{repo}, nil
}

type foreignRepo struct{ distribution.Repository }

func (r foreignRepo) Manifests(ctx context.Context, opts ...distribution.ManifestServiceOption) (distribution.ManifestService, error) {
	verifying, err := r.Repository.Manifests(ctx, opts...)
	if err != nil {
		return nil, err
	}
	skipping, err := r.Repository.Manifests(ctx, append(opts, storage.SkipLayerVerification())...)
	if err != nil {
		return nil, err
	}
	return &foreignManifests{ManifestService: verifying, skipping: skipping, blobs: r.Repository.Blobs(ctx)}, nil
}

type foreignManifests struct {
	distribution.ManifestService
	skipping distribution.ManifestService
	blobs    distribution.BlobStatter
}

func (m *foreignManifests) Put(ctx context.Context, man distribution.Manifest, opts ...distribution.ManifestServiceOption) (digest.Digest, error) {
	refs := man.References()
	foreign := false
	for _, d := range refs {
		if len(d.URLs) > 0 {
			foreign = true
			break
		}
	}
	if !foreign {
		return m.ManifestService.Put(ctx, man, opts...)
	}
	var errs distribution.ErrManifestVerification
	for _, d := range refs {
		if len(d.URLs) > 0 {
			continue // its bytes live at its URLs; the front checked those
		}
		if err := d.Digest.Validate(); err != nil {
			errs = append(errs, err, distribution.ErrManifestBlobUnknown{Digest: d.Digest})
			continue
		}
		if _, err := m.blobs.Stat(ctx, d.Digest); err != nil {
			errs = append(errs, distribution.ErrManifestBlobUnknown{Digest: d.Digest})
		}
	}
	if len(errs) > 0 {
		return "", errs
	}
	return m.skipping.Put(ctx, man, opts...)
}
