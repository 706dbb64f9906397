package commands

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/foreignlayers/fl/internal/testutil"
)

// Issue 10, --coordination none: replicas share the registry's storage,
// the index and the cache in one bucket, and one secret; a client's
// requests may land on any of them.

// s3Image is an image pushed to a fleet: its manifest, the layers pushed
// with it, and a foreign layer served by up.
type s3Image struct {
	repo, tag string
	raw       []byte
	pushed    []v1.Descriptor
	foreign   v1.Descriptor
	up        *testutil.Upstream
}

// pushRoundRobin pushes an image whose every request goes to the next
// replica: the config and a small layer through go-containerregistry
// (POST, PATCH and PUT on three replicas), a layer of bigSize bytes in
// PATCHes of 6 MiB (above S3's 5 MiB minimum part) spread likewise, and
// the manifest, naming a foreign layer of foreignSize bytes.
func pushRoundRobin(t *testing.T, f *s3Fleet, repo string, bigSize, foreignSize int) s3Image {
	t.Helper()
	img := s3Image{repo: repo, tag: "v1", up: testutil.NewUpstream(t)}
	content := randomBytes(t, foreignSize)
	img.up.Put("/foreign.tar.gz", content)
	img.foreign = opsLayer(content, img.up.URL("/foreign.tar.gz"))

	rr := &roundRobin{hosts: f.addrs()}
	ref, err := name.ParseReference(f.replicas[0].addr + "/" + repo + ":" + img.tag)
	if err != nil {
		t.Fatal(err)
	}
	small := static.NewLayer(randomBytes(t, 64<<10), types.DockerLayer)
	for _, l := range []v1.Layer{opsConfig, small} {
		if err := remote.WriteLayer(ref.Context(), l, remote.WithTransport(rr)); err != nil {
			t.Fatalf("pushing a blob round-robin: %v", err)
		}
	}
	rr.checkSpread(t)
	sd, _ := small.Digest()
	img.pushed = append(img.pushed, v1.Descriptor{MediaType: types.DockerLayer, Size: 64 << 10, Digest: sd})
	img.pushed = append(img.pushed, chunkedUpload(t, slices.Concat(f.addrs()[1:], f.addrs()[:1]), repo, randomBytes(t, bigSize), 6<<20))
	img.raw = opsManifestOf(t, append(slices.Clone(img.pushed), img.foreign))
	if err := remote.Put(ref, opsManifest(img.raw), remote.WithTransport(rr)); err != nil {
		t.Fatalf("pushing the manifest round-robin: %v", err)
	}
	return img
}

// want checks that addr serves the whole image, verified.
func (img s3Image) want(t *testing.T, addr string) {
	t.Helper()
	if status, b := manifestBody(t, addr, img.repo, img.tag); status != http.StatusOK || !bytes.Equal(b, img.raw) {
		t.Errorf("%s: GET the manifest %s:%s: %d %s", addr, img.repo, img.tag, status, snippet(b))
	}
	for _, d := range append(slices.Clone(img.pushed), img.foreign) {
		wantServed(t, addr, img.repo, d)
	}
}

func TestServeS3ReplicaPush(t *testing.T) {
	f := newS3Fleet(t, 3)
	img := pushRoundRobin(t, f, "scale/push", 12<<20, 64<<10)
	for _, r := range f.replicas {
		img.want(t, r.addr)
	}
	// The first replica asked fetched the foreign layer into the shared
	// cache; the others found it there.
	if n := img.up.Gets("/foreign.tar.gz"); n != 1 {
		t.Errorf("the upstream had %d GETs of the foreign layer, want 1", n)
	}
	if n := f.uploads(t); n != 0 {
		t.Errorf("%d multipart uploads remain in the bucket", n)
	}
	t.Logf("bucket objects:\n%s", strings.Join(f.keys(t), "\n"))
}

// A foreign layer above the cache's part size (16 MiB: a multipart
// upload) fetched through one replica is a cache hit on the others.
func TestServeS3ReplicaCacheHit(t *testing.T) {
	f := newS3Fleet(t, 3)
	img := pushRoundRobin(t, f, "scale/hit", 64<<10, 17<<20)
	wantServed(t, f.replicas[1].addr, img.repo, img.foreign)
	if n := img.up.Gets("/foreign.tar.gz"); n != 1 {
		t.Fatalf("the upstream had %d GETs through the first replica, want 1", n)
	}
	for _, r := range []*serving{f.replicas[2], f.replicas[0]} {
		wantServed(t, r.addr, img.repo, img.foreign)
		// A range beyond the first part is served from the shared object.
		resp, body, err := blob(t, http.MethodGet, r.addr, img.repo, img.foreign.Digest.String(), "Range", "bytes=16777000-16778999")
		if resp.StatusCode != http.StatusPartialContent || err != nil || !bytes.Equal(body, img.up.Get("/foreign.tar.gz")[16777000:16779000]) {
			t.Errorf("%s: a range of the cached layer: %s, %d bytes, %v", r.addr, resp.Status, len(body), err)
		}
	}
	if n := img.up.Gets("/foreign.tar.gz"); n != 1 {
		t.Errorf("the upstream had %d GETs after the other replicas served the layer, want still 1", n)
	}
	if !slices.Contains(f.keys(t), "fl/cache/blobs/sha256/"+img.foreign.Digest.Hex) {
		t.Errorf("no blob object fl/cache/blobs/sha256/%s", img.foreign.Digest.Hex)
	}
	if n := f.uploads(t); n != 0 {
		t.Errorf("%d multipart uploads remain in the bucket", n)
	}
}

// Stopping a replica and starting it again loses nothing: the image, the
// cached layer (no new upstream request), and an upload it had started,
// which goes on after the restart since the secret is the same. What a
// crash left in its spool is removed.
func TestServeS3ReplicaRestart(t *testing.T) {
	f := newS3Fleet(t, 2)
	img := pushRoundRobin(t, f, "scale/restart", 64<<10, 64<<10)
	wantServed(t, f.replicas[1].addr, img.repo, img.foreign)

	blob := randomBytes(t, 256<<10)
	a := f.replicas[0].addr
	loc := uploadStep(t, http.MethodPost, "http://"+a+"/v2/"+img.repo+"/blobs/uploads/", nil, http.StatusAccepted, nil)
	loc = uploadStep(t, http.MethodPatch, loc.String(), blob[:100<<10], http.StatusAccepted, http.Header{"Content-Range": {"0-102399"}})

	stale := filepath.Join(f.replicas[0].dataDir, "spool", "fl-s3-blob-crashed")
	if err := os.WriteFile(stale, []byte("left by a crash"), 0o644); err != nil {
		t.Fatal(err)
	}
	f.restart(t, 0)
	f.restart(t, 1)
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("a spool file a crash left is still there after the restart: %v", err)
	}
	for _, r := range f.replicas {
		img.want(t, r.addr)
	}
	if n := img.up.Gets("/foreign.tar.gz"); n != 1 {
		t.Errorf("the upstream had %d GETs of the foreign layer, want 1: the restart lost the cache", n)
	}
	loc.Host = f.replicas[0].addr
	loc = uploadStep(t, http.MethodPatch, loc.String(), blob[100<<10:], http.StatusAccepted, http.Header{"Content-Range": {"102400-262143"}})
	loc.Host = f.replicas[1].addr
	q := loc.Query()
	q.Set("digest", "sha256:"+testutil.Hex(blob))
	loc.RawQuery = q.Encode()
	uploadStep(t, http.MethodPut, loc.String(), nil, http.StatusCreated, nil)
	wantServed(t, f.replicas[0].addr, img.repo, v1.Descriptor{Digest: v1.Hash{Algorithm: "sha256", Hex: testutil.Hex(blob)}})
}

// Settings fl serve refuses, before it touches any bucket.
func TestServeS3BadSettings(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	short := filepath.Join(dir, "short")
	if err := os.WriteFile(short, []byte("tooshort\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--s3-bucket", "b"}, "--coordination s3: not built yet; run with --coordination none: each replica then fetches a layer once"},
		{[]string{"--s3-bucket", "b", "--coordination", "s3"}, "not built yet"},
		{[]string{"--s3-bucket", "b", "--coordination", "peers"}, `--coordination "peers": want s3 or none`},
		{[]string{"--s3-endpoint", "http://127.0.0.1:1"}, "need --s3-bucket"},
		{[]string{"--s3-prefix", "fl"}, "need --s3-bucket"},
		{[]string{"--secret-file", short}, "at least 16"},
		{[]string{"--secret-file", filepath.Join(dir, "missing")}, "--secret-file"},
		{[]string{"--upstream", "http://127.0.0.1:1", "--secret-file", short}, "--secret-file is for the embedded registry"},
		{[]string{"--s3-bucket", "b", "--coordination", "none", "--s3-endpoint", "ftp://x"}, "not an http or https URL"},
	} {
		r := fl(t, append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir()}, tc.args...)...)
		if r.code == 0 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("fl serve %s: exit %d, stderr %q; want an error with %q", strings.Join(tc.args, " "), r.code, r.stderr, tc.want)
		}
	}
}

// A store whose conditional creates all win is refused at start.
func TestServeS3NotAtomic(t *testing.T) {
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			w.Header().Set("ETag", `"d41d8cd98f00b204e9800998ecf8427e"`)
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer fake.Close()
	(&testutil.S3Server{Access: "a", Secret: "b", Region: "us-east-1"}).Env(t)
	r := fl(t, "serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--s3-endpoint", fake.URL, "--s3-bucket", "b", "--coordination", "none")
	if r.code == 0 || !strings.Contains(r.stderr, "conditional writes are not atomic") || !strings.Contains(r.stderr, "32 winners") {
		t.Errorf("fl serve on a store without atomic creates: exit %d, stderr %q", r.code, r.stderr)
	}
}

// The control: a replica without the shared secret cannot continue an
// upload another replica started.
func TestServeS3ReplicaOtherSecret(t *testing.T) {
	f := newS3Fleet(t, 1)
	i := slices.Index(f.args, "--secret-file")
	other := serve(t, slices.Delete(slices.Clone(f.args), i, i+2)...)
	loc := uploadStep(t, http.MethodPost, "http://"+f.replicas[0].addr+"/v2/scale/secret/blobs/uploads/", nil, http.StatusAccepted, nil)
	loc.Host = other.addr
	req, _ := http.NewRequest(http.MethodPatch, loc.String(), strings.NewReader("data"))
	req.Header.Set("Content-Range", "0-3")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode < 400 {
		t.Errorf("PATCH on a replica with another secret: %s, want an error", resp.Status)
	}
	if !strings.Contains(other.stderr.String(), "without --secret-file") {
		t.Errorf("no warning about the missing --secret-file:\n%s", other.stderr.String())
	}
}

// A replica that just answered "no such blob" (and remembers it for a few
// seconds) still serves a foreign layer another replica recorded since:
// before a 404 it asks the shared index afresh.
func TestServeS3ReplicaFreshBefore404(t *testing.T) {
	f := newS3Fleet(t, 2)
	a, b := f.replicas[0], f.replicas[1]
	up := testutil.NewUpstream(t)
	content := randomBytes(t, 32<<10)
	up.Put("/late.tar.gz", content)
	layer := opsLayer(content, up.URL("/late.tar.gz"))
	// b looks first: not there, and its index remembers that.
	if resp, _, _ := blob(t, http.MethodHead, b.addr, "scale/late", layer.Digest.String()); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("HEAD before the push: %d", resp.StatusCode)
	}
	opsPush(t, a.addr, "scale/late", "1", []v1.Descriptor{layer})
	for _, method := range []string{http.MethodHead, http.MethodGet} {
		resp, body, err := blob(t, method, b.addr, "scale/late", layer.Digest.String())
		if resp.StatusCode != http.StatusOK || err != nil || method == http.MethodGet && !bytes.Equal(body, content) {
			t.Errorf("%s on the other replica right after the push: %d, %v", method, resp.StatusCode, err)
		}
	}
	// An ordinary miss is still the backend's 404.
	if resp, body, _ := blob(t, http.MethodGet, b.addr, "scale/late", testutil.Sha256([]byte("nothing"))); resp.StatusCode != http.StatusNotFound || !bytes.Contains(body, []byte("BLOB_UNKNOWN")) {
		t.Errorf("a blob nobody pushed: %d %s", resp.StatusCode, body)
	}
}
