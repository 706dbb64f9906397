package inspect

import (
	"bytes"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/foreignlayers/fl/pkg/image"
	"github.com/foreignlayers/fl/pkg/mirror"
)

// strippedDigest is the digest of img's manifest without layer urls (the
// rewrite fl copy --strip-urls and fl serve's view share), or "" when it
// is the digest the manifest has.
func strippedDigest(img v1.Image, digest v1.Hash) string {
	raw, err := img.RawManifest()
	if err != nil {
		return ""
	}
	stripped, err := mirror.StripManifest(raw)
	if err != nil {
		return ""
	}
	d, _, err := v1.SHA256(bytes.NewReader(stripped))
	if err != nil || d == digest {
		return ""
	}
	return d.String()
}

// strippedIndex sets the index's digest without layer urls: the index
// rewritten to point at its children's stripped manifests.
func strippedIndex(s *image.Summary, idx v1.ImageIndex) error {
	children := map[v1.Hash]v1.Descriptor{}
	for _, m := range s.Manifests {
		if m.StrippedDigest == "" {
			continue
		}
		orig, err := v1.NewHash(m.Digest)
		if err != nil {
			return err
		}
		img, err := idx.Image(orig)
		if err != nil {
			return err
		}
		raw, err := img.RawManifest()
		if err != nil {
			return err
		}
		stripped, err := mirror.StripManifest(raw)
		if err != nil {
			return err
		}
		d, n, err := v1.SHA256(bytes.NewReader(stripped))
		if err != nil {
			return err
		}
		children[orig] = v1.Descriptor{Digest: d, Size: n}
	}
	if len(children) == 0 {
		return nil
	}
	raw, err := idx.RawManifest()
	if err != nil {
		return err
	}
	rewritten, err := mirror.RewriteIndex(raw, children)
	if err != nil {
		return err
	}
	d, _, err := v1.SHA256(bytes.NewReader(rewritten))
	if err != nil {
		return err
	}
	s.StrippedDigest = d.String()
	return nil
}
