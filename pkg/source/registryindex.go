package source

import (
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// children is how images and indexes are found by digest: a layout's top
// index, or a registry repository.
type children interface {
	ImageIndex(v1.Hash) (v1.ImageIndex, error)
	Image(v1.Hash) (v1.Image, error)
}

// registryIndex finds a registry repository's manifests by digest.
type registryIndex struct {
	repo string
	desc *remote.Descriptor
	opts []remote.Option
}

func (r registryIndex) ref(h v1.Hash) (name.Digest, error) {
	return name.NewDigest(r.repo + "@" + h.String())
}

func (r registryIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	if h == r.desc.Digest {
		return r.desc.ImageIndex()
	}
	ref, err := r.ref(h)
	if err != nil {
		return nil, err
	}
	return remote.Index(ref, r.opts...)
}

func (r registryIndex) Image(h v1.Hash) (v1.Image, error) {
	if h == r.desc.Digest {
		return r.desc.Image()
	}
	ref, err := r.ref(h)
	if err != nil {
		return nil, err
	}
	img, err := remote.Image(ref, r.opts...)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", ref, err)
	}
	return img, nil
}
