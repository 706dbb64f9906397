package mirror

import (
	"bytes"
	"context"
	"encoding/json"
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
// ordinary layer of the same compression, without urls, and serialises new
// manifests (and index) around them. Fields it does not know are kept.
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
	raw, err := rewriteList(a.Index, "manifests", func(d v1.Descriptor) v1.Descriptor {
		if n, ok := renamed[d.Digest]; ok {
			d.Digest, d.Size = n.Digest, n.Size
		}
		return d
	})
	if err != nil {
		return nil, fmt.Errorf("rewriting index: %w", err)
	}
	out.Index = raw
	out.IndexDesc = a.IndexDesc
	out.IndexDesc.Digest, out.IndexDesc.Size, err = v1.SHA256(bytes.NewReader(raw))
	return out, err
}

func stripManifest(m *image.Manifest) (*image.Manifest, error) {
	format := image.OCI
	if m.Descriptor.MediaType == image.Docker.ManifestType() {
		format = image.Docker
	}
	nm := *m
	nm.Layers = nil
	byDigest := map[v1.Hash]v1.Descriptor{}
	for _, l := range m.Layers {
		if l.Foreign() {
			return nil, fmt.Errorf("layer %s is not materialized", l.Descriptor.Digest)
		}
		d := l.Descriptor
		if image.IsForeign(d) {
			c, err := image.CompressionOf(d.MediaType)
			if err != nil {
				return nil, err
			}
			if d.MediaType, err = format.LayerType(c, false, false); err != nil {
				return nil, fmt.Errorf("layer %s: %w", d.Digest, err)
			}
			d.URLs = nil
		}
		byDigest[d.Digest] = d
		l.Descriptor = d
		nm.Layers = append(nm.Layers, l)
	}
	raw, err := rewriteList(m.Raw, "layers", func(d v1.Descriptor) v1.Descriptor { return byDigest[d.Digest] })
	if err != nil {
		return nil, fmt.Errorf("rewriting manifest %s: %w", m.Descriptor.Digest, err)
	}
	nm.Raw = raw
	nm.Descriptor.Digest, nm.Descriptor.Size, err = v1.SHA256(bytes.NewReader(raw))
	return &nm, err
}

// rewriteList replaces each descriptor of the list under key in a JSON
// document, keeping every other field as it was.
func rewriteList(raw []byte, key string, f func(v1.Descriptor) v1.Descriptor) ([]byte, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	var list []map[string]json.RawMessage
	if err := json.Unmarshal(doc[key], &list); err != nil {
		return nil, err
	}
	for i, entry := range list {
		var d v1.Descriptor
		b, _ := json.Marshal(entry)
		if err := json.Unmarshal(b, &d); err != nil {
			return nil, err
		}
		nd := f(d)
		set := func(k string, v any) {
			enc, _ := json.Marshal(v)
			entry[k] = enc
		}
		set("mediaType", nd.MediaType)
		set("digest", nd.Digest)
		set("size", nd.Size)
		if len(nd.URLs) == 0 {
			delete(entry, "urls")
		}
		list[i] = entry
	}
	enc, err := json.Marshal(list)
	if err != nil {
		return nil, err
	}
	doc[key] = enc
	return json.Marshal(doc)
}
