package e2e

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/foreignlayers/fl/internal/testutil"
)

// dockerd is a Docker daemon of the test's own, on a unix socket.
type dockerd struct {
	host string // DOCKER_HOST
}

// startDockerd starts Debian's dockerd with vfs storage, no networking
// setup and a socket in a folder of its own, as ../shared/RECIPES.md shows.
func startDockerd(t *testing.T) *dockerd {
	t.Helper()
	bin := need(t, "/usr/sbin/dockerd")
	need(t, "/usr/bin/docker")
	// Not t.TempDir: dockerd leaves files only it may remove quickly.
	dir, err := os.MkdirTemp("", "fl-dockerd-")
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "docker.sock")
	logf, _ := os.Create(filepath.Join(dir, "dockerd.log"))
	cmd := exec.Command(bin, "--iptables=false", "--ip6tables=false", "--bridge=none", "--storage-driver=vfs",
		"--data-root="+filepath.Join(dir, "root"), "--exec-root="+filepath.Join(dir, "exec"),
		"--pidfile="+filepath.Join(dir, "docker.pid"), "-H", "unix://"+sock)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &dockerd{host: "unix://" + sock}
	t.Cleanup(func() {
		stopGracefully(cmd, 20*time.Second)
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("dockerd log (tail):\n%s", tail(string(b), 40))
		}
		_ = logf.Close()
		_ = os.RemoveAll(dir)
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, _, err := d.docker("version"); err == nil {
			return d
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logf.Name())
			t.Fatalf("dockerd did not come up:\n%s", tail(string(b), 40))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// docker runs the Debian docker client (API 1.41) against this daemon.
func (d *dockerd) docker(args ...string) (string, string, error) {
	cmd := exec.Command("/usr/bin/docker", args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+d.host)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// startServe runs the fl binary's serve on a free loopback port until the
// test ends.
func startServe(t *testing.T, args ...string) string {
	t.Helper()
	addr, _ := startServeDir(t, args...)
	return addr
}

// startServeDir is startServe, and also returns the data dir.
func startServeDir(t *testing.T, args ...string) (string, string) {
	t.Helper()
	addr := testutil.FreeAddr(t)
	health := addr
	if slices.Contains(args, "--auth-pulls") {
		// /healthz needs credentials there: probe it where operators do.
		health = testutil.FreeAddr(t)
		args = append(args, "--metrics-addr", health)
	}
	dir := t.TempDir()
	logf, _ := os.Create(filepath.Join(dir, "serve.log"))
	cmd := exec.Command(flBin, append([]string{"serve", "--addr", addr, "--data-dir", filepath.Join(dir, "data")}, args...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("fl serve log:\n%s", tail(string(b), 40))
		}
		_ = logf.Close()
	})
	testutil.WaitHTTP(t, "http://"+health+"/healthz")
	if resp, err := http.Get("http://" + health + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("fl serve not healthy: %v", err)
	}
	return addr, filepath.Join(dir, "data")
}

// stopGracefully interrupts a daemon and waits for it, killing it if it
// has not stopped within d.
func stopGracefully(cmd *exec.Cmd, d time.Duration) {
	_ = cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		_ = cmd.Process.Kill()
		<-done
	}
}
