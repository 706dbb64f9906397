package image

import (
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// FileBlob returns an ordinary layer whose bytes are the file at path,
// already described by desc and diffID.
func FileBlob(path string, desc v1.Descriptor, diffID v1.Hash) (v1.Layer, error) {
	return partial.CompressedToLayer(&fileBlob{path: path, desc: desc, diffID: diffID})
}

type fileBlob struct {
	path   string
	desc   v1.Descriptor
	diffID v1.Hash
}

var _ partial.CompressedLayer = (*fileBlob)(nil)

func (b *fileBlob) Digest() (v1.Hash, error)            { return b.desc.Digest, nil }
func (b *fileBlob) DiffID() (v1.Hash, error)            { return b.diffID, nil }
func (b *fileBlob) Size() (int64, error)                { return b.desc.Size, nil }
func (b *fileBlob) MediaType() (types.MediaType, error) { return b.desc.MediaType, nil }
func (b *fileBlob) Descriptor() (*v1.Descriptor, error) { d := b.desc; return &d, nil }
func (b *fileBlob) Compressed() (io.ReadCloser, error)  { return os.Open(b.path) }
