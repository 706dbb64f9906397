package e2e

import (
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/foreignlayers/fl/internal/testutil"
)

// fl's own image, built by scripts/image.sh, runs under dockerd with a
// volume: an image with a foreign layer pushed to it with fl build pulls
// with docker; after the container restarts, with the upstream stopped,
// it pulls again from the cache in the volume.
//
// dockerd runs as RECIPES.md shows, with --bridge=none (no iptables
// here), so the container shares the host's network (--network host)
// instead of publishing a port.
func TestImage(t *testing.T) {
	d := startDockerd(t)
	testutil.NeedBinary(t, "/usr/bin/git")
	_, here, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(here), "..", "scripts", "image.sh")

	// A registry to push fl's image to.
	reg := startServe(t)
	ref := reg + "/fl:test"
	out, errOut, err := runErr("bash", script, ref)
	if err != nil {
		t.Fatalf("scripts/image.sh: %v\n%s", err, tail(errOut, 20))
	}
	pushed := strings.TrimSpace(out)
	if !strings.HasPrefix(pushed, reg+"/fl@sha256:") {
		t.Fatalf("scripts/image.sh printed %q", out)
	}
	// The same inputs give the same digest.
	if again := strings.TrimSpace(run(t, "bash", script, reg+"/fl:again")); again != pushed {
		t.Errorf("scripts/image.sh again: %s, first %s", again, pushed)
	}
	if _, e, err := d.docker("pull", ref); err != nil {
		t.Fatalf("docker pull %s: %v\n%s", ref, err, e)
	}
	inspect, _, err := d.docker("image", "inspect", ref, "--format", `{{.Config.User}} {{json .Config.Entrypoint}} {{json .Config.Cmd}} {{index .Config.Labels "org.opencontainers.image.revision"}}`)
	if err != nil || !strings.HasPrefix(inspect, `65532:65532 ["/usr/local/bin/fl"] ["serve","--addr","0.0.0.0:5000","--data-dir","/var/lib/fl"] `) {
		t.Errorf("the image's config: %q %v", inspect, err)
	}
	if v, _, err := d.docker("run", "--rm", "--network", "none", ref, "version"); err != nil || !strings.Contains(v, "commit:") || strings.Contains(v, "unknown") {
		t.Errorf("fl version in the image: %q %v", v, err)
	}

	// fl serve in the container, its data in a volume.
	addr := testutil.FreeAddr(t)
	vol := "fl-image-test-" + strings.ReplaceAll(strings.ReplaceAll(addr, ".", "-"), ":", "-")
	name := vol
	t.Cleanup(func() {
		_, _, _ = d.docker("rm", "-f", name)
		_, _, _ = d.docker("volume", "rm", vol)
	})
	if _, e, err := d.docker("run", "-d", "--name", name, "--network", "host", "-v", vol+":/var/lib/fl", ref,
		"serve", "--addr", addr, "--data-dir", "/var/lib/fl", "--allow-http", "--allow-private-networks"); err != nil {
		t.Fatalf("docker run: %v\n%s", err, e)
	}
	waitHealthy(t, d, name, addr)

	up := testutil.NewUpstream(t)
	gz := testutil.Gzip(t, testutil.Tar(t, map[string]string{"hello.txt": "from the image test\n"}))
	up.Put("/l.tar.gz", gz)
	img := addr + "/image/test:1"
	run(t, flBin, "build", "-q", "-t", img, "--layer", up.URL("/l.tar.gz"), "--cmd", "/hello")
	if _, e, err := d.docker("pull", img); err != nil {
		t.Fatalf("docker pull through the containerized fl serve: %v\n%s", err, e)
	}
	if n := up.Gets("/l.tar.gz"); n != 2 { // fl build's read, and the one fetch
		t.Errorf("the upstream served %d GETs, want 2", n)
	}

	up.Close() // the upstream is gone
	if _, e, err := d.docker("restart", name); err != nil {
		t.Fatalf("docker restart: %v\n%s", err, e)
	}
	waitHealthy(t, d, name, addr)
	if _, e, err := d.docker("rmi", img); err != nil {
		t.Fatalf("docker rmi: %v\n%s", err, e)
	}
	if _, e, err := d.docker("pull", img); err != nil {
		t.Fatalf("docker pull after the restart, with the upstream stopped: %v\n%s", err, e)
	}
}

func waitHealthy(t *testing.T, d *dockerd, name, addr string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			if resp, err := http.Get("http://" + addr + "/healthz"); err == nil && resp.StatusCode == 200 {
				resp.Body.Close()
				return
			}
		}
		if time.Now().After(deadline) {
			logs, _, _ := d.docker("logs", name)
			t.Fatalf("fl serve in the container did not answer on %s:\n%s", addr, tail(logs, 20))
		}
		time.Sleep(200 * time.Millisecond)
	}
}
