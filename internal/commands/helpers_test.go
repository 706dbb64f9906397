package commands

import (
	"archive/tar"
	"io"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

var testTime = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

// tarNames lists the entry names of a layer.
func tarNames(t *testing.T, l v1.Layer) []string {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Uid != 0 || h.Gid != 0 || h.Uname != "" || !h.ModTime.Equal(time.Unix(0, 0)) {
			t.Errorf("%s: owner %d:%d %q, mtime %v: not reproducible", h.Name, h.Uid, h.Gid, h.Uname, h.ModTime)
		}
		names = append(names, h.Name)
	}
}

func mustPlatform(t *testing.T, s string) v1.Platform {
	t.Helper()
	p, err := v1.ParsePlatform(s)
	if err != nil {
		t.Fatal(err)
	}
	return *p
}

func ptr[T any](v T) *T { return &v }
