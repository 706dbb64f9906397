// Package publish writes an [image.Artifact] somewhere: to a registry, in
// the order a registry needs (config and ordinary blobs, then manifests,
// then the index), or to an OCI image layout on disk. Foreign layers are
// never uploaded: their bytes stay at their URLs.
package publish

import (
	"context"

	"github.com/foreignlayers/fl/pkg/image"
)

// Publisher puts an artifact somewhere and returns the reference by digest
// that names what it put.
type Publisher interface {
	Publish(ctx context.Context, a *image.Artifact) (string, error)
}
