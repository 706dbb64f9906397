package image

import (
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Image adapts a manifest whose every layer has a blob (ordinary, or
// materialized) to go-containerregistry's v1.Image, with its exact
// manifest and config bytes.
func (m *Manifest) Image() (v1.Image, error) {
	for _, l := range m.Layers {
		if l.Blob == nil {
			return nil, fmt.Errorf("layer %s has no content here: it is foreign and was not downloaded", l.Descriptor.Digest)
		}
	}
	return partial.CompressedToImage(manifestCore{m})
}

type manifestCore struct{ m *Manifest }

var _ partial.CompressedImageCore = manifestCore{}

func (c manifestCore) RawConfigFile() ([]byte, error)      { return c.m.Config, nil }
func (c manifestCore) MediaType() (types.MediaType, error) { return c.m.Descriptor.MediaType, nil }
func (c manifestCore) RawManifest() ([]byte, error)        { return c.m.Raw, nil }

func (c manifestCore) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if h == c.m.ConfigDesc.Digest {
		return static.NewLayer(c.m.Config, c.m.ConfigDesc.MediaType), nil
	}
	for _, l := range c.m.Layers {
		if l.Descriptor.Digest == h {
			return l.Blob, nil
		}
	}
	return nil, fmt.Errorf("no layer %s", h)
}
