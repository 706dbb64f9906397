package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/foreignlayers/fl/internal/testutil"
	"github.com/foreignlayers/fl/pkg/image"
)

// imageKind is one kind of image in the matrix.
type imageKind struct {
	name string
	// build pushes the image to ref with the fl binary, with layer content
	// unique to tag, and returns what a pull must produce.
	build func(t *testing.T, up *layerHost, ref, tag string) *wantImage
}

var imageKinds = []imageKind{
	{"docker schema2, foreign type", func(t *testing.T, up *layerHost, ref, tag string) *wantImage {
		return buildOne(t, up, ref, tag, "--format", "docker")
	}},
	{"OCI, layer type + urls", func(t *testing.T, up *layerHost, ref, tag string) *wantImage {
		return buildOne(t, up, ref, tag, "--format", "oci")
	}},
	{"OCI non-distributable type", func(t *testing.T, up *layerHost, ref, tag string) *wantImage {
		return buildOne(t, up, ref, tag, "--format", "oci", "--nondistributable")
	}},
	{"two-platform index", buildIndex},
	{"app layer on a foreign base", buildOnBase},
}

// layerFile makes a unique foreign layer on the upstream and returns its
// URL and the file it holds.
func layerFile(t *testing.T, up *layerHost, tag, what string) (string, string, string) {
	name := "etc/" + what
	content := fmt.Sprintf("%s for %s\n", what, tag)
	path := "/" + strings.NewReplacer("/", "-", ":", "-", " ", "-").Replace(tag) + "-" + what + ".tar.gz"
	up.Put(path, testutil.Gzip(t, testutil.Tar(t, map[string]string{name: content})))
	return up.URL(path), name, content
}

func summarize(t *testing.T, out string) image.Summary {
	var s image.Summary
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("fl build --json: %v\n%s", err, out)
	}
	return s
}

func wantFrom(m image.ManifestSummary, files map[string]string) *wantImage {
	w := &wantImage{files: files}
	for _, l := range m.Layers {
		w.layers = append(w.layers, wantLayer{digest: l.Digest, diffID: l.DiffID})
		w.diffIDs = append(w.diffIDs, l.DiffID)
	}
	return w
}

func buildOne(t *testing.T, up *layerHost, ref, tag string, args ...string) *wantImage {
	url, name, content := layerFile(t, up, tag, "rootfs")
	s := summarize(t, run(t, flBin, append([]string{"build", "-q", "--json", "-t", ref, "--layer", url}, args...)...))
	return wantFrom(s.Manifests[0], map[string]string{name: content})
}

func buildIndex(t *testing.T, up *layerHost, ref, tag string) *wantImage {
	amd, name, content := layerFile(t, up, tag, "amd64")
	arm, _, _ := layerFile(t, up, tag, "arm64")
	file := filepath.Join(t.TempDir(), "build.yaml")
	yaml := fmt.Sprintf("format: oci\nplatforms:\n- platform: linux/amd64\n  layers: [{url: %s}]\n- platform: linux/arm64\n  layers: [{url: %s}]\n", amd, arm)
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	s := summarize(t, run(t, flBin, "build", "-q", "--json", "-f", file, "-t", ref))
	var w *wantImage
	var others []string
	for _, m := range s.Manifests {
		if m.Platform == "linux/amd64" {
			w = wantFrom(m, map[string]string{name: content})
			continue
		}
		for _, l := range m.Layers {
			others = append(others, l.Digest)
		}
	}
	if w == nil {
		t.Fatal("no linux/amd64 manifest")
	}
	w.others = others
	return w
}

func buildOnBase(t *testing.T, up *layerHost, ref, tag string) *wantImage {
	url, name, content := layerFile(t, up, tag, "base")
	baseRef := ref + "-base"
	run(t, flBin, "build", "-q", "-t", baseRef, "--layer", url)
	dir := t.TempDir()
	app := "app for " + tag + "\n"
	if err := os.WriteFile(filepath.Join(dir, "app.txt"), []byte(app), 0o644); err != nil {
		t.Fatal(err)
	}
	s := summarize(t, run(t, flBin, "build", "-q", "--json", "-t", ref, "--base", baseRef, "--layer", dir))
	return wantFrom(s.Manifests[0], map[string]string{name: content, "app.txt": app})
}

// check compares what a client got with what it must have.
func (w *wantImage) check(g got) error {
	if g.files == nil {
		if strings.Join(g.diffIDs, ",") != strings.Join(w.diffIDs, ",") {
			return fmt.Errorf("diff_ids %v, want %v", g.diffIDs, w.diffIDs)
		}
		return nil
	}
	for name, content := range w.files {
		if g.files[name] != content {
			return fmt.Errorf("file %s: got %q, want %q", name, g.files[name], content)
		}
	}
	return nil
}
