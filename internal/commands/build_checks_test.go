package commands

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/foreignlayers/fl/internal/testutil"
)

// TestBuildChecksPushFirst: a registry that is down, or credentials that
// may not push, fail the build before any layer URL is read.
func TestBuildChecksPushFirst(t *testing.T) {
	isolateCredentials(t)
	up := testutil.NewUpstream(t)
	up.Put("/a.tar.gz", testutil.Gzip(t, testutil.Tar(t, map[string]string{"a": "b"})))
	up.Put("/SHA256SUMS", []byte(testutil.Hex(up.Get("/a.tar.gz"))+"  a.tar.gz\n"))
	stopped := "localhost:" + closedPort(t)
	authReg := newAuthRegistry(t)
	var pushes atomic.Int64
	readOnly := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			pushes.Add(1)
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"errors":[{"code":"DENIED","message":"read-only"}]}`))
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(readOnly.Close)
	ro := strings.TrimPrefix(readOnly.URL, "http://")
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"stopped registry", []string{"-t", stopped + "/x:1"}, []string{"the registry does not answer", stopped, "connection refused"}},
		{"no credentials", []string{"-t", authReg.addr + "/x:1"}, []string{"401", "fl login"}},
		{"wrong credentials", []string{"-t", authReg.addr + "/x:1", "--creds", "alice:wrong"}, []string{"401"}},
		{"may not push", []string{"-t", ro + "/x:1"}, []string{"403", "may not push"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"build", "-q", "--layer", up.URL("/a.tar.gz"), "--checksums", up.URL("/SHA256SUMS")}, tc.args...)
			r := fl(t, args...)
			if r.code == 0 || r.stdout != "" {
				t.Fatalf("exit %d, stdout %q", r.code, r.stdout)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q: %s", w, r.stderr)
				}
			}
			if n := up.Gets("/a.tar.gz") + up.Gets("/SHA256SUMS"); n != 0 {
				t.Errorf("%d requests to the layer and checksum URLs before the push was known to fail", n)
			}
		})
	}
}

// TestBuildChecksumsMustListTheLayer: a checksum file that does not list
// the layer fails the build, naming the name looked up and some it lists;
// a pin or --checksums-optional lets it through.
func TestBuildChecksumsMustListTheLayer(t *testing.T) {
	up := testutil.NewUpstream(t)
	gz := testutil.Gzip(t, testutil.Tar(t, map[string]string{"a": "b"}))
	up.Put("/rootfs.tar.gz", gz)
	var sums strings.Builder
	for _, n := range []string{"other-1.tar.gz", "other-2.tar.gz", "other-3.tar.gz", "other-4.tar.gz", "other-5.tar.gz", "other-6.tar.gz"} {
		sums.WriteString(testutil.Hex([]byte(n)) + "  " + n + "\n")
	}
	up.Put("/wrong/SHA256SUMS", []byte(sums.String()))
	reg := testutil.Registry(t)

	r := fl(t, "build", "-q", "-t", reg+"/sums:1", "--layer", up.URL("/rootfs.tar.gz"), "--checksums", up.URL("/wrong/SHA256SUMS"))
	if r.code == 0 {
		t.Fatal("a checksum file that does not list the layer passed")
	}
	for _, w := range []string{`looked up "rootfs.tar.gz"`, up.URL("/wrong/SHA256SUMS"), `"other-1.tar.gz"`, `"other-5.tar.gz"`, "and 1 more", "--checksums-optional", "#sha256="} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr lacks %q: %s", w, r.stderr)
		}
	}
	if up.Gets("/rootfs.tar.gz") != 0 {
		t.Error("the layer was read although the checksum file does not list it")
	}
	assertNothingPushed(t, reg+"/sums")

	r = mustFL(t, "build", "-t", reg+"/sums:1", "--layer", up.URL("/rootfs.tar.gz"), "--checksums", up.URL("/wrong/SHA256SUMS"), "--checksums-optional")
	if !strings.Contains(r.stderr, "level=WARN") || !strings.Contains(r.stderr, "layer not checked") || !strings.Contains(r.stderr, `looked up \"rootfs.tar.gz\"`) {
		t.Errorf("--checksums-optional: no warning: %s", r.stderr)
	}
	mustFL(t, "build", "-q", "-t", reg+"/sums:2", "--layer", up.URL("/rootfs.tar.gz")+"#sha256="+testutil.Hex(gz), "--checksums", up.URL("/wrong/SHA256SUMS"))

	file := filepath.Join(t.TempDir(), "b.yaml")
	if err := os.WriteFile(file, []byte("checksums-optional: true\nchecksums: ["+up.URL("/wrong/SHA256SUMS")+"]\nplatforms:\n- layers: [{url: "+up.URL("/rootfs.tar.gz")+"}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustFL(t, "build", "-q", "-t", reg+"/sums:3", "-f", file)
}

// TestBuildFileErrorsSayWhere: YAML errors and unknown keys carry
// FILE:LINE:COLUMN.
func TestBuildFileErrorsSayWhere(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ yaml, want string }{
		{"platforms:\n  - platfrom: linux/amd64\n    layers: [{url: https://example.com/a.tar.gz}]\n", `b.yaml:2:5: unknown key "platfrom" in platforms[0]`},
		{"platforms:\n  - platform: linux/amd64\n   layers: [\n", "b.yaml:3:4: YAML syntax"},
		{"platforms:\n  - layers:\n      - ulr: https://example.com/a.tar.gz\n", `b.yaml:3:9: unknown key "ulr" in layers[0] (known keys: url, urls, path, sha256)`},
	} {
		file := filepath.Join(dir, "b.yaml")
		if err := os.WriteFile(file, []byte(tc.yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		r := fl(t, "build", "-q", "-f", file, "--output", "oci:"+filepath.Join(dir, "out"))
		if r.code == 0 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("exit %d, stderr %s\nwant %q", r.code, r.stderr, tc.want)
		}
	}
}

// TestBuildMirrorFailoverIsFast: a mirror that refuses connections hands
// over to the next at once, not after seconds of retries.
func TestBuildMirrorFailoverIsFast(t *testing.T) {
	up := testutil.NewUpstream(t)
	up.Put("/a.tar.gz", testutil.Gzip(t, testutil.Tar(t, map[string]string{"a": "b"})))
	reg := testutil.Registry(t)
	start := time.Now()
	r := mustFL(t, "build", "-t", reg+"/fail:1", "--layer", "http://localhost:"+closedPort(t)+"/a.tar.gz,"+up.URL("/a.tar.gz"))
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("build with a refused first mirror took %v", d)
	}
	if !strings.Contains(r.stderr, "trying the next mirror") {
		t.Errorf("stderr: %s", r.stderr)
	}
}

// TestCreatedFilesFollowUmask: layout blobs, index.json, oci-layout and
// fl save tarballs are 0644 under umask 022, directories 0755.
func TestCreatedFilesFollowUmask(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	up := testutil.NewUpstream(t)
	up.Put("/a.tar.gz", testutil.Gzip(t, testutil.Tar(t, map[string]string{"a": "b"})))
	reg := testutil.Registry(t)
	mustFL(t, "build", "-q", "-t", reg+"/modes:1", "--layer", up.URL("/a.tar.gz"))
	dir := t.TempDir()
	layout := filepath.Join(dir, "layout")
	mustFL(t, "copy", "-q", "--materialize", reg+"/modes:1", "oci:"+layout+":1")
	tarball := filepath.Join(dir, "image.tar")
	mustFL(t, "save", "-q", reg+"/modes:1", "-o", tarball)
	saved := filepath.Join(dir, "saved")
	mustFL(t, "save", "-q", "--format", "oci", reg+"/modes:1", "-o", saved)
	checked := 0
	for _, root := range []string{layout, saved, tarball} {
		_ = filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
			if err != nil {
				t.Fatal(err)
			}
			want := os.FileMode(0o644)
			if fi.IsDir() {
				want = 0o755
			}
			if fi.Mode().Perm() != want {
				t.Errorf("%s: mode %v, want %v", p, fi.Mode().Perm(), want)
			}
			checked++
			return nil
		})
	}
	if checked < 12 {
		t.Errorf("only %d files and directories checked", checked)
	}
}

// TestVerifyQuiet: fl verify -q prints nothing when every layer is
// healthy, and only the unhealthy layers otherwise.
func TestVerifyQuiet(t *testing.T) {
	gz := testutil.Gzip(t, testutil.Tar(t, map[string]string{"f": strings.Repeat("verify me ", 100)}))
	s := linkRot(t, gz)
	u := func(p string) string { return strings.Replace(s.URL, "127.0.0.1", "localhost", 1) + p }
	reg := testutil.Registry(t)
	mustFL(t, "build", "-q", "-t", reg+"/q/good:1", "--layer", u("/good.tar.gz"))
	up := testutil.NewUpstream(t)
	other := testutil.Gzip(t, testutil.Tar(t, map[string]string{"g": "gone"}))
	up.Put("/gone.tar.gz", other)
	mustFL(t, "build", "-q", "-t", reg+"/q/mixed:1", "--layer", u("/good.tar.gz"), "--layer", up.URL("/gone.tar.gz"))
	up.Delete("/gone.tar.gz")

	r := mustFL(t, "verify", "-q", reg+"/q/good:1")
	if r.stdout != "" || r.stderr != "" {
		t.Errorf("verify -q of a healthy image printed stdout %q, stderr %q", r.stdout, r.stderr)
	}
	r = fl(t, "verify", "-q", reg+"/q/good:1", reg+"/q/mixed:1")
	if r.code != 1 {
		t.Errorf("exit %d, want 1", r.code)
	}
	if strings.Contains(r.stdout, "good.tar.gz") || strings.Contains(r.stdout, "q/good") || !strings.Contains(r.stdout, "gone.tar.gz") || !strings.Contains(r.stdout, "1 foreign layer unhealthy") {
		t.Errorf("verify -q printed:\n%s", r.stdout)
	}
	r = fl(t, "verify", reg+"/q/mixed:1")
	if !strings.Contains(r.stdout, "2 foreign layers: 1 healthy, 1 unhealthy") || !strings.Contains(r.stdout, "good.tar.gz") {
		t.Errorf("verify:\n%s", r.stdout)
	}
	r = mustFL(t, "verify", reg+"/q/good:1")
	if !strings.Contains(r.stdout, "1 foreign layer: 1 healthy, 0 unhealthy") {
		t.Errorf("verify:\n%s", r.stdout)
	}
}
