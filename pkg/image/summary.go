package image

import (
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Summary is what fl prints about an image: by `fl build --json` and
// `fl inspect`. Its JSON form is part of fl's interface.
type Summary struct {
	Reference string          `json:"reference,omitempty"`
	Digest    string          `json:"digest"`
	MediaType types.MediaType `json:"mediaType"`
	// StrippedDigest is the digest the image has without layer urls (what
	// `fl copy --strip-urls` pushes and fl serve's strip-urls view serves),
	// when it differs.
	StrippedDigest string            `json:"strippedDigest,omitempty"`
	Manifests      []ManifestSummary `json:"manifests"`
}

// ManifestSummary is one platform's image.
type ManifestSummary struct {
	Platform  string          `json:"platform"`
	Digest    string          `json:"digest"`
	MediaType types.MediaType `json:"mediaType"`
	Config    string          `json:"config"`
	// StrippedDigest is this manifest's digest without layer urls, when
	// it differs.
	StrippedDigest string         `json:"strippedDigest,omitempty"`
	Layers         []LayerSummary `json:"layers"`
	// Error says why this manifest could not be read, if it could not.
	Error string `json:"error,omitempty"`
}

// LayerSummary is one layer.
type LayerSummary struct {
	Digest    string          `json:"digest"`
	Size      int64           `json:"size"`
	DiffID    string          `json:"diff_id,omitempty"`
	MediaType types.MediaType `json:"mediaType"`
	Foreign   bool            `json:"foreign"`
	URLs      []string        `json:"urls,omitempty"`
}

// SummarizeManifest summarises a parsed manifest; diffIDs may be nil or
// shorter than the layers when the config could not be read.
func SummarizeManifest(platform string, desc v1.Descriptor, m *v1.Manifest, diffIDs []v1.Hash) ManifestSummary {
	ms := ManifestSummary{
		Platform:  platform,
		Digest:    desc.Digest.String(),
		MediaType: desc.MediaType,
		Config:    m.Config.Digest.String(),
		Layers:    []LayerSummary{},
	}
	for i, l := range m.Layers {
		ls := LayerSummary{
			Digest:    l.Digest.String(),
			Size:      l.Size,
			MediaType: l.MediaType,
			Foreign:   IsForeign(l),
			URLs:      l.URLs,
		}
		if i < len(diffIDs) {
			ls.DiffID = diffIDs[i].String()
		}
		ms.Layers = append(ms.Layers, ls)
	}
	return ms
}

// Summary summarises what a build produced.
func (a *Artifact) Summary(ref string) Summary {
	root := a.Root()
	s := Summary{Reference: ref, Digest: root.Digest.String(), MediaType: root.MediaType}
	for _, m := range a.Manifests {
		mf := v1.Manifest{Config: m.ConfigDesc}
		diffIDs := make([]v1.Hash, len(m.Layers))
		for i, l := range m.Layers {
			mf.Layers = append(mf.Layers, l.Descriptor)
			diffIDs[i] = l.DiffID
		}
		s.Manifests = append(s.Manifests, SummarizeManifest(m.Platform.String(), m.Descriptor, &mf, diffIDs))
	}
	return s
}
