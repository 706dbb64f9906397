package e2e

import (
	"archive/tar"
	"bytes"
	"io"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/foreignlayers/fl/pkg/describe"
)

// filesOf reads a layer blob (gzip, zstd or plain tar) and returns its
// regular files.
func filesOf(t *testing.T, blob []byte) (map[string]string, error) {
	t.Helper()
	head := blob
	if len(head) > describe.SniffLen {
		head = head[:describe.SniffLen]
	}
	c, err := describe.Sniff(head)
	if err != nil {
		return nil, err
	}
	var r io.Reader = bytes.NewReader(blob)
	switch c {
	case describe.Gzip:
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, err
		}
		r = zr
	case describe.Zstd:
		zr, err := zstd.NewReader(r)
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		r = zr
	}
	out := map[string]string{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if h.Typeflag == tar.TypeReg {
			b, _ := io.ReadAll(tr)
			out[trimDot(h.Name)] = string(b)
		}
	}
}

func trimDot(s string) string {
	for len(s) > 2 && s[:2] == "./" {
		s = s[2:]
	}
	return s
}
