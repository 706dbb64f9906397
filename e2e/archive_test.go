package e2e

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"testing"
)

// dockerArchiveFiles reads a `docker save` style archive and returns the
// files of its image's layers, and the layers' diff_ids as listed.
func dockerArchiveFiles(t *testing.T, path string) (got, error) {
	t.Helper()
	entries := map[string][]byte{}
	f, err := os.Open(path)
	if err != nil {
		return got{}, err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return got{}, err
		}
		if h.Typeflag == tar.TypeReg {
			b, _ := io.ReadAll(tr)
			entries[trimDot(h.Name)] = b
		}
	}
	var manifest []struct{ Layers []string }
	if err := json.Unmarshal(entries["manifest.json"], &manifest); err != nil || len(manifest) != 1 {
		return got{}, fmt.Errorf("archive manifest.json: %v", err)
	}
	g := got{files: map[string]string{}}
	for _, name := range manifest[0].Layers {
		b, ok := entries[name]
		if !ok {
			return g, fmt.Errorf("archive lacks layer %s", name)
		}
		files, err := filesOf(t, b)
		if err != nil {
			return g, fmt.Errorf("layer %s: %v", name, err)
		}
		for k, v := range files {
			g.files[k] = v
		}
		g.diffIDs = append(g.diffIDs, sha256Hex(b))
	}
	return g, nil
}
