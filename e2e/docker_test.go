package e2e

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/foreignlayers/fl/internal/testutil"
)

// TestDockerPullThroughServe is the seed's failing command, working:
// docker (which never reads urls) pulls an image with a foreign layer
// through fl serve, in cache and redirect mode, and the pulled image's
// diff_ids match. Beside it, the seed's failure: the same image pulled
// straight from the reference registry dies with "unknown blob".
func TestDockerPullThroughServe(t *testing.T) {
	need(t, testutil.DockerRegistryBin)
	d := startDockerd(t)
	up := testutil.NewUpstream(t)
	tarball := testutil.Tar(t, map[string]string{"etc/os-release": "ID=seed\n", "usr/bin/hello": "#!/bin/sh\necho hello\n"})
	gz := testutil.Gzip(t, tarball)
	up.Put("/ubuntu-root.tar.gz", gz)

	// The seed: a foreign layer pushed to the reference registry.
	reg := testutil.DockerRegistry(t, testutil.AllowLocalhost)
	run(t, flBin, "build", "-q", "-t", reg+"/seed/ubuntu:1", "--layer", up.URL("/ubuntu-root.tar.gz"))
	_, stderr, err := d.docker("pull", reg+"/seed/ubuntu:1")
	if err == nil || !strings.Contains(stderr, "unknown blob") {
		t.Errorf("docker pull straight from docker-registry: err %v, stderr %q; want the seed's 'unknown blob'", err, stderr)
	}

	for _, mode := range []string{"cache", "redirect"} {
		addr := startServe(t, "--foreign", mode, "--allow-http", "--allow-private-networks")
		ref := addr + "/seed/ubuntu:" + mode
		run(t, flBin, "build", "-q", "-t", ref, "--layer", up.URL("/ubuntu-root.tar.gz"), "--cmd", "/bin/sh")
		if out, stderr, err := d.docker("pull", ref); err != nil {
			t.Fatalf("%s: docker pull through fl serve: %v\n%s%s", mode, err, out, stderr)
		}
		out, stderr, err := d.docker("image", "inspect", ref, "--format", "{{json .RootFS.Layers}}")
		if err != nil {
			t.Fatalf("docker image inspect: %v %s", err, stderr)
		}
		var layers []string
		if err := json.Unmarshal([]byte(out), &layers); err != nil {
			t.Fatal(err)
		}
		if len(layers) != 1 || layers[0] != testutil.Sha256(tarball) {
			t.Errorf("%s: docker's diff_ids %v, want [%s]", mode, layers, testutil.Sha256(tarball))
		}
	}
}

// TestDockerRoundTripSave: fl build → fl serve → docker pull → docker
// save. The saved layer is the upstream tarball's tar, byte for byte.
func TestDockerRoundTripSave(t *testing.T) {
	d := startDockerd(t)
	up := testutil.NewUpstream(t)
	tarball := testutil.Tar(t, map[string]string{"etc/os-release": "ID=roundtrip\n", "usr/share/doc/README": strings.Repeat("round trip\n", 1000)})
	up.Put("/rootfs.tar.gz", testutil.Gzip(t, tarball))
	addr := startServe(t, "--allow-http", "--allow-private-networks")
	ref := addr + "/roundtrip/img:1"
	run(t, flBin, "build", "-q", "-t", ref, "--layer", up.URL("/rootfs.tar.gz"))
	if _, stderr, err := d.docker("pull", ref); err != nil {
		t.Fatalf("docker pull: %v %s", err, stderr)
	}
	archive := filepath.Join(t.TempDir(), "saved.tar")
	if _, stderr, err := d.docker("save", "-o", archive, ref); err != nil {
		t.Fatalf("docker save: %v %s", err, stderr)
	}
	layers := savedLayers(t, archive)
	if len(layers) != 1 || !bytes.Equal(layers[0], tarball) {
		t.Fatalf("docker save has %d layers; the first is %d bytes, hashing to %s; the upstream tar is %d bytes, %s",
			len(layers), len(layers[0]), testutil.Sha256(layers[0]), len(tarball), testutil.Sha256(tarball))
	}
}

// savedLayers returns the raw layer files of a docker save archive, in
// order.
func savedLayers(t *testing.T, path string) [][]byte {
	t.Helper()
	entries := testutil.TarFile(t, path)
	var manifest []struct{ Layers []string }
	if err := json.Unmarshal(entries["manifest.json"], &manifest); err != nil || len(manifest) != 1 {
		t.Fatalf("manifest.json: %v", err)
	}
	var out [][]byte
	for _, l := range manifest[0].Layers {
		out = append(out, entries[l])
	}
	return out
}
