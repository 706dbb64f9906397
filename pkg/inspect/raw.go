package inspect

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/foreignlayers/fl/pkg/imageref"
)

// Manifest returns the bytes of the manifest or index ref names, exactly
// as the registry serves them (or as the layout holds them). With
// platform set, an index is resolved to the image of that platform.
func Manifest(ctx context.Context, ref imageref.Ref, platform *v1.Platform, opts ...remote.Option) ([]byte, error) {
	raw, _, err := manifest(ctx, ref, platform, opts)
	return raw, err
}

// Config returns the config blob of the image ref names; an index needs a
// platform to pick the image.
func Config(ctx context.Context, ref imageref.Ref, platform *v1.Platform, opts ...remote.Option) ([]byte, error) {
	raw, desc, err := manifest(ctx, ref, platform, opts)
	if err != nil {
		return nil, err
	}
	if desc.MediaType.IsIndex() {
		return nil, fmt.Errorf("%s is an index: pick an image with --platform", ref)
	}
	m, err := v1.ParseManifest(bytesReader(raw))
	if err != nil {
		return nil, fmt.Errorf("parsing manifest %s: %w", desc.Digest, err)
	}
	return blob(ctx, ref, m.Config.Digest, false, opts)
}

// manifest reads the root manifest, then, with platform set and an index
// at the root, the manifest of that platform.
func manifest(ctx context.Context, ref imageref.Ref, platform *v1.Platform, opts []remote.Option) ([]byte, v1.Descriptor, error) {
	raw, desc, err := root(ctx, ref, opts)
	if err != nil || platform == nil || !desc.MediaType.IsIndex() {
		return raw, desc, err
	}
	im, err := v1.ParseIndexManifest(bytesReader(raw))
	if err != nil {
		return nil, desc, fmt.Errorf("parsing index %s: %w", desc.Digest, err)
	}
	var have []string
	for _, d := range im.Manifests {
		if d.Platform == nil {
			continue
		}
		have = append(have, d.Platform.String())
		if d.Platform.Satisfies(*platform) {
			b, err := blob(ctx, ref, d.Digest, true, opts)
			return b, d, err
		}
	}
	return nil, desc, fmt.Errorf("%s has no %s image (it has %v)", ref, platform, have)
}

func root(ctx context.Context, ref imageref.Ref, opts []remote.Option) ([]byte, v1.Descriptor, error) {
	if ref.Layout == "" {
		desc, err := remote.Get(ref.Registry, append([]remote.Option{remote.WithContext(ctx)}, opts...)...)
		if err != nil {
			return nil, v1.Descriptor{}, fmt.Errorf("reading %s: %w", ref.Registry, err)
		}
		return desc.Manifest, desc.Descriptor, nil
	}
	d, err := layoutRoot(ref)
	if err != nil {
		return nil, v1.Descriptor{}, err
	}
	raw, err := blob(ctx, ref, d.Digest, true, opts)
	return raw, *d, err
}

// blob reads a small blob (a manifest or config) of ref's repository or
// layout, checking its digest.
func blob(ctx context.Context, ref imageref.Ref, h v1.Hash, isManifest bool, opts []remote.Option) ([]byte, error) {
	var (
		b   []byte
		err error
	)
	if ref.Layout != "" {
		b, err = os.ReadFile(filepath.Join(ref.Layout, "blobs", h.Algorithm, h.Hex))
	} else {
		b, err = registryBlob(ctx, ref, h, isManifest, opts)
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", h, err)
	}
	if got, _, _ := v1.SHA256(bytesReader(b)); got != h {
		return nil, fmt.Errorf("reading %s: the content has digest %s", h, got)
	}
	return b, nil
}
