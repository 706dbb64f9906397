package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/foreignlayers/fl/internal/testutil"
)

// TestSaveDockerLoad: fl save writes a tarball that docker load accepts,
// and the loaded image's diff_ids match.
func TestSaveDockerLoad(t *testing.T) {
	need(t, testutil.DockerRegistryBin)
	d := startDockerd(t)
	up := testutil.NewUpstream(t)
	tarball := testutil.Tar(t, map[string]string{"etc/os-release": "ID=saved\n"})
	up.Put("/rootfs.tar.gz", testutil.Gzip(t, tarball))
	reg := testutil.DockerRegistry(t, testutil.AllowLocalhost)
	for _, format := range []string{"docker", "oci"} {
		ref := reg + "/save/" + format + ":1"
		run(t, flBin, "build", "-q", "--format", format, "-t", ref, "--layer", up.URL("/rootfs.tar.gz"))
		out := filepath.Join(t.TempDir(), "image.tar")
		run(t, flBin, "save", "-q", ref, "-o", out)
		if stdout, stderr, err := d.docker("load", "-i", out); err != nil {
			t.Fatalf("%s: docker load: %v\n%s%s", format, err, stdout, stderr)
		}
		js, stderr, err := d.docker("image", "inspect", ref, "--format", "{{json .RootFS.Layers}}")
		if err != nil {
			t.Fatalf("docker image inspect: %v %s", err, stderr)
		}
		var layers []string
		if err := json.Unmarshal([]byte(js), &layers); err != nil {
			t.Fatal(err)
		}
		if len(layers) != 1 || layers[0] != testutil.Sha256(tarball) {
			t.Errorf("%s: loaded diff_ids %v, want [%s]", format, layers, testutil.Sha256(tarball))
		}
	}
}

// TestSaveOCISkopeoInspect: skopeo reads the layout fl save --format oci
// writes.
func TestSaveOCISkopeoInspect(t *testing.T) {
	need(t, "/usr/bin/skopeo")
	need(t, testutil.DockerRegistryBin)
	up := testutil.NewUpstream(t)
	tarball := testutil.Tar(t, map[string]string{"etc/os-release": "ID=oci\n"})
	gz := testutil.Gzip(t, tarball)
	up.Put("/rootfs.tar.gz", gz)
	reg := testutil.DockerRegistry(t, testutil.AllowLocalhost)
	ref := reg + "/save/skopeo:1"
	run(t, flBin, "build", "-q", "--format", "oci", "-t", ref, "--layer", up.URL("/rootfs.tar.gz"))
	dir := filepath.Join(t.TempDir(), "layout")
	run(t, flBin, "save", "-q", "--format", "oci", ref, "-o", dir)
	up.Close() // skopeo must find the layer in the layout, not at its URL
	out, err := runClient(0, nil, "skopeo", "inspect", "oci:"+dir)
	if err != nil {
		t.Fatalf("skopeo inspect: %v", err)
	}
	var info struct {
		Layers       []string
		Architecture string
	}
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(info.Layers) != 1 || info.Layers[0] != testutil.Sha256(gz) || info.Architecture != "amd64" {
		t.Errorf("skopeo inspect: %+v", info)
	}
	// skopeo's oci: transport goes to the URLs of a layer even when the
	// layout has its bytes: with the upstream gone, it cannot copy the
	// image out. That is skopeo's doing; fl save --strip-urls is the way
	// round it.
	if _, err := runClient(0, nil, "skopeo", "copy", "oci:"+dir, "dir:"+filepath.Join(t.TempDir(), "x")); err == nil || !strings.Contains(err.Error(), "failed fetching external blob from all urls") {
		t.Errorf("skopeo copy from a layout with urls, upstream gone: %v; it used to fail at the URLs: update docs/AIRGAP.md", err)
	}
	up2 := testutil.NewUpstream(t)
	up2.Put("/rootfs.tar.gz", gz)
	ref2 := reg + "/save/skopeo:2"
	run(t, flBin, "build", "-q", "--format", "oci", "-t", ref2, "--layer", up2.URL("/rootfs.tar.gz"))
	stripped := filepath.Join(t.TempDir(), "stripped")
	run(t, flBin, "save", "-q", "--format", "oci", "--strip-urls", ref2, "-o", stripped)
	up2.Close()
	copyDir := filepath.Join(t.TempDir(), "copy")
	if _, err := runClient(0, nil, "skopeo", "copy", "oci:"+stripped, "dir:"+copyDir); err != nil {
		t.Fatalf("skopeo copy from the stripped layout: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(copyDir, strings.TrimPrefix(testutil.Sha256(gz), "sha256:"))); err != nil || testutil.Sha256(b) != testutil.Sha256(gz) {
		t.Errorf("skopeo's copy of the layer: %v", err)
	}
}
