package front

import (
	"fmt"
	"net/http"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/foreignlayers/fl/pkg/name"
	"github.com/foreignlayers/fl/pkg/ocierr"
)

// route is what a request path names. Its repository is validated: a
// route with a repository always has a valid one.
type route struct {
	kind string // v2, manifest, blob, upload, tags, referrers, catalog, token, other
	repo name.Repository
	ref  string // tag or digest, for manifests and blobs
}

// routeError is a request path that names something invalid.
type routeError struct {
	code ocierr.Code
	err  error
}

func (e *routeError) Error() string { return e.err.Error() }

// TokenPath is where the token endpoint of --htpasswd answers.
const TokenPath = "/auth/token"

// parseRoute reads an OCI distribution path, already percent-decoded,
// without regular expressions: it runs on every request. A repository
// name, tag or digest that breaks the grammar is an error, whatever the
// route, so nothing downstream sees an invalid name.
func parseRoute(path string) (route, error) {
	if path == TokenPath {
		return route{kind: "token"}, nil
	}
	rest, ok := strings.CutPrefix(path, "/v2/")
	if !ok {
		return route{kind: "other"}, nil
	}
	switch rest {
	case "":
		return route{kind: "v2"}, nil
	case "_catalog":
		return route{kind: "catalog"}, nil
	}
	if i := strings.LastIndex(rest, "/manifests/"); i > 0 {
		ref := rest[i+len("/manifests/"):]
		if ref != "" && !strings.Contains(ref, "/") {
			return withRepo("manifest", rest[:i], ref)
		}
	}
	if i := strings.LastIndex(rest, "/blobs/"); i > 0 {
		ref := rest[i+len("/blobs/"):]
		if strings.HasPrefix(ref, "uploads/") || ref == "uploads" {
			return withRepo("upload", rest[:i], "")
		}
		if ref != "" && !strings.Contains(ref, "/") {
			return withRepo("blob", rest[:i], ref)
		}
	}
	if repo, ok := strings.CutSuffix(rest, "/tags/list"); ok {
		return withRepo("tags", repo, "")
	}
	if i := strings.LastIndex(rest, "/referrers/"); i > 0 {
		return withRepo("referrers", rest[:i], rest[i+len("/referrers/"):])
	}
	return route{kind: "other"}, nil
}

func withRepo(kind, repo, ref string) (route, error) {
	r, err := name.ParseRepository(repo)
	if err != nil {
		return route{}, &routeError{ocierr.NameInvalid, err}
	}
	switch kind {
	case "manifest":
		if strings.Contains(ref, ":") {
			err = name.CheckDigest(ref)
			if err != nil {
				return route{}, &routeError{ocierr.DigestInvalid, err}
			}
		} else if err = name.CheckTag(ref); err != nil {
			return route{}, &routeError{ocierr.TagInvalid, err}
		}
	case "blob", "referrers":
		if err = name.CheckDigest(ref); err != nil {
			return route{}, &routeError{ocierr.DigestInvalid, err}
		}
	}
	return route{kind: kind, repo: r, ref: ref}, nil
}

// digest parses the route's reference as a digest of an algorithm fl can
// verify.
func (r route) digest() (v1.Hash, bool) {
	h, err := v1.NewHash(r.ref)
	return h, err == nil && name.Verifiable(h.Algorithm)
}

// access is what a request asks of the repository it names.
func (r route) access(method string) Access {
	acc := Access{Repo: r.repo}
	switch {
	case r.kind == "v2" || r.kind == "token" || r.kind == "other":
		return Access{}
	case r.kind == "catalog":
		acc.Catalog = true
		acc.Action = "pull"
	case method == http.MethodGet || method == http.MethodHead:
		acc.Action = "pull"
	case method == http.MethodDelete:
		acc.Action = "delete"
	default:
		acc.Action = "push"
	}
	return acc
}

// writeRouteError answers for an invalid path.
func writeRouteError(w http.ResponseWriter, err error) {
	re, ok := err.(*routeError)
	if !ok {
		re = &routeError{ocierr.NameInvalid, err}
	}
	ocierr.Write(w, re.code, fmt.Sprintf("%v", re.err), nil)
}
