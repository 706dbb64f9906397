package build

import (
	"context"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/foreignlayers/fl/pkg/image"
	"github.com/foreignlayers/fl/pkg/imageref"
)

// base is what a build starts from: an empty config, or a base image's
// config and layers.
type base struct {
	config *v1.ConfigFile
	layers []image.Layer
}

// loadBase reads the base image for one platform. Its layers keep their
// digests, sizes and urls; their media types follow the build's format.
func (b *Builder) loadBase(ctx context.Context, s *Spec, ref string, want *v1.Platform) (*base, error) {
	if ref == "" {
		return &base{config: &v1.ConfigFile{}}, nil
	}
	parsed, err := imageref.Parse(ref, b.NameOpts...)
	if err != nil {
		return nil, fmt.Errorf("%w: base %q is not a valid image reference: %w", ErrSpec, ref, err)
	}
	if parsed.Registry == nil {
		return nil, fmt.Errorf("%w: base %q: a base is a registry image, not a layout", ErrSpec, ref)
	}
	r := parsed.Registry
	opts := append([]remote.Option{remote.WithContext(ctx)}, b.Remote...)
	if want != nil {
		opts = append(opts, remote.WithPlatform(*want))
	}
	img, err := remote.Image(r, opts...)
	if err != nil {
		return nil, fmt.Errorf("reading base image %s: %w", ref, err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading base image %s config: %w", ref, err)
	}
	if want != nil && (cfg.OS != want.OS || cfg.Architecture != want.Architecture) {
		return nil, fmt.Errorf("%w: base %s is %s/%s, not %s: pick a base for that platform, or drop --platform to take the base's", ErrSpec, ref, cfg.OS, cfg.Architecture, want)
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("reading base image %s manifest: %w", ref, err)
	}
	blobs, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("reading base image %s layers: %w", ref, err)
	}
	if len(m.Layers) != len(cfg.RootFS.DiffIDs) || len(blobs) != len(m.Layers) {
		return nil, fmt.Errorf("base image %s has %d %s but %d diff_ids", ref, len(m.Layers), plural(len(m.Layers), "layer", "layers"), len(cfg.RootFS.DiffIDs))
	}
	out := &base{config: cfg.DeepCopy()}
	for i, d := range m.Layers {
		conv, err := s.Format.ConvertLayer(d, s.Nondistributable)
		if err != nil {
			return nil, fmt.Errorf("base image %s: %w", ref, err)
		}
		l := image.Layer{Descriptor: conv, DiffID: cfg.RootFS.DiffIDs[i], Source: ref}
		if !image.IsForeign(d) {
			l.Blob = blobs[i]
		}
		out.layers = append(out.layers, l)
	}
	return out, nil
}
