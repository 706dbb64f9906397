package publish

import (
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/foreignlayers/fl/pkg/image"
)

// ErrURLsRejected is wrapped when a registry refuses a manifest because of
// its foreign layers' URLs.
var ErrURLsRejected = errors.New("the registry refused the foreign layer URLs")

// explainPut turns the reference registry's misleading answer to a
// manifest with foreign URLs into plain words.
func explainPut(ref name.Reference, m *image.Manifest, err error) error {
	var terr *transport.Error
	if m == nil || !errors.As(err, &terr) {
		return fmt.Errorf("pushing manifest to %s: %w", ref, err)
	}
	foreign := map[string]bool{}
	for _, l := range m.Layers {
		if image.IsForeign(l.Descriptor) {
			foreign[l.Descriptor.Digest.String()] = true
		}
	}
	if len(foreign) == 0 {
		return fmt.Errorf("pushing manifest to %s: %w", ref, err)
	}
	for _, d := range terr.Errors {
		if !urlRelated(d, foreign) {
			continue
		}
		return &urlsRejected{registry: ref.Context().RegistryStr(), code: string(d.Code), message: strings.TrimSpace(d.Message), err: err}
	}
	return fmt.Errorf("pushing manifest to %s: %w", ref, err)
}

// urlRelated reports whether one error of a registry's answer is about
// foreign layers: unknown blob for a foreign digest (or for no digest
// named), or an invalid manifest that mentions urls.
func urlRelated(d transport.Diagnostic, foreign map[string]bool) bool {
	detail := fmt.Sprint(d.Detail)
	switch d.Code {
	case transport.ManifestBlobUnknownErrorCode, transport.BlobUnknownErrorCode:
		if d.Detail == nil {
			return true
		}
		for dig := range foreign {
			if strings.Contains(detail, dig) {
				return true
			}
		}
	case transport.ManifestInvalidErrorCode:
		return strings.Contains(strings.ToLower(d.Message+detail), "url")
	}
	return false
}

// urlsRejected says in plain words why a registry refused a manifest.
type urlsRejected struct {
	registry, code, message string
	err                     error
}

func (e *urlsRejected) Error() string {
	if e.code == string(transport.ManifestInvalidErrorCode) {
		// The registry named the URL and the rule it broke (fl serve does).
		return fmt.Sprintf("%v: %s answered %s: %s", ErrURLsRejected, e.registry, e.code, e.message)
	}
	return fmt.Sprintf("%v: %s answered %s (%q) to a manifest whose layers live at URLs.\n"+
		"The reference registry (distribution, registry:2, docker-registry) refuses every layer URL unless its config allows them:\n"+
		"  validation:\n    manifests:\n      urls:\n        allow:\n          - ^https?://\n"+
		"Other registries have a setting of the same kind (docs/CONFIGURATION.md); `fl serve` accepts them as they are. To copy into a registry that must refuse them, `fl copy --strip-urls` makes the layers ordinary blobs (the digest changes).",
		ErrURLsRejected, e.registry, e.code, e.message)
}

func (e *urlsRejected) Unwrap() []error { return []error{ErrURLsRejected, e.err} }

// ErrAuth is wrapped when the registry wants credentials fl does not have.
var ErrAuth = errors.New("the registry wants credentials fl does not have")

// explainAuth adds the way out to a 401 or 403 from a registry.
func explainAuth(registry string, err error) error {
	var terr *transport.Error
	if !errors.As(err, &terr) {
		return err
	}
	switch terr.StatusCode {
	case 401:
		return fmt.Errorf("%w: %s answered 401 Unauthorized (fl had no credentials for it, or they were wrong): log in with `fl login %s -u USER` (or `docker login %s`, podman login), or give --creds USER:PASS or --authfile FILE; fl reads the docker config, its credential helpers, and $REGISTRY_AUTH_FILE: %w", ErrAuth, registry, registry, registry, err)
	case 403:
		return fmt.Errorf("%w: %s answered 403 Forbidden: these credentials may not push here: %w", ErrAuth, registry, err)
	}
	return err
}
