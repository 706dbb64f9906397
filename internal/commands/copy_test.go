package commands

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/foreignlayers/fl/internal/testutil"
)

// hasBlob asks a registry for a blob itself, never its URLs.
func hasBlob(t *testing.T, repo, digest string) bool {
	t.Helper()
	host, name, _ := strings.Cut(repo, "/")
	resp, err := http.Head("http://" + host + "/v2/" + name + "/blobs/" + digest)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func TestCopyModes(t *testing.T) {
	up := testutil.NewUpstream(t)
	gz := testutil.Gzip(t, testutil.Tar(t, map[string]string{"etc/os-release": "ID=copy\n"}))
	up.Put("/rootfs.tar.gz", gz)
	src, dst := testutil.Registry(t), testutil.Registry(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app"), []byte("app"), 0o644); err != nil {
		t.Fatal(err)
	}
	l := buildTo(t, src+"/app:1", "--layer", up.URL("/rootfs.tar.gz"), "--layer", dir)
	srcDigest, _ := crane.Digest(src + "/app:1")

	// Default: foreign layers stay foreign, the digest is the same.
	r := mustFL(t, "copy", "-q", src+"/app:1", dst+"/plain:1")
	if got := strings.TrimSpace(r.stdout); got != dst+"/plain@"+srcDigest {
		t.Errorf("stdout %q, want %s", got, dst+"/plain@"+srcDigest)
	}
	if hasBlob(t, dst+"/plain", l.Digest) {
		t.Errorf("the default copy uploaded the foreign layer")
	}
	if d, _ := crane.Digest(dst + "/plain:1"); d != srcDigest {
		t.Errorf("digest changed: %s", d)
	}

	// --materialize: the blob is in the destination, the digest the same.
	before := up.Gets("/rootfs.tar.gz")
	mustFL(t, "copy", "-q", "--materialize", src+"/app:1", dst+"/mat:1")
	if !hasBlob(t, dst+"/mat", l.Digest) {
		t.Errorf("--materialize did not upload the foreign layer")
	}
	if d, _ := crane.Digest(dst + "/mat:1"); d != srcDigest {
		t.Errorf("--materialize changed the digest: %s", d)
	}
	if up.Gets("/rootfs.tar.gz") != before+1 {
		t.Errorf("upstream read %d times", up.Gets("/rootfs.tar.gz")-before)
	}

	// --strip-urls: ordinary layers, no urls, a new digest, said on stderr.
	r = mustFL(t, "copy", "--strip-urls", src+"/app:1", dst+"/strip:1")
	d, _ := crane.Digest(dst + "/strip:1")
	if d == srcDigest || strings.TrimSpace(r.stdout) != dst+"/strip@"+d || !strings.Contains(r.stderr, "the digest changed") {
		t.Errorf("strip: digest %s (source %s), stdout %q, stderr %s", d, srcDigest, r.stdout, r.stderr)
	}
	m, cfg := pushed(t, dst+"/strip:1")
	if len(m.Layers[0].URLs) != 0 || m.Layers[0].MediaType != types.DockerLayer || m.Layers[0].Digest.String() != l.Digest || !hasBlob(t, dst+"/strip", l.Digest) {
		t.Errorf("stripped layer: %+v", m.Layers[0])
	}
	if cfg.RootFS.DiffIDs[0].String() != l.DiffID {
		t.Errorf("config changed")
	}

	if r := fl(t, "copy", "--strip-urls", "--materialize", src+"/app:1", dst+"/x:1"); r.code == 0 {
		t.Errorf("--strip-urls with --materialize was accepted")
	}
}

// Debian's docker-registry in its default configuration refuses layer
// URLs: only --strip-urls gets an image in, and the others say why.
func TestCopyToRegistryThatRefusesURLs(t *testing.T) {
	up := testutil.NewUpstream(t)
	up.Put("/rootfs.tar.gz", testutil.Gzip(t, testutil.Tar(t, map[string]string{"f": "x"})))
	src := testutil.Registry(t)
	refuses := testutil.DockerRegistry(t, testutil.RefuseURLs)
	buildTo(t, src+"/img:1", "--layer", up.URL("/rootfs.tar.gz"))
	for _, mode := range []string{"", "--materialize"} {
		args := []string{"copy", "-q", src + "/img:1", refuses + "/img:1"}
		if mode != "" {
			args = append(args, mode)
		}
		r := fl(t, args...)
		if r.code == 0 || !strings.Contains(r.stderr, "refused the foreign layer URLs") || !strings.Contains(r.stderr, "fl copy --strip-urls") {
			t.Errorf("copy %s to a refusing registry: exit %d\n%s", mode, r.code, r.stderr)
		}
		assertNothingPushed(t, refuses+"/img")
	}
	mustFL(t, "copy", "-q", "--strip-urls", src+"/img:1", refuses+"/img:1")
	if _, err := crane.Pull(refuses + "/img:1"); err != nil {
		t.Errorf("pulling the stripped copy: %v", err)
	}
}

// Into an air gap and out again: registry → OCI layout (materialized) →
// another registry, the digest unchanged and the layer carried.
func TestCopyThroughLayout(t *testing.T) {
	up := testutil.NewUpstream(t)
	gz := testutil.Gzip(t, testutil.Tar(t, map[string]string{"f": "airgap"}))
	up.Put("/rootfs.tar.gz", gz)
	src, dst := testutil.Registry(t), testutil.Registry(t)
	l := buildTo(t, src+"/img:1", "--layer", up.URL("/rootfs.tar.gz"))
	d, _ := crane.Digest(src + "/img:1")
	dir := filepath.Join(t.TempDir(), "airgap")
	r := mustFL(t, "copy", "-q", "--materialize", src+"/img:1", "oci-layout:"+dir+":img")
	if strings.TrimSpace(r.stdout) != "oci-layout:"+dir+"@"+d {
		t.Errorf("stdout %q", r.stdout)
	}
	blob, err := os.ReadFile(filepath.Join(dir, "blobs", "sha256", strings.TrimPrefix(l.Digest, "sha256:")))
	if err != nil || !bytes.Equal(blob, gz) {
		t.Fatalf("the layout lacks the foreign layer's bytes: %v", err)
	}
	up.Close() // inside the air gap, the URL is unreachable
	mustFL(t, "copy", "-q", "--materialize", "oci-layout:"+dir+":img", dst+"/img:1")
	if got, _ := crane.Digest(dst + "/img:1"); got != d || !hasBlob(t, dst+"/img", l.Digest) {
		t.Errorf("after the air gap: digest %s (want %s), blob there: %v", got, d, hasBlob(t, dst+"/img", l.Digest))
	}
}

func TestCopyIndex(t *testing.T) {
	up := testutil.NewUpstream(t)
	up.Put("/a.tar.gz", testutil.Gzip(t, testutil.Tar(t, map[string]string{"a": "amd64"})))
	up.Put("/b.tar.gz", testutil.Gzip(t, testutil.Tar(t, map[string]string{"b": "arm64"})))
	src, dst := testutil.Registry(t), testutil.Registry(t)
	file := filepath.Join(t.TempDir(), "b.yaml")
	yaml := fmt.Sprintf("format: oci\nplatforms:\n- platform: linux/amd64\n  layers: [{url: %s}]\n- platform: linux/arm64\n  layers: [{url: %s}]\n", up.URL("/a.tar.gz"), up.URL("/b.tar.gz"))
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	mustFL(t, "build", "-q", "-f", file, "-t", src+"/multi:1")
	d, _ := crane.Digest(src + "/multi:1")
	mustFL(t, "copy", "-q", "--materialize", src+"/multi:1", dst+"/multi:1")
	if got, _ := crane.Digest(dst + "/multi:1"); got != d {
		t.Errorf("index digest %s, want %s", got, d)
	}
	for _, p := range []string{"linux/amd64", "linux/arm64"} {
		if _, err := crane.Pull(dst+"/multi:1", crane.WithPlatform(ptr(mustPlatform(t, p)))); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	r := mustFL(t, "copy", "--strip-urls", src+"/multi:1", dst+"/stripped:1")
	if !strings.Contains(r.stderr, "the digest changed") {
		t.Errorf("stderr: %s", r.stderr)
	}
	js := mustFL(t, "inspect", "--json", dst+"/stripped:1").stdout
	if strings.Contains(js, `"foreign": true`) || strings.Count(js, `"platform"`) != 2 {
		t.Errorf("stripped index: %s", js)
	}
}

// Content that does not verify is never pushed.
func TestCopyMaterializeRefusesTampered(t *testing.T) {
	up := testutil.NewUpstream(t)
	gz := testutil.Gzip(t, testutil.Tar(t, map[string]string{"f": strings.Repeat("x", 5000)}))
	up.Put("/rootfs.tar.gz", gz)
	src, dst := testutil.Registry(t), testutil.Registry(t)
	l := buildTo(t, src+"/img:1", "--layer", up.URL("/rootfs.tar.gz"))
	bad := bytes.Clone(gz)
	copy(bad[len(bad)/2:], "TAMPERED")
	up.Put("/rootfs.tar.gz", bad)
	for _, target := range []string{dst + "/img:1", "oci-layout:" + filepath.Join(t.TempDir(), "out")} {
		r := fl(t, "copy", "-q", "--materialize", src+"/img:1", target)
		if r.code == 0 || !strings.Contains(r.stderr, "does not match") {
			t.Errorf("%s: exit %d %s", target, r.code, r.stderr)
		}
	}
	assertNothingPushed(t, dst+"/img")
	if hasBlob(t, dst+"/img", l.Digest) {
		t.Errorf("tampered content reached the destination")
	}
}

// countingRegistry is Debian's docker-registry (blobs scoped per
// repository, as in distribution) behind a proxy that counts
// cross-repository mounts and blob uploads.
type countingRegistry struct {
	addr            string
	mounts, uploads atomic.Int64
}

func newCountingRegistry(t *testing.T) *countingRegistry {
	c := &countingRegistry{}
	target, _ := url.Parse("http://" + testutil.DockerRegistry(t, testutil.AllowLocalhost))
	h := httputil.NewSingleHostReverseProxy(target)
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Query().Get("mount") != "" {
			c.mounts.Add(1)
		}
		if (r.Method == http.MethodPatch || r.Method == http.MethodPut) && strings.Contains(r.URL.Path, "/blobs/uploads/") {
			c.uploads.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	c.addr = strings.TrimPrefix(s.URL, "http://")
	return c
}

// On one registry, blobs are mounted across repositories, and a blob the
// destination has is not sent again.
func TestCopyMountsAndSkips(t *testing.T) {
	up := testutil.NewUpstream(t)
	up.Put("/rootfs.tar.gz", testutil.Gzip(t, testutil.Tar(t, map[string]string{"f": "m"})))
	reg := newCountingRegistry(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app"), []byte("app"), 0o644); err != nil {
		t.Fatal(err)
	}
	buildTo(t, reg.addr+"/a/img:1", "--layer", up.URL("/rootfs.tar.gz"), "--layer", dir)
	reg.mounts.Store(0)
	reg.uploads.Store(0)
	mustFL(t, "copy", "-q", reg.addr+"/a/img:1", reg.addr+"/b/img:1")
	if reg.mounts.Load() != 2 || reg.uploads.Load() != 0 {
		t.Errorf("same-registry copy: %d mounts (want config and layer: 2), %d uploads (want 0)", reg.mounts.Load(), reg.uploads.Load())
	}
	reg.mounts.Store(0)
	reg.uploads.Store(0)
	mustFL(t, "copy", "-q", reg.addr+"/a/img:1", reg.addr+"/b/img:2")
	if reg.mounts.Load() != 0 || reg.uploads.Load() != 0 {
		t.Errorf("copy of blobs the destination has: %d mounts, %d uploads", reg.mounts.Load(), reg.uploads.Load())
	}
}

// manifestCounter is go-containerregistry's in-process registry with its
// handler wrapped to count manifest PUTs and HEADs.
type manifestCounter struct {
	addr        string
	puts, heads atomic.Int64
}

func newManifestCounter(t *testing.T) *manifestCounter {
	c := &manifestCounter{}
	h := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/manifests/") {
			switch r.Method {
			case http.MethodPut:
				c.puts.Add(1)
			case http.MethodHead:
				c.heads.Add(1)
			}
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	c.addr = strings.TrimPrefix(s.URL, "http://")
	return c
}

// --all-tags prints one line per tag that names it (DST:TAG@DIGEST), and a
// second identical run PUTs no manifest: each is HEADed first and the
// destination has it with the same digest. A tag that moved is pushed.
func TestCopyAllTagsNamesTagsAndSkipsManifests(t *testing.T) {
	src := testutil.Registry(t)
	dst := newManifestCounter(t)
	multiImage(t, src+"/app:multi") // an index and its two manifests
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("app"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tag := range []string{"1", "2"} {
		mustFL(t, "build", "-q", "-t", src+"/app:"+tag, "--layer", dir, "--label", "tag="+tag)
	}
	want := func() []string {
		var lines []string
		for _, tag := range []string{"1", "2", "multi"} {
			d, err := crane.Digest(src + "/app:" + tag)
			if err != nil {
				t.Fatal(err)
			}
			lines = append(lines, dst.addr+"/mirror:"+tag+"@"+d)
		}
		return lines
	}
	lines := func(stdout string) []string {
		l := strings.Split(strings.TrimSpace(stdout), "\n")
		slices.Sort(l)
		return l
	}

	r := mustFL(t, "copy", "-q", "--all-tags", src+"/app", dst.addr+"/mirror")
	if got := lines(r.stdout); !slices.Equal(got, want()) {
		t.Errorf("stdout:\n%s\nwant the lines\n%s", strings.Join(got, "\n"), strings.Join(want(), "\n"))
	}
	for _, l := range want() {
		ref, d, _ := strings.Cut(l, "@")
		if got, _ := crane.Digest(ref); got != d {
			t.Errorf("%s is %s in the destination, want %s", ref, got, d)
		}
	}
	if n := dst.puts.Load(); n != 5 { // tags 1 and 2, the index and its two manifests
		t.Errorf("first copy: %d manifest PUTs, want 5", n)
	}

	dst.puts.Store(0)
	dst.heads.Store(0)
	r = mustFL(t, "copy", "-q", "--all-tags", src+"/app", dst.addr+"/mirror")
	if got := lines(r.stdout); !slices.Equal(got, want()) {
		t.Errorf("second copy's stdout:\n%s", r.stdout)
	}
	if n := dst.puts.Load(); n != 0 {
		t.Errorf("second identical copy: %d manifest PUTs, want 0", n)
	}
	if dst.heads.Load() < 5 {
		t.Errorf("second copy: %d manifest HEADs, want one per manifest (5)", dst.heads.Load())
	}

	// Tag 2 moves: only its manifest is pushed.
	dst.puts.Store(0)
	mustFL(t, "build", "-q", "-t", src+"/app:2", "--layer", dir, "--label", "tag=2b")
	r = mustFL(t, "copy", "-q", "--all-tags", src+"/app", dst.addr+"/mirror")
	if got := lines(r.stdout); !slices.Equal(got, want()) {
		t.Errorf("after tag 2 moved, stdout:\n%s", r.stdout)
	}
	if n := dst.puts.Load(); n != 1 {
		t.Errorf("after tag 2 moved: %d manifest PUTs, want 1", n)
	}

	// Into a layout, the lines name the tags too.
	layout := filepath.Join(t.TempDir(), "carry")
	r = mustFL(t, "copy", "-q", "--all-tags", src+"/app", "oci:"+layout)
	for _, l := range lines(r.stdout) {
		tag, _, _ := strings.Cut(strings.TrimPrefix(l, "oci-layout:"+layout+":"), "@")
		if !slices.Contains([]string{"1", "2", "multi"}, tag) || !strings.Contains(l, "@sha256:") {
			t.Errorf("layout line %q does not name its tag and digest", l)
		}
	}
}
