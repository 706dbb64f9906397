// Package source reads an image or index, from a registry or an OCI image
// layout, into an image.Artifact without downloading any layer: manifests
// keep their exact bytes (so digests and signatures survive a copy),
// ordinary layers become lazy blobs (mountable across repositories of one
// registry), and foreign layers stay foreign until someone asks for their
// content.
package source

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/match"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/foreignlayers/fl/pkg/image"
	"github.com/foreignlayers/fl/pkg/imageref"
)

// Options select what to read.
type Options struct {
	// Platform, if set, picks one platform of an index.
	Platform *v1.Platform
	// Remote options for registry sources: auth, transport.
	Remote []remote.Option
}

// Load reads ref into an Artifact.
func Load(ctx context.Context, ref imageref.Ref, o Options) (*image.Artifact, error) {
	var (
		idx  children
		root v1.Descriptor
		raw  []byte
		err  error
	)
	if ref.Layout != "" {
		idx, root, err = layoutRoot(ref)
	} else {
		idx, root, err = registryRoot(ctx, ref, o.Remote)
	}
	if err != nil {
		return nil, err
	}
	if root.MediaType.IsIndex() {
		child, err := idx.ImageIndex(root.Digest)
		if err != nil {
			return nil, fmt.Errorf("reading index %s: %w", root.Digest, err)
		}
		if o.Platform != nil {
			return loadPlatform(ref, child, *o.Platform)
		}
		if raw, err = child.RawManifest(); err != nil {
			return nil, err
		}
		return loadIndex(ref, child, root, raw)
	}
	img, err := idx.Image(root.Digest)
	if err != nil {
		return nil, fmt.Errorf("reading image %s: %w", root.Digest, err)
	}
	m, err := loadImage(ref, img, root)
	if err != nil {
		return nil, err
	}
	if o.Platform != nil && !m.Platform.Satisfies(*o.Platform) && m.Platform.OS != "" {
		return nil, fmt.Errorf("%s is %s, not %s", ref, m.Platform.String(), o.Platform.String())
	}
	return &image.Artifact{Format: formatOf(root), Manifests: []*image.Manifest{m}}, nil
}

// registryRoot resolves ref to its descriptor. The index returned serves
// the root and, for an index, its children.
func registryRoot(ctx context.Context, ref imageref.Ref, opts []remote.Option) (children, v1.Descriptor, error) {
	opts = append([]remote.Option{remote.WithContext(ctx)}, opts...)
	desc, err := remote.Get(ref.Registry, opts...)
	if err != nil {
		return nil, v1.Descriptor{}, fmt.Errorf("reading %s: %w", ref.Registry, err)
	}
	return registryIndex{repo: ref.Registry.Context().String(), desc: desc, opts: opts}, desc.Descriptor, nil
}

func layoutRoot(ref imageref.Ref) (children, v1.Descriptor, error) {
	p, err := layout.FromPath(ref.Layout)
	if err != nil {
		return nil, v1.Descriptor{}, fmt.Errorf("reading OCI layout %s: %w", ref.Layout, err)
	}
	top, err := p.ImageIndex()
	if err != nil {
		return nil, v1.Descriptor{}, fmt.Errorf("reading OCI layout %s: %w", ref.Layout, err)
	}
	im, err := top.IndexManifest()
	if err != nil {
		return nil, v1.Descriptor{}, fmt.Errorf("reading %s/index.json: %w", ref.Layout, err)
	}
	var found []v1.Descriptor
	for _, d := range im.Manifests {
		switch {
		case ref.Digest != "" && d.Digest.String() == ref.Digest,
			ref.Tag != "" && match.Annotation("org.opencontainers.image.ref.name", ref.Tag)(d),
			ref.Digest == "" && ref.Tag == "":
			found = append(found, d)
		}
	}
	if len(found) != 1 {
		return nil, v1.Descriptor{}, fmt.Errorf("%s: %d of the layout's %d %s match; name one with @sha256:... or :TAG", ref, len(found), len(im.Manifests), plural(len(im.Manifests), "entry", "entries"))
	}
	return top, found[0], nil
}

func formatOf(d v1.Descriptor) image.Format {
	if d.MediaType == image.Docker.ManifestType() || d.MediaType == image.Docker.IndexType() {
		return image.Docker
	}
	return image.OCI
}

// LayoutBlobs opens blobs of the OCI layout at dir by digest.
func LayoutBlobs(dir string) func(v1.Hash) (io.ReadCloser, error) {
	return func(h v1.Hash) (io.ReadCloser, error) {
		return os.Open(filepath.Join(dir, "blobs", h.Algorithm, h.Hex))
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
