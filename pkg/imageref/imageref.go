// Package imageref parses the image references fl commands take: a
// registry reference (anything go-containerregistry's name package
// accepts) or an OCI image layout on disk, written oci-layout:DIR, with an
// optional @sha256:... or :TAG after it.
package imageref

import (
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// LayoutPrefix introduces an OCI image layout reference.
const LayoutPrefix = "oci-layout:"

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
	if rest, ok := strings.CutPrefix(s, LayoutPrefix); ok {
		return parseLayout(rest)
	}
	r, err := name.ParseReference(s, opts...)
	if err != nil {
		return Ref{}, fmt.Errorf("%w %q: %v (expected REGISTRY/REPO[:TAG|@sha256:HEX] or oci-layout:DIR)", ErrInvalid, s, err)
	}
	return Ref{Registry: r}, nil
}

func parseLayout(rest string) (Ref, error) {
	r := Ref{Layout: rest}
	if dir, dig, ok := strings.Cut(rest, "@"); ok {
		if _, err := name.NewDigest("x@" + dig); err != nil {
			return Ref{}, fmt.Errorf("%w: oci-layout:%s: %q is not a digest", ErrInvalid, rest, dig)
		}
		r.Layout, r.Digest = dir, dig
	} else if i := strings.LastIndex(rest, ":"); i > 0 && !strings.Contains(rest[i:], "/") {
		r.Layout, r.Tag = rest[:i], rest[i+1:]
	}
	if r.Layout == "" {
		return Ref{}, fmt.Errorf("%w: oci-layout: needs a directory, e.g. oci-layout:./out", ErrInvalid)
	}
	return r, nil
}

// String gives the reference back in the form Parse reads.
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
