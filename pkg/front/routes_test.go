package front

import (
	"errors"
	"strings"
	"testing"

	"github.com/foreignlayers/fl/pkg/name"
	"github.com/foreignlayers/fl/pkg/ocierr"
)

func TestParseRoute(t *testing.T) {
	t.Parallel()
	d := "sha256:" + strings.Repeat("a", 64)
	for _, tc := range []struct {
		path, kind, repo, ref string
	}{
		{"/v2/", "v2", "", ""},
		{"/v2/_catalog", "catalog", "", ""},
		{"/auth/token", "token", "", ""},
		{"/v2/library/ubuntu/manifests/24.04", "manifest", "library/ubuntu", "24.04"},
		{"/v2/a/b/c/manifests/" + d, "manifest", "a/b/c", d},
		{"/v2/x/blobs/" + d, "blob", "x", d},
		{"/v2/blobs/blobs/" + d, "blob", "blobs", d},
		{"/v2/manifests/manifests/1", "manifest", "manifests", "1"},
		{"/v2/x/blobs/uploads/", "upload", "x", ""},
		{"/v2/x/blobs/uploads/abc-123", "upload", "x", ""},
		{"/v2/x/tags/list", "tags", "x", ""},
		{"/v2/x/referrers/" + d, "referrers", "x", d},
		{"/v2/x/manifests/", "other", "", ""},
		{"/metrics", "other", "", ""},
		{"/v2", "other", "", ""},
	} {
		r, err := parseRoute(tc.path)
		if err != nil || r.kind != tc.kind || r.repo.String() != tc.repo || r.ref != tc.ref {
			t.Errorf("%s: %+v, %v; want %s %q %q", tc.path, r, err, tc.kind, tc.repo, tc.ref)
		}
	}
}

func TestParseRouteRefusesInvalidNames(t *testing.T) {
	t.Parallel()
	d := "sha256:" + strings.Repeat("a", 64)
	for path, code := range map[string]ocierr.Code{
		"/v2/a/../../x/manifests/t":                      ocierr.NameInvalid,
		"/v2/../x/blobs/" + d:                            ocierr.NameInvalid,
		"/v2/./x/tags/list":                              ocierr.NameInvalid,
		"/v2/A/manifests/t":                              ocierr.NameInvalid,
		"/v2/a//b/blobs/uploads/":                        ocierr.NameInvalid,
		"/v2/" + strings.Repeat("a", 256) + "/tags/list": ocierr.NameInvalid,
		"/v2/a/manifests/-bad":                           ocierr.TagInvalid,
		"/v2/a/manifests/sha256:zz":                      ocierr.DigestInvalid,
		"/v2/a/blobs/latest":                             ocierr.DigestInvalid,
		"/v2/a/referrers/nope":                           ocierr.DigestInvalid,
	} {
		_, err := parseRoute(path)
		var re *routeError
		if !errors.As(err, &re) || re.code != code {
			t.Errorf("%s: %v, want %s", path, err, code)
		}
	}
}

func FuzzParseRoute(f *testing.F) {
	f.Add("/v2/a/b/blobs/sha256:x")
	f.Add("/v2/a/manifests/1")
	f.Add("/v2/a/../b/manifests/1")
	f.Fuzz(func(t *testing.T, path string) {
		r, err := parseRoute(path)
		if err != nil {
			return
		}
		switch r.kind {
		case "manifest", "blob", "upload", "tags", "referrers":
			if _, err := name.ParseRepository(r.repo.String()); err != nil {
				t.Fatalf("%q: route with an invalid repository %q", path, r.repo)
			}
			for _, c := range r.repo.Components() {
				if c == "." || c == ".." {
					t.Fatalf("%q: dot segment in %q", path, r.repo)
				}
			}
			if !strings.HasPrefix(path, "/v2/"+r.repo.String()+"/") || !strings.HasSuffix(path, r.ref) {
				t.Fatalf("%q: %+v does not come from the path", path, r)
			}
		}
	})
}
