package publish

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"

	"github.com/foreignlayers/fl/pkg/image"
)

// Registry pushes to a registry reference.
type Registry struct {
	Ref     name.Reference
	Options []remote.Option // auth, transport
	Jobs    int             // concurrent blob uploads
	// SkipExisting asks the registry (HEAD) for each manifest first and
	// does not PUT one that it already holds under the same reference with
	// the same digest, as crane does: a repeated copy changes nothing.
	SkipExisting bool
}

var _ Publisher = (*Registry)(nil)

// Publish uploads every config and ordinary layer blob, then every
// manifest, then the index; a failure at any step stops before the next,
// so no manifest is pushed that points at a missing blob.
func (r *Registry) Publish(ctx context.Context, a *image.Artifact) (string, error) {
	repo := r.Ref.Context()
	root := a.Root()
	if d, ok := r.Ref.(name.Digest); ok && d.DigestStr() != root.Digest.String() {
		return "", fmt.Errorf("the reference asks for %s, but the image built is %s: drop the digest from -t", d.DigestStr(), root.Digest)
	}
	opts := append([]remote.Option{remote.WithContext(ctx)}, r.Options...)
	if err := r.uploadBlobs(ctx, repo, a, opts); err != nil {
		return "", err
	}
	if a.Index != nil {
		for _, m := range a.Manifests {
			if err := r.put(repo.Digest(m.Descriptor.Digest.String()), m.Descriptor.Digest, m.Raw, m.Descriptor.MediaType, m, opts); err != nil {
				return "", err
			}
		}
		if err := r.put(r.Ref, root.Digest, a.Index, a.IndexDesc.MediaType, nil, opts); err != nil {
			return "", err
		}
	} else if err := r.put(r.Ref, root.Digest, a.Manifests[0].Raw, root.MediaType, a.Manifests[0], opts); err != nil {
		return "", err
	}
	return repo.Digest(root.Digest.String()).String(), nil
}

func (r *Registry) uploadBlobs(ctx context.Context, repo name.Repository, a *image.Artifact, opts []remote.Option) error {
	seen := map[v1.Hash]bool{}
	var blobs []v1.Layer
	for _, m := range a.Manifests {
		if !seen[m.ConfigDesc.Digest] {
			seen[m.ConfigDesc.Digest] = true
			if m.ConfigBlob != nil {
				blobs = append(blobs, m.ConfigBlob)
			} else {
				blobs = append(blobs, static.NewLayer(m.Config, m.ConfigDesc.MediaType))
			}
		}
		for _, l := range m.Layers {
			if l.Foreign() || seen[l.Descriptor.Digest] {
				continue
			}
			seen[l.Descriptor.Digest] = true
			blobs = append(blobs, l.Blob)
		}
	}
	// Which blobs to upload is decided above: every one with content. Left
	// to itself, go-containerregistry would skip a materialized foreign
	// layer because of its media type, and the copy would lack it.
	opts = append(opts, remote.WithNondistributable)
	g, _ := errgroup.WithContext(ctx)
	g.SetLimit(max(r.Jobs, 1))
	for _, b := range blobs {
		g.Go(func() error {
			if err := remote.WriteLayer(repo, b, opts...); err != nil {
				d, _ := b.Digest()
				return fmt.Errorf("uploading blob %s to %s: %w", d, repo, explainAuth(repo.RegistryStr(), err))
			}
			return nil
		})
	}
	return g.Wait()
}

// put PUTs one serialised manifest or index, whose digest is d, unless
// SkipExisting and the registry has d under ref already. A HEAD that fails
// (not found, or a registry that does not answer HEAD) means PUT.
func (r *Registry) put(ref name.Reference, d v1.Hash, raw []byte, mt types.MediaType, m *image.Manifest, opts []remote.Option) error {
	if r.SkipExisting {
		if desc, err := remote.Head(ref, opts...); err == nil && desc.Digest == d {
			return nil
		}
	}
	if err := remote.Put(ref, rawManifest{raw, mt}, opts...); err != nil {
		return explainPut(ref, m, explainAuth(ref.Context().RegistryStr(), err))
	}
	return nil
}

// rawManifest is a serialised manifest, put exactly as it is.
type rawManifest struct {
	raw []byte
	mt  types.MediaType
}

func (r rawManifest) RawManifest() ([]byte, error)        { return r.raw, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return r.mt, nil }
