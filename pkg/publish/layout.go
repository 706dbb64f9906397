package publish

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"

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
	created, err := openLayout(l.Dir)
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil && created {
			_ = os.RemoveAll(l.Dir)
		}
	}()
	p := l.Dir
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
			if err := writeLayer(p, layer); err != nil {
				return "", err
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
	if err := addToIndex(l.Dir, root, l.Tag); err != nil {
		return "", err
	}
	return "oci-layout:" + l.Dir + "@" + root.Digest.String(), nil
}

func writeBytes(p string, h v1.Hash, b []byte) error {
	if err := writeBlob(p, h, int64(len(b)), bytes.NewReader(b)); err != nil {
		return fmt.Errorf("writing blob %s: %w", h, err)
	}
	return nil
}

func writeLayer(p string, l image.Layer) error {
	rc, err := l.Blob.Compressed()
	if err != nil {
		return fmt.Errorf("reading layer %s: %w", l.Descriptor.Digest, err)
	}
	defer rc.Close()
	if err := writeBlob(p, l.Descriptor.Digest, l.Descriptor.Size, rc); err != nil {
		return fmt.Errorf("writing layer %s: %w", l.Descriptor.Digest, err)
	}
	return nil
}

// writeBlob writes a blob into the layout atomically: into a temporary
// file, checked for size and digest, then renamed into place. A blob
// already there is kept. (layout.WriteBlob writes in place, so a failed
// download would leave a partial blob that later writes take as present.)
func writeBlob(p string, h v1.Hash, size int64, r io.Reader) error {
	dir := filepath.Join(p, "blobs", h.Algorithm)
	final := filepath.Join(dir, h.Hex)
	if fi, err := os.Stat(final); err == nil && fi.Size() == size {
		return nil
	}
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return err
	}
	tmp, err := CreateTemp(dir, ".tmp-"+h.Hex+"-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	hasher := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, hasher), r)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("got %d bytes, want %d", n, size)
	}
	if got := hex.EncodeToString(hasher.Sum(nil)); h.Algorithm == "sha256" && got != h.Hex {
		return fmt.Errorf("content has digest sha256:%s, want %s", got, h)
	}
	return os.Rename(tmp.Name(), final)
}
