// Package inspect reads an image or index, from a registry or an OCI
// layout, and summarises it per platform: its layers, which of them are
// foreign, and their URLs. It never downloads a layer.
package inspect

import (
	"context"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/foreignlayers/fl/pkg/image"
	"github.com/foreignlayers/fl/pkg/imageref"
)

// Load summarises the image ref names. opts are used for registries.
func Load(ctx context.Context, ref imageref.Ref, opts ...remote.Option) (*image.Summary, error) {
	if ref.Layout != "" {
		return loadLayout(ref)
	}
	opts = append([]remote.Option{remote.WithContext(ctx)}, opts...)
	desc, err := remote.Get(ref.Registry, opts...)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", ref.Registry, err)
	}
	s := &image.Summary{Reference: ref.String(), Digest: desc.Digest.String(), MediaType: desc.MediaType}
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, fmt.Errorf("reading index %s: %w", ref.Registry, err)
		}
		return s, summarizeIndex(s, idx)
	}
	img, err := desc.Image()
	if err != nil {
		return nil, fmt.Errorf("reading image %s: %w", ref.Registry, err)
	}
	s.Manifests = append(s.Manifests, summarizeImage(desc.Descriptor, img))
	s.StrippedDigest = s.Manifests[0].StrippedDigest
	return s, nil
}

func loadLayout(ref imageref.Ref) (*image.Summary, error) {
	root, err := layoutRoot(ref)
	if err != nil {
		return nil, err
	}
	p, err := layout.FromPath(ref.Layout)
	if err != nil {
		return nil, fmt.Errorf("reading OCI layout %s: %w", ref.Layout, err)
	}
	top, err := p.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("reading OCI layout %s: %w", ref.Layout, err)
	}
	s := &image.Summary{Reference: ref.String(), Digest: root.Digest.String(), MediaType: root.MediaType}
	if root.MediaType.IsIndex() {
		idx, err := top.ImageIndex(root.Digest)
		if err != nil {
			return nil, fmt.Errorf("reading index %s: %w", root.Digest, err)
		}
		return s, summarizeIndex(s, idx)
	}
	img, err := top.Image(root.Digest)
	if err != nil {
		return nil, fmt.Errorf("reading image %s: %w", root.Digest, err)
	}
	s.Manifests = append(s.Manifests, summarizeImage(*root, img))
	s.StrippedDigest = s.Manifests[0].StrippedDigest
	return s, nil
}

func summarizeIndex(s *image.Summary, idx v1.ImageIndex) error {
	im, err := idx.IndexManifest()
	if err != nil {
		return fmt.Errorf("reading index: %w", err)
	}
	for _, d := range im.Manifests {
		if !d.MediaType.IsImage() {
			s.Manifests = append(s.Manifests, image.ManifestSummary{
				Platform: platformString(d.Platform), Digest: d.Digest.String(), MediaType: d.MediaType,
				Layers: []image.LayerSummary{}, Error: "not an image manifest; not expanded",
			})
			continue
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			return fmt.Errorf("reading manifest %s: %w", d.Digest, err)
		}
		s.Manifests = append(s.Manifests, summarizeImage(d, img))
	}
	return strippedIndex(s, idx)
}

func summarizeImage(d v1.Descriptor, img v1.Image) image.ManifestSummary {
	m, err := img.Manifest()
	if err != nil {
		return image.ManifestSummary{Platform: platformString(d.Platform), Digest: d.Digest.String(), MediaType: d.MediaType, Layers: []image.LayerSummary{}, Error: err.Error()}
	}
	platform := platformString(d.Platform)
	var diffIDs []v1.Hash
	cfg, err := img.ConfigFile()
	if err == nil {
		diffIDs = cfg.RootFS.DiffIDs
		if p := cfg.Platform(); p != nil && d.Platform == nil {
			platform = p.String()
		}
	}
	ms := image.SummarizeManifest(platform, d, m, diffIDs)
	if err != nil {
		ms.Error = "config: " + err.Error()
	}
	ms.StrippedDigest = strippedDigest(img, d.Digest)
	return ms
}

func platformString(p *v1.Platform) string {
	if p == nil {
		return "unknown"
	}
	return p.String()
}
