package testutil

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// DockerRegistryBin is Debian's build of distribution 2.8.
const DockerRegistryBin = "/usr/bin/docker-registry"

// RequireE2E reports whether tests that need real external programs must
// run (FL_E2E=require, as .ci/run sets); otherwise they are skipped where
// the program is missing.
func RequireE2E() bool { return os.Getenv("FL_E2E") == "require" }

// NeedBinary returns the path of a program, skipping the test if it is
// missing, or failing it under FL_E2E=require.
func NeedBinary(t testing.TB, path string) string {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		if RequireE2E() {
			t.Fatalf("%s is required (FL_E2E=require) but missing: %v", path, err)
		}
		t.Skipf("%s not installed (see .ci/run)", path)
	}
	return path
}

// Allow patterns for DockerRegistry.
const (
	RefuseURLs     = ""                                              // its default: refuse every layer URL
	AllowLocalhost = `^https?://(127\.0\.0\.1|localhost)(:[0-9]+)?/` // loopback test upstreams only
	AllowAnyURL    = `^`                                             // anything: to plant hostile URLs
)

// DockerRegistry starts Debian's docker-registry on a free loopback port
// and returns its host:port. allow is the validation.manifests.urls.allow
// pattern; RefuseURLs keeps the registry's default of refusing every layer
// URL.
func DockerRegistry(t testing.TB, allow string) string {
	t.Helper()
	return DockerRegistryWith(t, allow, "")
}

// DockerRegistryWith is DockerRegistry with more configuration (YAML
// appended to the file), such as an auth section.
func DockerRegistryWith(t testing.TB, allow, extra string) string {
	t.Helper()
	bin := NeedBinary(t, DockerRegistryBin)
	dir := t.TempDir()
	addr := FreeAddr(t)
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
`, filepath.Join(dir, "data"), addr)
	if allow != RefuseURLs {
		cfg += fmt.Sprintf("validation:\n  manifests:\n    urls:\n      allow:\n        - '%s'\n", allow)
	}
	cfg += extra
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		_ = logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("docker-registry log:\n%s", b)
		}
	})
	WaitHTTP(t, "http://"+addr+"/v2/")
	return addr
}

// FreeAddr returns a loopback address with a port that was free a moment
// ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// WaitHTTP polls url until it answers at all, for up to 15 seconds.
func WaitHTTP(t testing.TB, url string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not come up: %v", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
