package source

import (
	"bytes"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/foreignlayers/fl/pkg/image"
	"github.com/foreignlayers/fl/pkg/imageref"
)

// loadImage reads one image manifest, its config, and lazy handles on its
// ordinary layers.
func loadImage(ref imageref.Ref, img v1.Image, desc v1.Descriptor) (*image.Manifest, error) {
	raw, err := img.RawManifest()
	if err != nil {
		return nil, fmt.Errorf("reading manifest %s: %w", desc.Digest, err)
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("parsing manifest %s: %w", desc.Digest, err)
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading config %s: %w", m.Config.Digest, err)
	}
	var diffIDs []v1.Hash
	platform := desc.Platform
	if cf, err := v1.ParseConfigFile(bytes.NewReader(cfg)); err == nil {
		diffIDs = cf.RootFS.DiffIDs
		if platform == nil {
			platform = cf.Platform()
		}
	}
	if platform == nil {
		platform = &v1.Platform{}
	}
	out := &image.Manifest{Platform: *platform, Raw: raw, ConfigDesc: m.Config, Config: cfg}
	if cl, err := img.LayerByDigest(m.Config.Digest); err == nil {
		out.ConfigBlob = cl
	}
	out.Descriptor = desc
	out.Descriptor.Platform = platform
	for i, d := range m.Layers {
		l := image.Layer{Descriptor: d, Source: ref.String()}
		if i < len(diffIDs) {
			l.DiffID = diffIDs[i]
		}
		if !image.IsForeign(d) {
			if l.Blob, err = img.LayerByDigest(d.Digest); err != nil {
				return nil, fmt.Errorf("layer %s: %w", d.Digest, err)
			}
		}
		out.Layers = append(out.Layers, l)
	}
	return out, nil
}

// loadIndex reads an index and every image it lists.
func loadIndex(ref imageref.Ref, idx v1.ImageIndex, desc v1.Descriptor, raw []byte) (*image.Artifact, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	a := &image.Artifact{Format: formatOf(desc), Index: raw, IndexDesc: desc}
	for _, d := range im.Manifests {
		if !d.MediaType.IsImage() {
			return nil, fmt.Errorf("%s lists %s of type %s: nested indexes and other manifests are not supported", ref, d.Digest, d.MediaType)
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", d.Digest, err)
		}
		m, err := loadImage(ref, img, d)
		if err != nil {
			return nil, err
		}
		a.Manifests = append(a.Manifests, m)
	}
	return a, nil
}

// loadPlatform picks one platform of an index.
func loadPlatform(ref imageref.Ref, idx v1.ImageIndex, want v1.Platform) (*image.Artifact, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var have []string
	for _, d := range im.Manifests {
		if d.Platform == nil {
			continue
		}
		have = append(have, d.Platform.String())
		if d.MediaType.IsImage() && d.Platform.Satisfies(want) {
			img, err := idx.Image(d.Digest)
			if err != nil {
				return nil, err
			}
			m, err := loadImage(ref, img, d)
			if err != nil {
				return nil, err
			}
			return &image.Artifact{Format: formatOf(d), Manifests: []*image.Manifest{m}}, nil
		}
	}
	return nil, fmt.Errorf("%s has no %s image (it has %v): pick one with --platform", ref, want.String(), have)
}
