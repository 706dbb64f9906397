package front

import (
	"encoding/json"
	"fmt"
	"net/url"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/foreignlayers/fl/pkg/name"
	"github.com/foreignlayers/fl/pkg/policy"
)

// rawDescriptor is a descriptor as a manifest carries it, with its digest
// still a string: a digest of an algorithm fl does not know must not make
// the whole manifest unreadable to the front (and so unchecked).
type rawDescriptor struct {
	MediaType string   `json:"mediaType"`
	Size      int64    `json:"size"`
	Digest    string   `json:"digest"`
	URLs      []string `json:"urls"`
}

// manifestDoc is every place of an image manifest or index that holds a
// descriptor.
type manifestDoc struct {
	Config    *rawDescriptor  `json:"config"`
	Layers    []rawDescriptor `json:"layers"`
	Manifests []rawDescriptor `json:"manifests"`
	Blobs     []rawDescriptor `json:"blobs"`
	Subject   *rawDescriptor  `json:"subject"`
}

// declared is what a manifest declares with urls.
type declared struct {
	// blobs are the config and layers with urls: the foreign blobs the
	// front serves for the repository, URLs in canonical form.
	blobs []v1.Descriptor
	// all are every descriptor with urls, for the URL policy.
	all []rawDescriptor
	// ordinary are the config and layers without urls.
	ordinary []v1.Descriptor
}

// parseDeclared reads the descriptors of a manifest or index. A body the
// front cannot read is an error, even where a backend would accept it: a
// descriptor the front does not see is a descriptor it did not check.
func parseDeclared(body []byte) (declared, error) {
	var doc manifestDoc
	if err := json.Unmarshal(body, &doc); err != nil {
		return declared{}, &vetError{fmt.Sprintf("the manifest is not a manifest or index fl serve can read, so its descriptors cannot be checked: %v", err)}
	}
	var d declared
	blobs := doc.Layers
	if doc.Config != nil {
		blobs = append([]rawDescriptor{*doc.Config}, blobs...)
	}
	for _, x := range blobs {
		if len(x.URLs) > 0 {
			d.all = append(d.all, x)
		} else if h, err := v1.NewHash(x.Digest); err == nil {
			d.ordinary = append(d.ordinary, v1.Descriptor{MediaType: types.MediaType(x.MediaType), Size: x.Size, Digest: h})
		}
	}
	nBlobs := len(d.all)
	for _, list := range [][]rawDescriptor{doc.Manifests, doc.Blobs} {
		for _, x := range list {
			if len(x.URLs) > 0 {
				d.all = append(d.all, x)
			}
		}
	}
	if doc.Subject != nil && len(doc.Subject.URLs) > 0 {
		d.all = append(d.all, *doc.Subject)
	}
	for _, x := range d.all[:nBlobs] {
		h, err := v1.NewHash(x.Digest)
		if err != nil {
			continue // vet refuses it at PUT; a GET skips it
		}
		d.blobs = append(d.blobs, v1.Descriptor{MediaType: types.MediaType(x.MediaType), Size: x.Size, Digest: h, URLs: x.URLs})
	}
	return d, nil
}

// vetError is a descriptor a manifest PUT may not declare.
type vetError struct{ msg string }

func (e *vetError) Error() string { return e.msg }

// vet checks every descriptor with urls, whatever its algorithm: a digest
// fl can verify, a size within bounds, every URL allowed by the policy.
// It returns the foreign blobs with their URLs in canonical form.
func vet(d declared, p *policy.Policy, maxBlob int64) ([]v1.Descriptor, error) {
	sizes := map[string]int64{}
	for _, x := range d.all {
		if n, seen := sizes[x.Digest]; seen && n != x.Size {
			return nil, &vetError{fmt.Sprintf("descriptor %s is declared twice, with sizes %d and %d; one of them is wrong", x.Digest, n, x.Size)}
		}
		sizes[x.Digest] = x.Size
		if err := name.CheckDigest(x.Digest); err != nil {
			return nil, &vetError{fmt.Sprintf("a descriptor with urls has an invalid digest: %v", err)}
		}
		alg, _, _ := cutAlg(x.Digest)
		if !name.Verifiable(alg) {
			return nil, &vetError{fmt.Sprintf("descriptor %s has urls, but fl serve can verify only sha256 digests: content from its URLs could not be checked", x.Digest)}
		}
		if x.Size < 0 {
			return nil, &vetError{fmt.Sprintf("descriptor %s declares a negative size (%d)", x.Digest, x.Size)}
		}
		if x.Size > maxBlob {
			return nil, &vetError{fmt.Sprintf("descriptor %s declares %d bytes, more than this server accepts for a foreign layer (--max-blob-size %d)", x.Digest, x.Size, maxBlob)}
		}
		for _, u := range x.URLs {
			if _, err := p.Canonical(u); err != nil {
				return nil, &policyError{digest: x.Digest, url: u, err: err}
			}
		}
	}
	return canonical(d.blobs), nil
}

// canonical returns the blobs with their URLs in the policy's canonical
// form, dropping URLs that do not parse.
func canonical(blobs []v1.Descriptor) []v1.Descriptor {
	out := make([]v1.Descriptor, 0, len(blobs))
	for _, b := range blobs {
		urls := make([]string, 0, len(b.URLs))
		for _, raw := range b.URLs {
			if u, err := url.Parse(raw); err == nil {
				urls = append(urls, policy.Canonicalize(u).String())
			}
		}
		b.URLs = urls
		out = append(out, b)
	}
	return out
}

// policyError is a URL the policy refuses.
type policyError struct {
	digest, url string
	err         error
}

func (e *policyError) Error() string { return fmt.Sprintf("layer %s: %v", e.digest, e.err) }

func cutAlg(d string) (alg, enc string, ok bool) {
	for i := 0; i < len(d); i++ {
		if d[i] == ':' {
			return d[:i], d[i+1:], true
		}
	}
	return "", "", false
}
