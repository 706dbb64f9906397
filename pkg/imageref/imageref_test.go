package imageref

import (
	"errors"
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
		{in: "localhost:5000/x:1", reg: "localhost:5000/x:1"},
		{in: "ubuntu", reg: "index.docker.io/library/ubuntu:latest"},
	} {
		r, err := Parse(tc.in)
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
	for _, bad := range []string{"oci-layout:", "oci-layout:dir@nope", "UPPER/x", "x:bad tag", ""} {
		if _, err := Parse(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
}

const hex64 = "0000000000000000000000000000000000000000000000000000000000000001"

func FuzzParse(f *testing.F) {
	f.Add("oci-layout:dir:tag")
	f.Add("localhost:5000/a/b@sha256:" + hex64)
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
