package publish

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/match"

	"github.com/foreignlayers/fl/pkg/image"
)

// Layout writes into an OCI image layout directory, creating it if need
// be. Foreign layers are not written: the layout refers to them by
// descriptor, with their urls, as skopeo does.
type Layout struct {
	Dir string
	Tag string // written as org.opencontainers.image.ref.name, if set
}

var _ Publisher = (*Layout)(nil)

// Publish writes blobs, then manifests, then appends the root to
// index.json. A directory it created is removed again on failure.
func (l *Layout) Publish(ctx context.Context, a *image.Artifact) (ref string, err error) {
	p, created, err := openLayout(l.Dir)
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil && created {
			_ = os.RemoveAll(l.Dir)
		}
	}()
	for _, m := range a.Manifests {
		if err := writeBytes(p, m.ConfigDesc.Digest, m.Config); err != nil {
			return "", err
		}
		for _, layer := range m.Layers {
			if layer.Foreign() {
				continue
			}
			if err := ctx.Err(); err != nil {
				return "", err
			}
			rc, err := layer.Blob.Compressed()
			if err != nil {
				return "", fmt.Errorf("reading layer %s: %w", layer.Descriptor.Digest, err)
			}
			if err := p.WriteBlob(layer.Descriptor.Digest, rc); err != nil {
				return "", fmt.Errorf("writing layer %s: %w", layer.Descriptor.Digest, err)
			}
		}
		if err := writeBytes(p, m.Descriptor.Digest, m.Raw); err != nil {
			return "", err
		}
	}
	root := a.Root()
	if a.Index != nil {
		if err := writeBytes(p, root.Digest, a.Index); err != nil {
			return "", err
		}
	}
	if l.Tag != "" {
		root.Annotations = map[string]string{"org.opencontainers.image.ref.name": l.Tag}
		if err := p.RemoveDescriptors(match.Annotation("org.opencontainers.image.ref.name", l.Tag)); err != nil {
			return "", fmt.Errorf("untagging %s in %s: %w", l.Tag, l.Dir, err)
		}
	}
	if err := p.AppendDescriptor(root); err != nil {
		return "", fmt.Errorf("writing %s/index.json: %w", l.Dir, err)
	}
	return "oci-layout:" + l.Dir + "@" + root.Digest.String(), nil
}

func openLayout(dir string) (layout.Path, bool, error) {
	if p, err := layout.FromPath(dir); err == nil {
		return p, false, nil
	}
	if _, err := os.Stat(dir); err == nil {
		entries, _ := os.ReadDir(dir)
		if len(entries) > 0 {
			return "", false, fmt.Errorf("%s exists and is not an OCI image layout (no index.json): give an empty or new directory", dir)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", false, err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return "", false, fmt.Errorf("creating OCI layout %s: %w", dir, err)
	}
	return p, true, nil
}

func writeBytes(p layout.Path, h v1.Hash, b []byte) error {
	if err := p.WriteBlob(h, io.NopCloser(bytes.NewReader(b))); err != nil {
		return fmt.Errorf("writing blob %s: %w", h, err)
	}
	return nil
}
