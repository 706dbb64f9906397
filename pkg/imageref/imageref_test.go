package imageref

import (
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in                       string
		layout, digest, tag, reg string
	}{
		{in: "oci-layout:./out", layout: "./out"},
		{in: "oci-layout:/abs/dir:v1", layout: "/abs/dir", tag: "v1"},
		{in: "oci-layout:dir@sha256:" + hex64, layout: "dir", digest: "sha256:" + hex64},
		{in: "oci-layout:a:b/c", layout: "a:b/c"},
		{in: "oci:./out", layout: "./out"},
		{in: "oci:/abs/dir:v1", layout: "/abs/dir", tag: "v1"},
		{in: "oci:dir:a:b", layout: "dir", tag: "a:b"}, // skopeo: the first colon; the tag check below refuses this one
		{in: "oci:dir@sha256:" + hex64, layout: "dir", digest: "sha256:" + hex64},
		{in: "ocidir://./out", layout: "./out"},
		{in: "ocidir:///abs/dir:v1", layout: "/abs/dir", tag: "v1"},
		{in: "ocidir://dir@sha256:" + hex64, layout: "dir", digest: "sha256:" + hex64},
		{in: "docker://localhost:5000/x:1", reg: "localhost:5000/x:1"},
		{in: "docker://ubuntu", reg: "index.docker.io/library/ubuntu:latest"},
		{in: "localhost:5000/x:1", reg: "localhost:5000/x:1"},
		{in: "ubuntu", reg: "index.docker.io/library/ubuntu:latest"},
		{in: "Registry.Example.com/a/b:T", reg: "Registry.Example.com/a/b:T"},
	} {
		r, err := Parse(tc.in)
		if tc.in == "oci:dir:a:b" {
			if err == nil {
				t.Errorf("%s: accepted a tag with a colon", tc.in)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		reg := ""
		if r.Registry != nil {
			reg = r.Registry.Name()
		}
		if r.Layout != tc.layout || r.Digest != tc.digest || r.Tag != tc.tag || reg != tc.reg {
			t.Errorf("%s: %+v (registry %q)", tc.in, r, reg)
		}
	}
}

// TestParseBad: every bad reference is refused with words that say what
// is wrong, and an example of a good one.
func TestParseBad(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"", "empty"},
		{"UPPER/x", `upper-case letters: repository names are lower case ("upper/x")`},
		{"localhost:5000/Team/App:1", `repository names are lower case ("team/app")`},
		{"docker://localhost:5000/Bad:1", "upper-case"},
		{"x:bad tag", "white space"},
		{"localhost:5000/x:", "nothing after the last ':'"},
		{"localhost:5000/x:-bad", `tag "-bad"`},
		{"localhost:5000/x@", "nothing after '@'"},
		{"localhost:5000/x@sha256:abc", `digest "sha256:abc"`},
		{"localhost:5000/a$b:1", `contains '$'`},
		{"localhost:5000/a//b", "empty path component"},
		{"localhost:5000/a--_b", "separators cannot repeat"},
		{"localhost:5000/", "no repository"},
		{"oci-layout:", "needs a directory"},
		{"oci:", "needs a directory"},
		{"ocidir://", "needs a directory"},
		{"oci-layout:dir@nope", "not a digest"},
		{"oci:dir:", "nothing after the colon"},
		{"oci:dir:bad tag", `tag "bad tag"`},
		{"s3://bucket/x", "unknown transport s3://"},
	} {
		_, err := Parse(tc.in)
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%q: err = %v", tc.in, err)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v\nwant it to say %q", tc.in, err, tc.want)
		}
		if !strings.HasPrefix(tc.in, "o") && !strings.Contains(err.Error(), "a valid one looks like") && !strings.Contains(err.Error(), "use docker://") {
			t.Errorf("%q: %v\nwant an example", tc.in, err)
		}
	}
}

const hex64 = "0000000000000000000000000000000000000000000000000000000000000001"

func FuzzParse(f *testing.F) {
	f.Add("oci-layout:dir:tag")
	f.Add("oci:dir:tag")
	f.Add("ocidir://dir@sha256:" + hex64)
	f.Add("docker://localhost:5000/a/b@sha256:" + hex64)
	f.Fuzz(func(t *testing.T, s string) {
		r, err := Parse(s)
		if err != nil {
			return
		}
		if (r.Registry == nil) == (r.Layout == "") {
			t.Fatalf("%q: exactly one of registry and layout must be set: %+v", s, r)
		}
	})
}
