package e2e

import (
	"encoding/json"
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
