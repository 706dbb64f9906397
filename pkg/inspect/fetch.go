package inspect

import (
	"bytes"
	"context"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/foreignlayers/fl/pkg/imageref"
)

// maxSmallBlob caps the manifests and configs read into memory.
const maxSmallBlob = 16 << 20

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// registryBlob reads a manifest by digest, or a blob (a config).
func registryBlob(ctx context.Context, ref imageref.Ref, h v1.Hash, isManifest bool, opts []remote.Option) ([]byte, error) {
	opts = append([]remote.Option{remote.WithContext(ctx)}, opts...)
	repo := ref.Registry.Context()
	if isManifest {
		desc, err := remote.Get(repo.Digest(h.String()), opts...)
		if err != nil {
			return nil, err
		}
		return desc.Manifest, nil
	}
	l, err := remote.Layer(repo.Digest(h.String()), opts...)
	if err != nil {
		return nil, err
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxSmallBlob+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxSmallBlob {
		return nil, fmt.Errorf("larger than %d bytes", maxSmallBlob)
	}
	return b, nil
}

// layoutRoot finds the descriptor ref names in its layout's index.json.
func layoutRoot(ref imageref.Ref) (*v1.Descriptor, error) {
	p, err := layout.FromPath(ref.Layout)
	if err != nil {
		return nil, fmt.Errorf("reading OCI layout %s: %w", ref.Layout, err)
	}
	top, err := p.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("reading OCI layout %s: %w", ref.Layout, err)
	}
	im, err := top.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading %s/index.json: %w", ref.Layout, err)
	}
	var root *v1.Descriptor
	for i, d := range im.Manifests {
		switch {
		case ref.Digest != "" && d.Digest.String() == ref.Digest,
			ref.Tag != "" && d.Annotations["org.opencontainers.image.ref.name"] == ref.Tag,
			ref.Digest == "" && ref.Tag == "" && len(im.Manifests) == 1:
			root = &im.Manifests[i]
		}
	}
	if root == nil {
		return nil, fmt.Errorf("%s: no such image in the layout (it has %d %s; name one with @sha256:... or :TAG)", ref, len(im.Manifests), plural(len(im.Manifests), "entry", "entries"))
	}
	return root, nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
