package e2e

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/foreignlayers/fl/internal/testutil"
)

// dockerArchiveFiles reads a `docker save` style archive and returns the
// files of its image's layers, and the layers' diff_ids as listed.
func dockerArchiveFiles(t *testing.T, path string) (got, error) {
	t.Helper()
	entries := map[string][]byte{}
	for name, b := range testutil.TarFile(t, path) {
		entries[trimDot(name)] = b
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
