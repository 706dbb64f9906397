package commands

import (
	"crypto/rand"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/crane"

	"github.com/foreignlayers/fl/internal/testutil"
)

// TestBuildBadInputs: each bad input gets its own clear error, a non-zero
// exit, and nothing pushed.
func TestBuildBadInputs(t *testing.T) {
	up := testutil.NewUpstream(t)
	tarball := testutil.Tar(t, map[string]string{"f": strings.Repeat("x", 4096)})
	gz := testutil.Gzip(t, tarball)
	up.Put("/good.tar.gz", gz)
	up.Put("/truncated.tar.gz", gz[:len(gz)-20])
	up.Put("/rootfs.tar.xz", xz(t, tarball))
	up.Put("/rootfs.tar.bz2", append([]byte("BZh91AY&SY"), make([]byte, 600)...))
	up.Put("/notatar.gz", testutil.Gzip(t, []byte(strings.Repeat("just some text\n", 100))))
	up.Put("/tartrunc.gz", testutil.Gzip(t, tarball[:700]))
	up.Put("/empty.gz", testutil.Gzip(t, nil))
	up.Put("/random.bin", randomBytes(t, 4096))
	up.Put("/z.tar.zst", testutil.Zstd(t, tarball))
	up.Put("/plain.tar", tarball)
	up.Put("/SHA256SUMS", []byte(testutil.Hex([]byte("not the layer"))+"  good.tar.gz\n"))
	up.Put("/two.sha256", []byte(testutil.Hex(gz)+"\n"))
	up.Put("/garbage-sums", []byte("this is no checksum file\n"))
	good := up.URL("/good.tar.gz")
	wrongPin := good + "#sha256=" + testutil.Hex([]byte("nope"))

	dir := t.TempDir()
	buildFile := filepath.Join(dir, "build.yaml")
	if err := os.WriteFile(buildFile, []byte("platforms:\n  - platform: linux/amd64\n    layers:\n      - url: "+good+"\n    bogus: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name string
		args []string // after "build -t REG/bad:1"
		want []string // all must appear in stderr
	}{
		{"404", []string{"--layer", up.URL("/missing.tar.gz")}, []string{"HTTP 404", up.URL("/missing.tar.gz")}},
		{"truncated gzip", []string{"--layer", up.URL("/truncated.tar.gz")}, []string{"truncated", "gzip"}},
		{"xz", []string{"--layer", up.URL("/rootfs.tar.xz")}, []string{"xz-compressed", "registry clients", "gzip"}},
		{"bzip2", []string{"--layer", up.URL("/rootfs.tar.bz2")}, []string{"bzip2-compressed"}},
		{"gzip of not a tar", []string{"--layer", up.URL("/notatar.gz")}, []string{"not a tar archive", "no valid tar header"}},
		{"gzip of a truncated tar", []string{"--layer", up.URL("/tartrunc.gz")}, []string{"not a tar archive", "truncated"}},
		{"empty gzip", []string{"--layer", up.URL("/empty.gz")}, []string{"not a tar archive", "too short"}},
		{"random bytes", []string{"--layer", up.URL("/random.bin")}, []string{"neither gzip, zstd nor a tar"}},
		{"checksum mismatch", []string{"--layer", good, "--checksums", up.URL("/SHA256SUMS")}, []string{"digest mismatch", testutil.Hex([]byte("not the layer")), testutil.Sha256(gz)}},
		{"pin mismatch", []string{"--layer", wrongPin}, []string{"digest mismatch", testutil.Hex([]byte("nope")), testutil.Sha256(gz)}},
		{"pin disagrees with checksums", []string{"--layer", wrongPin, "--checksums", up.URL("/two.sha256")}, []string{"digest mismatch", "two.sha256"}},
		{"bad pin", []string{"--layer", good + "#sha256=xyz"}, []string{"not 64 hex digits"}},
		{"bad fragment", []string{"--layer", good + "#md5=abc"}, []string{"#sha256=HEX"}},
		{"checksum file without checksums", []string{"--layer", good, "--checksums", up.URL("/garbage-sums")}, []string{"no sha256 checksum line"}},
		{"bare hash, two layers", []string{"--layer", good, "--layer", up.URL("/other.tar.gz"), "--checksums", up.URL("/two.sha256")}, []string{"bare hash", "which of the 2"}},
		{"unreachable host", []string{"--layer", "http://localhost:" + closedPort(t) + "/x.tar.gz"}, []string{"connection failed", "x.tar.gz"}},
		{"file scheme", []string{"--layer", "file:///etc/passwd"}, []string{`scheme "file" is not supported`}},
		{"missing local path", []string{"--layer", filepath.Join(dir, "nope")}, []string{"not a URL", "no such file"}},
		{"zstd in docker format", []string{"--layer", up.URL("/z.tar.zst")}, []string{"Docker format has no media type for a zstd layer", "--format oci"}},
		{"uncompressed foreign in docker format", []string{"--layer", up.URL("/plain.tar")}, []string{"uncompressed foreign layer", "--format oci"}},
		{"nondistributable without oci", []string{"--layer", good, "--nondistributable"}, []string{"needs --format oci"}},
		{"unknown format", []string{"--layer", good, "--format", "v1"}, []string{`unknown format "v1"`}},
		{"bad env", []string{"--layer", good, "--env", "NOEQUALS"}, []string{"not KEY=VALUE"}},
		{"bad label", []string{"--layer", good, "--label", "=x"}, []string{"expected KEY=VALUE"}},
		{"bad entrypoint json", []string{"--layer", good, "--entrypoint", "[nope"}, []string{"not a JSON array"}},
		{"bad platform", []string{"--layer", good, "--platform", "linux/amd64/v1/x/y"}, []string{"platform"}},
		{"no layers", nil, []string{"no layers and no base"}},
		{"file with flags", []string{"-f", buildFile, "--layer", good}, []string{"--layer cannot be used with -f"}},
		{"unknown key in build file", []string{"-f", buildFile}, []string{`build.yaml:5:5: unknown key "bogus"`}},
		{"bad base reference", []string{"--base", "Not A Ref", "--layer", good}, []string{"not a valid image reference"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reg := testutil.Registry(t)
			args := append([]string{"build", "-q", "-t", reg + "/bad:1"}, tc.args...)
			r := fl(t, args...)
			if r.code == 0 {
				t.Fatalf("exit 0, want failure; stdout %q", r.stdout)
			}
			if r.stdout != "" {
				t.Errorf("stdout = %q, want nothing", r.stdout)
			}
			t.Logf("stderr: %s", r.stderr)
			for _, w := range tc.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
			assertNothingPushed(t, reg+"/bad")
		})
	}
}

func TestBuildInvalidReference(t *testing.T) {
	up := testutil.NewUpstream(t)
	up.Put("/a.tar.gz", testutil.Gzip(t, testutil.Tar(t, map[string]string{"a": "b"})))
	for _, ref := range []string{"UPPER/case", "localhost:5000/x:bad tag", "", "oci-layout:"} {
		r := fl(t, "build", "-q", "-t", ref, "--layer", up.URL("/a.tar.gz"))
		if r.code == 0 || !strings.Contains(r.stderr, "fl: error:") {
			t.Errorf("-t %q: exit %d, stderr %q", ref, r.code, r.stderr)
		}
		if up.Gets("/a.tar.gz") != 0 {
			t.Errorf("-t %q: the layer was read before the reference was checked", ref)
		}
	}
}

// TestBuildRegistryRejectsURLs: Debian's docker-registry, in its default
// configuration, refuses layer URLs; fl says so in plain words and names
// the setting.
func TestBuildRegistryRejectsURLs(t *testing.T) {
	up := testutil.NewUpstream(t)
	up.Put("/a.tar.gz", testutil.Gzip(t, testutil.Tar(t, map[string]string{"a": "b"})))
	reg := testutil.DockerRegistry(t, testutil.RefuseURLs)
	r := fl(t, "build", "-q", "-t", reg+"/refuses:1", "--layer", up.URL("/a.tar.gz"))
	if r.code == 0 {
		t.Fatal("push to a registry that refuses URLs succeeded")
	}
	for _, w := range []string{"refused the foreign layer URLs", "MANIFEST_BLOB_UNKNOWN", "validation:", "allow:"} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
		}
	}
	assertNothingPushed(t, reg+"/refuses")
}

func assertNothingPushed(t *testing.T, repo string) {
	t.Helper()
	tags, err := crane.ListTags(repo)
	if err == nil && len(tags) > 0 {
		t.Errorf("%s has tags %v after a failed build", repo, tags)
	}
}

func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	l.Close()
	return port
}

func xz(t *testing.T, b []byte) []byte {
	t.Helper()
	path, err := exec.LookPath("xz")
	if err != nil {
		// The magic bytes are what fl looks at.
		return append([]byte{0xfd, '7', 'z', 'X', 'Z', 0x00}, b...)
	}
	cmd := exec.Command(path, "-c")
	cmd.Stdin = strings.NewReader(string(b))
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}
