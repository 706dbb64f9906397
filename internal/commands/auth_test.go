package commands

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/foreignlayers/fl/internal/testutil"
)

// authRegistry is an in-process registry that wants basic auth alice:s3cret
// on every request, and counts the ones refused.
type authRegistry struct {
	addr    string
	refused atomic.Int64
}

func newAuthRegistry(t *testing.T) *authRegistry {
	a := &authRegistry{}
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "alice" || p != "s3cret" {
			a.refused.Add(1)
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	a.addr = strings.TrimPrefix(s.URL, "http://")
	return a
}

// flIn runs fl as typed, with stdin.
func flIn(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := execute(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return result{stdout: out.String(), stderr: errb.String(), code: code}
}

// isolateCredentials points every credential location at empty places.
func isolateCredentials(t *testing.T) string {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("DOCKER_CONFIG", filepath.Join(home, "docker"))
	t.Setenv("REGISTRY_AUTH_FILE", "")
	t.Setenv("XDG_RUNTIME_DIR", "")
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, "xdg"))
	return home
}

func writeAuthFile(t *testing.T, path, registry, user, pass string) {
	t.Helper()
	cfg := map[string]any{"auths": map[string]any{registry: map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))}}}
	b, _ := json.Marshal(cfg)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestCredsAndAuthfile: --creds and --authfile work on every command that
// talks to a registry; without them the registry says 401 and fl says how
// to log in.
func TestCredsAndAuthfile(t *testing.T) {
	home := isolateCredentials(t)
	reg := newAuthRegistry(t)
	up := testutil.NewUpstream(t)
	up.Put("/a.tar.gz", testutil.Gzip(t, testutil.Tar(t, map[string]string{"a": "b"})))
	authFile := filepath.Join(home, "auth.json")
	writeAuthFile(t, authFile, reg.addr, "alice", "s3cret")
	wrongFile := filepath.Join(home, "wrong.json")
	writeAuthFile(t, wrongFile, reg.addr, "alice", "nope")

	r := fl(t, "build", "-q", "-t", reg.addr+"/x:1", "--layer", up.URL("/a.tar.gz"))
	if r.code == 0 || !strings.Contains(r.stderr, "401") || !strings.Contains(r.stderr, "fl login") {
		t.Errorf("anonymous build: exit %d, stderr %s", r.code, r.stderr)
	}
	mustFL(t, "build", "-q", "-t", reg.addr+"/x:1", "--layer", up.URL("/a.tar.gz"), "--creds", "alice:s3cret")
	mustFL(t, "build", "-q", "-t", reg.addr+"/x:2", "--layer", up.URL("/a.tar.gz"), "--authfile", authFile)
	for _, args := range [][]string{
		{"inspect", reg.addr + "/x:1"},
		{"inspect", "--raw", "docker://" + reg.addr + "/x:1"},
		{"copy", reg.addr + "/x:1", reg.addr + "/y:1"},
		{"copy", reg.addr + "/x:1", "oci:" + filepath.Join(t.TempDir(), "l") + ":1"},
		{"save", "--format", "oci", reg.addr + "/x:1", "-o", filepath.Join(t.TempDir(), "s")},
		{"verify", reg.addr + "/x:1"},
	} {
		for _, cred := range [][]string{{"--creds", "alice:s3cret"}, {"--authfile", authFile}} {
			mustFL(t, append(append([]string(nil), args...), cred...)...)
		}
		if r := fl(t, append(append([]string(nil), args...), "--authfile", wrongFile)...); r.code == 0 {
			t.Errorf("fl %v with wrong credentials: exit 0", args)
		}
	}

	// REGISTRY_AUTH_FILE is read when there is no docker config.
	t.Setenv("REGISTRY_AUTH_FILE", authFile)
	mustFL(t, "inspect", reg.addr+"/x:1")

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--creds", ":pw"}, "expected USER[:PASS]"},
		{[]string{"--creds", "alice"}, "not a terminal"},
		{[]string{"--creds", "alice:s3cret", "--authfile", authFile}, "do not go together"},
		{[]string{"--authfile", filepath.Join(home, "missing.json")}, "--authfile"},
	} {
		r := fl(t, append([]string{"inspect", reg.addr + "/x:1"}, tc.args...)...)
		if r.code == 0 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %s", tc.args, r.code, r.stderr)
		}
	}
}

// TestLoginLogout: fl login checks the credentials and writes them where
// fl (and docker, crane, podman) read them; fl logout removes them.
func TestLoginLogout(t *testing.T) {
	home := isolateCredentials(t)
	reg := newAuthRegistry(t)
	config := filepath.Join(home, "docker", "config.json")

	r := flIn(t, "nope\n", "login", reg.addr, "-u", "alice", "--password-stdin")
	if r.code == 0 || !strings.Contains(r.stderr, "refused the credentials") {
		t.Errorf("login with a wrong password: exit %d, stderr %s", r.code, r.stderr)
	}
	if _, err := os.Stat(config); err == nil {
		t.Error("a refused login wrote the config")
	}
	r = flIn(t, "s3cret\n", "login", reg.addr, "-u", "alice", "--password-stdin")
	if r.code != 0 || r.stdout != "" {
		t.Fatalf("login: exit %d, stdout %q, stderr %s", r.code, r.stdout, r.stderr)
	}
	fi, err := os.Stat(config)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("config mode %v, want 0600: it holds a password", fi.Mode().Perm())
	}
	b, _ := os.ReadFile(config)
	if !strings.Contains(string(b), reg.addr) || !strings.Contains(string(b), base64.StdEncoding.EncodeToString([]byte("alice:s3cret"))) {
		t.Errorf("config: %s", b)
	}
	up := testutil.NewUpstream(t)
	up.Put("/a.tar.gz", testutil.Gzip(t, testutil.Tar(t, map[string]string{"a": "b"})))
	mustFL(t, "build", "-q", "-t", reg.addr+"/x:1", "--layer", up.URL("/a.tar.gz"))

	mustFL(t, "logout", reg.addr)
	if r := fl(t, "inspect", reg.addr+"/x:1"); r.code == 0 {
		t.Error("inspect after logout: exit 0")
	}
	if r := mustFL(t, "logout", reg.addr); !strings.Contains(r.stderr, "not logged in") {
		t.Errorf("second logout: %s", r.stderr)
	}

	// --authfile, and -p, and REGISTRY_AUTH_FILE when there is no docker config.
	af := filepath.Join(home, "podman", "auth.json")
	mustFL(t, "login", "http://"+reg.addr+"/", "-u", "alice", "-p", "s3cret", "--authfile", af)
	mustFL(t, "inspect", reg.addr+"/x:1", "--authfile", af)
	os.Remove(config)
	t.Setenv("REGISTRY_AUTH_FILE", af)
	mustFL(t, "inspect", reg.addr+"/x:1")
	mustFL(t, "logout", reg.addr)
	if r := fl(t, "inspect", reg.addr+"/x:1", "--authfile", af); r.code == 0 {
		t.Error("REGISTRY_AUTH_FILE: logout did not remove the credentials")
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"login", reg.addr}, "-u USER"},
		{[]string{"login", reg.addr, "-u", "alice"}, "no password"},
		{[]string{"login", reg.addr, "-u", "alice", "-p", "x", "--password-stdin"}, "do not go together"},
		{[]string{"login", reg.addr + "/repo", "-u", "alice", "-p", "x"}, "not a registry host"},
		{[]string{"logout"}, "accepts 1 arg"},
	} {
		r := flIn(t, "", tc.args...)
		if r.code == 0 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %s", tc.args, r.code, r.stderr)
		}
	}
}
