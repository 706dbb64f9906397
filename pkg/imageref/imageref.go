// Package imageref parses the image references fl commands take: a
// registry reference (anything go-containerregistry's name package
// accepts, bare or as skopeo's docker://REF) or an OCI image layout on
// disk, written oci-layout:DIR, skopeo's oci:DIR[:TAG] or regctl's
// ocidir://DIR[:TAG], with an optional @sha256:... or :TAG after it.
package imageref

import (
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// Reference prefixes.
const (
	LayoutPrefix = "oci-layout:" // fl's own
	OCIPrefix    = "oci:"        // skopeo's
	OCIDirPrefix = "ocidir://"   // regctl's
	DockerPrefix = "docker://"   // skopeo's
)

// ErrInvalid is wrapped by every parse error.
var ErrInvalid = errors.New("invalid image reference")

// Ref is a parsed reference: exactly one of Registry and Layout is set.
type Ref struct {
	Registry name.Reference
	Layout   string // directory of an OCI image layout
	Digest   string // within a layout: a manifest digest, if given
	Tag      string // within a layout: the org.opencontainers.image.ref.name
}

// Parse reads s. opts are applied to registry references (name.Insecure).
func Parse(s string, opts ...name.Option) (Ref, error) {
	switch {
	case strings.HasPrefix(s, LayoutPrefix):
		return parseLayout(s, strings.TrimPrefix(s, LayoutPrefix), strings.LastIndex)
	case strings.HasPrefix(s, OCIDirPrefix):
		return parseLayout(s, strings.TrimPrefix(s, OCIDirPrefix), strings.LastIndex)
	case strings.HasPrefix(s, OCIPrefix):
		// skopeo splits oci:DIR:TAG at the first colon.
		return parseLayout(s, strings.TrimPrefix(s, OCIPrefix), strings.Index)
	case strings.HasPrefix(s, DockerPrefix):
		return parseRegistry(s, strings.TrimPrefix(s, DockerPrefix), opts)
	}
	if scheme, _, ok := strings.Cut(s, "://"); ok && !strings.ContainsAny(scheme, "/.:@") {
		return Ref{}, fmt.Errorf("%w %q: unknown transport %s://: use docker://REF, oci:DIR[:TAG], ocidir://DIR[:TAG], oci-layout:DIR[:TAG], or a plain REGISTRY/REPO[:TAG]", ErrInvalid, s, scheme)
	}
	return parseRegistry(s, s, opts)
}

func parseRegistry(orig, s string, opts []name.Option) (Ref, error) {
	if why := diagnose(s); why != "" {
		return Ref{}, fmt.Errorf("%w %q: %s; a valid one looks like %s", ErrInvalid, orig, why, Example)
	}
	r, err := name.ParseReference(s, opts...)
	if err != nil {
		return Ref{}, fmt.Errorf("%w %q: %v; a valid one looks like %s", ErrInvalid, orig, err, Example)
	}
	return Ref{Registry: r}, nil
}

// index finds the separator of TAG in a layout reference.
type index func(s, sep string) int

func parseLayout(orig, rest string, sep index) (Ref, error) {
	prefix := strings.TrimSuffix(orig, rest)
	r := Ref{Layout: rest}
	if dir, dig, ok := strings.Cut(rest, "@"); ok {
		if _, err := name.NewDigest("x@" + dig); err != nil {
			return Ref{}, fmt.Errorf("%w %q: %q is not a digest: want @sha256: and 64 hex digits", ErrInvalid, orig, dig)
		}
		r.Layout, r.Digest = strings.TrimSuffix(dir, ":"), dig
	} else if i := sep(rest, ":"); i > 0 && !strings.Contains(rest[i:], "/") {
		r.Layout, r.Tag = rest[:i], rest[i+1:]
		if r.Tag == "" {
			return Ref{}, fmt.Errorf("%w %q: nothing after the colon: give a tag (%sDIR:TAG) or drop the colon", ErrInvalid, orig, prefix)
		}
		if _, err := name.NewTag("x:" + r.Tag); err != nil {
			return Ref{}, fmt.Errorf("%w %q: tag %q: tags are up to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'", ErrInvalid, orig, r.Tag)
		}
	}
	if r.Layout == "" {
		return Ref{}, fmt.Errorf("%w %q: needs a directory, e.g. %s./out:v1", ErrInvalid, orig, prefix)
	}
	return r, nil
}

// String gives the reference back in a form Parse reads.
func (r Ref) String() string {
	if r.Registry != nil {
		return r.Registry.String()
	}
	s := LayoutPrefix + r.Layout
	switch {
	case r.Digest != "":
		s += "@" + r.Digest
	case r.Tag != "":
		s += ":" + r.Tag
	}
	return s
}
