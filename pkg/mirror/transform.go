package mirror

import (
	"bytes"
	"context"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/foreignlayers/fl/pkg/image"
)

// Materialize gives every foreign layer of a a verified download, so it is
// carried as a blob. Manifests keep their bytes: digests do not change.
func Materialize(ctx context.Context, a *image.Artifact, f *Fetcher) error {
	for _, m := range a.Manifests {
		for i := range m.Layers {
			l := &m.Layers[i]
			if !l.Foreign() {
				continue
			}
			blob, err := f.Layer(ctx, l.Descriptor, l.DiffID)
			if err != nil {
				return err
			}
			l.Blob = blob
		}
	}
	return nil
}

// StripURLs rewrites every foreign layer of a materialized artifact into an
// ordinary layer, without urls, with the one byte-preserving rewrite that
// fl serve's strip-urls view uses (StripManifest, RewriteIndex): the same
// image gets the same digests either way.
func StripURLs(a *image.Artifact) (*image.Artifact, error) {
	out := &image.Artifact{Format: a.Format}
	renamed := map[v1.Hash]v1.Descriptor{}
	for _, m := range a.Manifests {
		nm, err := stripManifest(m)
		if err != nil {
			return nil, err
		}
		renamed[m.Descriptor.Digest] = nm.Descriptor
		out.Manifests = append(out.Manifests, nm)
	}
	if a.Index == nil {
		return out, nil
	}
	raw, err := RewriteIndex(a.Index, renamed)
	if err != nil {
		return nil, err
	}
	out.Index = raw
	out.IndexDesc = a.IndexDesc
	out.IndexDesc.Digest, out.IndexDesc.Size, err = v1.SHA256(bytes.NewReader(raw))
	return out, err
}

func stripManifest(m *image.Manifest) (*image.Manifest, error) {
	nm := *m
	nm.Layers = nil
	for _, l := range m.Layers {
		if l.Foreign() {
			return nil, fmt.Errorf("layer %s is not materialized", l.Descriptor.Digest)
		}
		if len(l.Descriptor.URLs) > 0 {
			mt, err := image.Distributable(l.Descriptor.MediaType)
			if err != nil {
				return nil, fmt.Errorf("layer %s: %w", l.Descriptor.Digest, err)
			}
			l.Descriptor.MediaType, l.Descriptor.URLs = mt, nil
		}
		nm.Layers = append(nm.Layers, l)
	}
	nm.ConfigDesc.URLs = nil
	raw, err := StripManifest(m.Raw)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", m.Descriptor.Digest, err)
	}
	nm.Raw = raw
	nm.Descriptor.Digest, nm.Descriptor.Size, err = v1.SHA256(bytes.NewReader(raw))
	return &nm, err
}
