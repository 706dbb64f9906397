package front

import (
	"strings"
	"testing"
)

func TestParseRoute(t *testing.T) {
	t.Parallel()
	d := "sha256:" + strings.Repeat("a", 64)
	for _, tc := range []struct {
		path, kind, repo, ref string
	}{
		{"/v2/", "v2", "", ""},
		{"/v2/_catalog", "catalog", "", ""},
		{"/v2/library/ubuntu/manifests/24.04", "manifest", "library/ubuntu", "24.04"},
		{"/v2/a/b/c/manifests/" + d, "manifest", "a/b/c", d},
		{"/v2/x/blobs/" + d, "blob", "x", d},
		{"/v2/blobs/blobs/" + d, "blob", "blobs", d},
		{"/v2/manifests/manifests/1", "manifest", "manifests", "1"},
		{"/v2/x/blobs/uploads/", "upload", "x", ""},
		{"/v2/x/blobs/uploads/abc-123", "upload", "x", ""},
		{"/v2/x/tags/list", "tags", "x", ""},
		{"/v2/x/referrers/" + d, "referrers", "x", ""},
		{"/v2/x/manifests/", "other", "", ""},
		{"/metrics", "other", "", ""},
		{"/v2", "other", "", ""},
	} {
		r := parseRoute(tc.path)
		if r.kind != tc.kind || r.repo != tc.repo || r.ref != tc.ref {
			t.Errorf("%s: %+v, want %s %q %q", tc.path, r, tc.kind, tc.repo, tc.ref)
		}
	}
}

func FuzzParseRoute(f *testing.F) {
	f.Add("/v2/a/b/blobs/sha256:x")
	f.Add("/v2/a/manifests/1")
	f.Fuzz(func(t *testing.T, path string) {
		r := parseRoute(path)
		switch r.kind {
		case "manifest", "blob":
			if r.repo == "" || r.ref == "" || strings.Contains(r.ref, "/") {
				t.Fatalf("%q: %+v", path, r)
			}
			if !strings.HasPrefix(path, "/v2/"+r.repo+"/") || !strings.HasSuffix(path, "/"+r.ref) {
				t.Fatalf("%q: %+v does not come from the path", path, r)
			}
		}
	})
}
