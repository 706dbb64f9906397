package image

import (
	"bytes"
	"encoding/json"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Layer is one layer of a built image.
type Layer struct {
	Descriptor v1.Descriptor
	DiffID     v1.Hash
	// Blob is the layer's content for ordinary layers, which are uploaded.
	// It is nil for a foreign layer, whose bytes stay at its URLs.
	Blob v1.Layer
	// Source says where the layer came from (a URL, a path, a base image).
	Source string
}

// Foreign reports whether the layer's bytes stay outside the registry.
func (l Layer) Foreign() bool { return l.Blob == nil }

// Manifest is one platform's image: config, layers and the manifest that
// ties them, serialised.
type Manifest struct {
	Platform   v1.Platform
	Descriptor v1.Descriptor // of Raw, with Platform set
	Raw        []byte
	ConfigDesc v1.Descriptor
	Config     []byte
	// ConfigBlob, if set, is the config as a blob of a source registry, so
	// that a copy can mount it instead of uploading it.
	ConfigBlob v1.Layer
	Layers     []Layer
}

// Artifact is what a build produces: one manifest, or several under an
// index.
type Artifact struct {
	Format    Format
	Manifests []*Manifest
	// Index is the serialised index when there is more than one platform.
	Index     []byte
	IndexDesc v1.Descriptor
}

// Root is the descriptor a reference should point at: the index if there
// is one, else the only manifest.
func (a *Artifact) Root() v1.Descriptor {
	if a.Index != nil {
		return a.IndexDesc
	}
	d := a.Manifests[0].Descriptor
	d.Platform = nil
	return d
}

// RootRaw is the serialised form of Root.
func (a *Artifact) RootRaw() []byte {
	if a.Index != nil {
		return a.Index
	}
	return a.Manifests[0].Raw
}

// NewManifest serialises cfg and a manifest over it and layers.
func NewManifest(f Format, cfg *v1.ConfigFile, layers []Layer, annotations map[string]string) (*Manifest, error) {
	if len(cfg.RootFS.DiffIDs) != len(layers) {
		return nil, fmt.Errorf("config has %d diff_ids for %d layers", len(cfg.RootFS.DiffIDs), len(layers))
	}
	rawCfg, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("serialising config: %w", err)
	}
	cfgDesc, err := describeBytes(f.ConfigType(), rawCfg)
	if err != nil {
		return nil, err
	}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     f.ManifestType(),
		Config:        cfgDesc,
		Layers:        make([]v1.Descriptor, len(layers)),
		Annotations:   annotations,
	}
	for i, l := range layers {
		m.Layers[i] = l.Descriptor
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("serialising manifest: %w", err)
	}
	desc, err := describeBytes(m.MediaType, raw)
	if err != nil {
		return nil, err
	}
	p := cfg.Platform()
	if p == nil {
		p = &v1.Platform{OS: cfg.OS, Architecture: cfg.Architecture}
	}
	desc.Platform = p
	return &Manifest{Platform: *p, Descriptor: desc, Raw: raw, ConfigDesc: cfgDesc, Config: rawCfg, Layers: layers}, nil
}

// NewArtifact puts manifests together; with more than one, it serialises
// an index over them.
func NewArtifact(f Format, ms []*Manifest, annotations map[string]string) (*Artifact, error) {
	a := &Artifact{Format: f, Manifests: ms}
	if len(ms) == 0 {
		return nil, fmt.Errorf("no platform to build")
	}
	if len(ms) == 1 {
		return a, nil
	}
	idx := v1.IndexManifest{
		SchemaVersion: 2,
		MediaType:     f.IndexType(),
		Annotations:   annotations,
	}
	seen := map[string]bool{}
	for _, m := range ms {
		key := m.Platform.String()
		if seen[key] {
			return nil, fmt.Errorf("platform %s is given twice", key)
		}
		seen[key] = true
		idx.Manifests = append(idx.Manifests, m.Descriptor)
	}
	raw, err := json.Marshal(idx)
	if err != nil {
		return nil, fmt.Errorf("serialising index: %w", err)
	}
	a.Index = raw
	a.IndexDesc, err = describeBytes(idx.MediaType, raw)
	return a, err
}

func describeBytes(mt types.MediaType, raw []byte) (v1.Descriptor, error) {
	h, n, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return v1.Descriptor{}, err
	}
	return v1.Descriptor{MediaType: mt, Size: n, Digest: h}, nil
}
