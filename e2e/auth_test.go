package e2e

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/foreignlayers/fl/internal/testutil"
)

// TestAuthDocker: fl serve --htpasswd speaks the registry token flow, so
// docker 20.10 pulls anonymously, is refused a push without credentials,
// and pushes after docker login; with --auth-pulls, pulls need the login
// too. crane likewise, with crane auth login. Every client has a
// DOCKER_CONFIG of its own: nothing reads or writes ~/.docker.
func TestAuthDocker(t *testing.T) {
	d := startDockerd(t)
	crane := tool(t, "crane")
	up := testutil.NewUpstream(t)
	tarball := testutil.Tar(t, map[string]string{"etc/os-release": "ID=auth\n"})
	up.Put("/auth-root.tar.gz", testutil.Gzip(t, tarball))
	pw := testutil.Htpasswd(t, "", "alice", "s3cret")

	t.Run("anonymous pulls", func(t *testing.T) {
		addr := startServe(t, "--htpasswd", pw, "--allow-http", "--allow-private-networks")
		// docker 20.10 pushes the foreign layer as a plain one; into the
		// same repository it sees the front's 200 to the HEAD of the
		// foreign blob and skips the upload: the front stores its cached
		// copy in the registry before the manifest (pkg/front/adopt.go).
		ref, ref2 := addr+"/auth/app:1", addr+"/auth/app:pushed"
		anon := t.TempDir()
		if _, err := runClient(0, []string{"DOCKER_CONFIG=" + anon}, flBin, "build", "-q", "-t", ref, "--layer", up.URL("/auth-root.tar.gz")); err == nil {
			t.Errorf("fl build pushed without credentials")
		}
		buildWithCredentials(t, addr, ref, up.URL("/auth-root.tar.gz"))

		if _, err := dockerAs(d, anon, "pull", ref); err != nil {
			t.Fatalf("anonymous docker pull: %v", err)
		}
		checkDiffIDs(t, d, ref, testutil.Sha256(tarball))

		if _, err := dockerAs(d, anon, "tag", ref, ref2); err != nil {
			t.Fatal(err)
		}
		_, err := dockerAs(d, anon, "push", ref2)
		t.Logf("docker push without login: %v", err)
		if err == nil || !strings.Contains(err.Error(), "denied: requested access to the resource is denied") {
			t.Errorf("docker push without login: %v; want docker's 'denied: requested access to the resource is denied'", err)
		}
		login := t.TempDir()
		_, err = dockerAs(d, login, "login", "-u", "alice", "-p", "wrong", addr)
		t.Logf("docker login with a wrong password: %v", err)
		if err == nil || !strings.Contains(err.Error(), "unauthorized: invalid username or password") {
			t.Errorf("docker login with a wrong password: %v", err)
		}
		if _, err := dockerAs(d, login, "login", "-u", "alice", "-p", "s3cret", addr); err != nil {
			t.Fatalf("docker login: %v", err)
		}
		if _, err := dockerAs(d, login, "push", ref2); err != nil {
			t.Fatalf("docker push after docker login: %v", err)
		}
		// The pushed image is there, for anonymous clients too.
		if _, err := dockerAs(d, anon, "rmi", ref2); err != nil {
			t.Fatal(err)
		}
		if _, err := dockerAs(d, anon, "pull", ref2); err != nil {
			t.Errorf("anonymous docker pull of the pushed image: %v", err)
		}
		checkDiffIDs(t, d, ref2, testutil.Sha256(tarball))
		if _, err := runClient(0, []string{"DOCKER_CONFIG=" + anon}, crane, "pull", "--format", "oci", ref, filepath.Join(t.TempDir(), "layout")); err != nil {
			t.Errorf("anonymous crane pull: %v", err)
		}
	})

	t.Run("--auth-pulls", func(t *testing.T) {
		addr := startServe(t, "--htpasswd", pw, "--auth-pulls", "--allow-http", "--allow-private-networks")
		ref := addr + "/auth/private:1"
		buildWithCredentials(t, addr, ref, up.URL("/auth-root.tar.gz"))

		anon := t.TempDir()
		_, err := dockerAs(d, anon, "pull", ref)
		t.Logf("anonymous docker pull with --auth-pulls: %v", err)
		if err == nil || !strings.Contains(err.Error(), "pull access denied") {
			t.Errorf("anonymous docker pull with --auth-pulls: %v; want docker's 'pull access denied'", err)
		}
		login := t.TempDir()
		if _, err := dockerAs(d, login, "login", "-u", "alice", "-p", "s3cret", addr); err != nil {
			t.Fatalf("docker login: %v", err)
		}
		if _, err := dockerAs(d, login, "pull", ref); err != nil {
			t.Fatalf("docker pull after docker login: %v", err)
		}
		checkDiffIDs(t, d, ref, testutil.Sha256(tarball))

		out := filepath.Join(t.TempDir(), "layout")
		_, err = runClient(0, []string{"DOCKER_CONFIG=" + anon}, crane, "pull", "--format", "oci", ref, out)
		t.Logf("anonymous crane pull with --auth-pulls: %v", err)
		if err == nil || !strings.Contains(err.Error(), "UNAUTHORIZED") {
			t.Errorf("anonymous crane pull with --auth-pulls: %v", err)
		}
		craneCfg := t.TempDir()
		if _, err := runClient(0, []string{"DOCKER_CONFIG=" + craneCfg}, crane, "auth", "login", addr, "-u", "alice", "-p", "s3cret"); err != nil {
			t.Fatalf("crane auth login: %v", err)
		}
		if _, err := runClient(0, []string{"DOCKER_CONFIG=" + craneCfg}, crane, "pull", "--format", "oci", ref, out); err != nil {
			t.Fatalf("crane pull after crane auth login: %v", err)
		}
		if _, err := os.Stat(filepath.Join(out, "index.json")); err != nil {
			t.Errorf("crane wrote no layout: %v", err)
		}
	})
}

// dockerAs runs the Debian docker client against d with the client config
// folder cfg.
func dockerAs(d *dockerd, cfg string, args ...string) (string, error) {
	return runClient(3*time.Minute, []string{"DOCKER_HOST=" + d.host, "DOCKER_CONFIG=" + cfg}, "/usr/bin/docker", args...)
}

// buildWithCredentials pushes an image with one foreign layer as alice,
// through a DOCKER_CONFIG that holds her credentials.
func buildWithCredentials(t *testing.T, addr, ref, layerURL string) {
	t.Helper()
	cfg := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte("alice:s3cret"))
	body, _ := json.Marshal(map[string]any{"auths": map[string]any{addr: map[string]string{"auth": auth}}})
	if err := os.WriteFile(filepath.Join(cfg, "config.json"), body, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := runClient(0, []string{"DOCKER_CONFIG=" + cfg}, flBin, "build", "-q", "-t", ref, "--layer", layerURL); err != nil {
		t.Fatalf("fl build with credentials: %v", err)
	}
}

// checkDiffIDs compares the diff_ids docker holds for ref with want.
func checkDiffIDs(t *testing.T, d *dockerd, ref string, want ...string) {
	t.Helper()
	out, stderr, err := d.docker("image", "inspect", ref, "--format", "{{json .RootFS.Layers}}")
	if err != nil {
		t.Fatalf("docker image inspect: %v %s", err, stderr)
	}
	var layers []string
	if err := json.Unmarshal([]byte(out), &layers); err != nil {
		t.Fatal(err)
	}
	if strings.Join(layers, ",") != strings.Join(want, ",") {
		t.Errorf("docker's diff_ids %v, want %v", layers, want)
	}
}
