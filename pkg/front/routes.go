package front

import (
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// route is what a request path names.
type route struct {
	kind string // v2, manifest, blob, upload, tags, referrers, catalog, other
	repo string
	ref  string // tag or digest, for manifests and blobs
}

// parseRoute reads an OCI distribution path without regular expressions:
// it runs on every request.
func parseRoute(path string) route {
	rest, ok := strings.CutPrefix(path, "/v2/")
	if !ok {
		return route{kind: "other"}
	}
	switch rest {
	case "":
		return route{kind: "v2"}
	case "_catalog":
		return route{kind: "catalog"}
	}
	if i := strings.LastIndex(rest, "/manifests/"); i > 0 {
		ref := rest[i+len("/manifests/"):]
		if ref != "" && !strings.Contains(ref, "/") {
			return route{kind: "manifest", repo: rest[:i], ref: ref}
		}
	}
	if i := strings.LastIndex(rest, "/blobs/"); i > 0 {
		ref := rest[i+len("/blobs/"):]
		if strings.HasPrefix(ref, "uploads/") || ref == "uploads" {
			return route{kind: "upload", repo: rest[:i]}
		}
		if ref != "" && !strings.Contains(ref, "/") {
			return route{kind: "blob", repo: rest[:i], ref: ref}
		}
	}
	if repo, ok := strings.CutSuffix(rest, "/tags/list"); ok {
		return route{kind: "tags", repo: repo}
	}
	if i := strings.LastIndex(rest, "/referrers/"); i > 0 {
		return route{kind: "referrers", repo: rest[:i]}
	}
	return route{kind: "other"}
}

// digest parses the route's reference as a digest.
func (r route) digest() (v1.Hash, bool) {
	h, err := v1.NewHash(r.ref)
	return h, err == nil
}
