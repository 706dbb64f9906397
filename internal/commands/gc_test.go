package commands

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/foreignlayers/fl/internal/testutil"
	"github.com/foreignlayers/fl/pkg/gc"
	"github.com/foreignlayers/fl/pkg/image"
)

// gcImage is one image pushed for the gc tests: a foreign layer, and a
// local directory as an ordinary layer.
type gcImage struct {
	repo     string
	manifest string
	config   string
	local    string // the ordinary layer's digest
	foreign  image.LayerSummary
	path     string // the foreign layer's path on the upstream
}

func gcPush(t *testing.T, s *serving, up *testutil.Upstream, repo, content string) gcImage {
	t.Helper()
	path := "/" + strings.ReplaceAll(repo, "/", "-") + ".tar.gz"
	up.Put(path, testutil.Gzip(t, testutil.Tar(t, map[string]string{"etc/" + repo: strings.Repeat(content, 4096)})))
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "local-"+content), []byte(strings.Repeat(content, 2048)), 0o644); err != nil {
		t.Fatal(err)
	}
	var sum image.Summary
	r := mustFL(t, "build", "-q", "--json", "-t", s.addr+"/"+repo+":1", "--layer", up.URL(path), "--layer", dir)
	if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil {
		t.Fatal(err)
	}
	m := sum.Manifests[0]
	img := gcImage{repo: repo, manifest: m.Digest, config: m.Config, foreign: m.Layers[0], local: m.Layers[1].Digest, path: path}
	if !img.foreign.Foreign || m.Layers[1].Foreign {
		t.Fatalf("%s: layers %+v", repo, m.Layers)
	}
	// Pulled once: now cached.
	if resp, _, err := blob(t, http.MethodGet, s.addr, repo, img.foreign.Digest); resp.StatusCode != 200 || err != nil {
		t.Fatalf("%s: foreign layer GET: %d %v", repo, resp.StatusCode, err)
	}
	return img
}

// Deleting one of two images and collecting frees its blobs and its
// cached foreign layer, and nothing of the other, which still pulls with
// every blob verified, its foreign layer from the cache. A running server
// blocks fl gc; --dry-run reports the same and changes nothing.
func TestGC(t *testing.T) {
	t.Parallel()
	up := testutil.NewUpstream(t)
	dataDir := t.TempDir()
	args := append([]string{"--data-dir", dataDir}, loopbackOK...)
	s := serve(t, args...)
	a := gcPush(t, s, up, "gc/a", "a")
	b := gcPush(t, s, up, "gc/b", "b")
	wantStatus(t, http.MethodDelete, "http://"+s.addr+"/v2/"+a.repo+"/manifests/"+a.manifest, http.StatusAccepted)

	r := fl(t, "gc", "--data-dir", dataDir)
	if r.code == 0 || !strings.Contains(r.stderr, "in use") || !strings.Contains(r.stderr, "fl gc runs with the server stopped") {
		t.Fatalf("fl gc with the server running: exit %d\n%s", r.code, r.stderr)
	}
	s.stop()

	before := treeOf(t, dataDir)
	var dry gc.Report
	if err := json.Unmarshal([]byte(mustFL(t, "gc", "--data-dir", dataDir, "--dry-run", "--json").stdout), &dry); err != nil {
		t.Fatal(err)
	}
	if after := treeOf(t, dataDir); !maps.Equal(before, after) {
		t.Errorf("--dry-run changed the data dir:\nbefore %v\nafter  %v", before, after)
	}
	wantFreed := []string{a.config, a.local, a.manifest}
	slices.Sort(wantFreed)
	check := func(what string, rep gc.Report) {
		t.Helper()
		if got := blobDigests(rep.Registry.Blobs); !slices.Equal(got, wantFreed) {
			t.Errorf("%s: registry blobs freed %v, want A's config, layer and manifest %v", what, got, wantFreed)
		}
		if got := blobDigests(rep.Cache.Blobs); !slices.Equal(got, []string{a.foreign.Digest}) || rep.Cache.Bytes != a.foreign.Size {
			t.Errorf("%s: cache freed %v (%d bytes), want A's foreign layer %s (%d bytes)", what, got, rep.Cache.Bytes, a.foreign.Digest, a.foreign.Size)
		}
		if rep.Bytes != rep.Registry.Bytes+rep.Cache.Bytes || rep.Registry.Bytes <= a.foreign.Size/100 {
			t.Errorf("%s: bytes %d = %d + %d", what, rep.Bytes, rep.Registry.Bytes, rep.Cache.Bytes)
		}
	}
	check("--dry-run", dry)
	if !dry.DryRun {
		t.Errorf("--dry-run report says dryRun false")
	}

	var done gc.Report
	if err := json.Unmarshal([]byte(mustFL(t, "gc", "--data-dir", dataDir, "--json").stdout), &done); err != nil {
		t.Fatal(err)
	}
	check("fl gc", done)
	for _, d := range wantFreed {
		if registryHas(dataDir, d) {
			t.Errorf("A's blob %s is still in the registry", d)
		}
	}
	for _, d := range []string{b.config, b.local, b.manifest} {
		if !registryHas(dataDir, d) {
			t.Errorf("B's blob %s was collected", d)
		}
	}
	if got := cachedBlobs(t, dataDir); !slices.Equal(got, []string{strings.TrimPrefix(b.foreign.Digest, "sha256:")}) {
		t.Errorf("the cache holds %v, want only B's foreign layer", got)
	}
	again := mustFL(t, "gc", "--data-dir", dataDir)
	if !strings.Contains(again.stdout, "total:    freed 0 bytes") {
		t.Errorf("a second fl gc:\n%s", again.stdout)
	}

	s = serve(t, args...)
	gets := up.Gets(b.path)
	img, err := crane.Pull(s.addr + "/" + b.repo + ":1")
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(img); err != nil {
		t.Errorf("B after fl gc: %v", err)
	}
	if up.Gets(b.path) != gets {
		t.Errorf("B's foreign layer was fetched again: its cache entry was lost")
	}
	wantStatus(t, http.MethodGet, "http://"+s.addr+"/v2/"+a.repo+"/manifests/"+a.manifest, http.StatusNotFound)
}

// A data dir without an embedded registry but with a cache belongs to
// fl serve --upstream: fl gc cannot know what is referenced, and refuses.
func TestGCRefusesUpstreamDataDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "cache", "blobs", "sha256", "ab")
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(p, "ab"+strings.Repeat("0", 62)), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := fl(t, "gc", "--data-dir", dir); r.code == 0 || !strings.Contains(r.stderr, "--upstream") {
		t.Errorf("fl gc on an --upstream data dir: exit %d\n%s", r.code, r.stderr)
	}
	if r := fl(t, "gc", "--data-dir", filepath.Join(dir, "missing")); r.code == 0 {
		t.Errorf("fl gc on a missing data dir: exit 0")
	}
}

func blobDigests(bs []gc.Blob) []string {
	var out []string
	for _, b := range bs {
		out = append(out, b.Digest)
	}
	return out
}

func registryHas(dataDir, digest string) bool {
	hex := strings.TrimPrefix(digest, "sha256:")
	_, err := os.Stat(filepath.Join(dataDir, "registry", "docker", "registry", "v2", "blobs", "sha256", hex[:2], hex, "data"))
	return err == nil
}

// treeOf maps every file and directory under dir (but the lock, whose
// pid each holder rewrites) to its mode and the sha256 of its content.
func treeOf(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "lock" {
			return nil
		}
		if d.IsDir() {
			out[rel] = "dir"
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		out[rel] = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
