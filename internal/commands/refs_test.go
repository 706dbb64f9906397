package commands

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/crane"

	"github.com/foreignlayers/fl/internal/testutil"
)

// multiImage builds a two-platform OCI index at ref and returns the
// upstream its layers live on.
func multiImage(t *testing.T, ref string) *testutil.Upstream {
	t.Helper()
	up := testutil.NewUpstream(t)
	up.Put("/a.tar.gz", testutil.Gzip(t, testutil.Tar(t, map[string]string{"a": "amd64"})))
	up.Put("/b.tar.gz", testutil.Gzip(t, testutil.Tar(t, map[string]string{"b": "arm64"})))
	file := filepath.Join(t.TempDir(), "b.yaml")
	yaml := fmt.Sprintf("format: oci\nplatforms:\n- platform: linux/amd64\n  layers: [{url: %s}]\n- platform: linux/arm64\n  layers: [{url: %s}]\n", up.URL("/a.tar.gz"), up.URL("/b.tar.gz"))
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	mustFL(t, "build", "-q", "-f", file, "-t", ref)
	return up
}

func sha256Of(b []byte) string {
	h := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(h[:])
}

// TestReferenceForms: skopeo's docker:// and oci:DIR:TAG, and regctl's
// ocidir://DIR:TAG, work wherever a reference or oci-layout: does.
func TestReferenceForms(t *testing.T) {
	reg := testutil.Registry(t)
	up := testutil.NewUpstream(t)
	up.Put("/a.tar.gz", testutil.Gzip(t, testutil.Tar(t, map[string]string{"a": "b"})))
	out := mustFL(t, "build", "-q", "-t", "docker://"+reg+"/forms:1", "--layer", up.URL("/a.tar.gz"), "--format", "oci")
	digest, _ := crane.Digest(reg + "/forms:1")
	if strings.TrimSpace(out.stdout) != reg+"/forms@"+digest {
		t.Fatalf("build to docker://: %q", out.stdout)
	}
	dir := t.TempDir()
	skopeo, regctl := filepath.Join(dir, "skopeo"), filepath.Join(dir, "regctl")
	mustFL(t, "copy", "-q", "docker://"+reg+"/forms:1", "oci:"+skopeo+":v1")
	mustFL(t, "copy", "-q", "oci:"+skopeo+":v1", "ocidir://"+regctl+":v2")
	mustFL(t, "copy", "-q", "ocidir://"+regctl+":v2", "docker://"+reg+"/forms:2")
	for _, ref := range []string{"oci:" + skopeo + ":v1", "ocidir://" + regctl + ":v2", "oci-layout:" + regctl + ":v2", "oci:" + skopeo + "@" + digest, "docker://" + reg + "/forms:2"} {
		r := mustFL(t, "inspect", "--raw", ref)
		if got := sha256Of([]byte(r.stdout)); got != digest {
			t.Errorf("inspect --raw %s: digest %s, want %s", ref, got, digest)
		}
	}
	mustFL(t, "verify", "-q", "oci:"+skopeo+":v1")
	mustFL(t, "save", "-q", "--format", "oci", "docker://"+reg+"/forms:1", "-o", filepath.Join(dir, "saved"))
	mustFL(t, "build", "-q", "--output", "oci:"+filepath.Join(dir, "built")+":t", "--layer", up.URL("/a.tar.gz"))
	mustFL(t, "inspect", "oci:"+filepath.Join(dir, "built")+":t")
	mustFL(t, "build", "-q", "-t", reg+"/onbase:1", "--base", "docker://"+reg+"/forms:1", "--layer", up.URL("/a.tar.gz"))
}

// TestBadReferences: each command says what is wrong with a reference and
// shows a good one; nothing is read.
func TestBadReferences(t *testing.T) {
	up := testutil.NewUpstream(t)
	up.Put("/a.tar.gz", testutil.Gzip(t, testutil.Tar(t, map[string]string{"a": "b"})))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"build", "-t", "localhost:5000/Team/App:1", "--layer", up.URL("/a.tar.gz")}, `repository names are lower case ("team/app")`},
		{[]string{"build", "-t", "localhost:5000/app:", "--layer", up.URL("/a.tar.gz")}, "nothing after the last ':'"},
		{[]string{"build", "-t", "localhost:5000/a$b", "--layer", up.URL("/a.tar.gz")}, `contains '$'`},
		{[]string{"inspect", "localhost:5000/app@sha256:abc"}, `digest "sha256:abc"`},
		{[]string{"inspect", "docker://UPPER/x"}, "upper-case"},
		{[]string{"copy", "oci:", "localhost:5000/x:1"}, "needs a directory"},
		{[]string{"copy", "localhost:5000/x:1", "ocidir://dir:"}, "nothing after the colon"},
		{[]string{"save", "s3://bucket/x", "-o", "x.tar"}, "unknown transport s3://"},
		{[]string{"verify", "localhost:5000/a//b"}, "empty path component"},
	} {
		r := fl(t, tc.args...)
		if r.code == 0 || !strings.Contains(r.stderr, tc.want) || (!strings.Contains(r.stderr, "a valid one looks like") && !strings.Contains(r.stderr, "e.g.") && !strings.Contains(r.stderr, "use docker://") && !strings.Contains(r.stderr, "give a tag")) {
			t.Errorf("fl %v: exit %d, stderr %s\nwant %q and an example", tc.args, r.code, r.stderr, tc.want)
		}
	}
	if up.Gets("/a.tar.gz") != 0 {
		t.Error("a layer was read before the reference was checked")
	}
}

// TestInspectRawConfigPlatform: --raw prints the bytes whose sha256 is
// the digest; --platform picks an image of an index; --config prints the
// config whose sha256 the manifest names.
func TestInspectRawConfigPlatform(t *testing.T) {
	reg := testutil.Registry(t)
	multiImage(t, reg+"/multi:1")
	digest, _ := crane.Digest(reg + "/multi:1")
	raw := mustFL(t, "inspect", "--raw", reg+"/multi:1").stdout
	if got := sha256Of([]byte(raw)); got != digest {
		t.Errorf("fl inspect --raw | sha256sum = %s, want the digest %s", got, digest)
	}
	armDigest, _ := crane.Digest(reg+"/multi:1", crane.WithPlatform(ptr(mustPlatform(t, "linux/arm64"))))
	arm := mustFL(t, "inspect", "--raw", "--platform", "linux/arm64", reg+"/multi:1").stdout
	if got := sha256Of([]byte(arm)); got != armDigest {
		t.Errorf("--raw --platform linux/arm64: %s, want %s", got, armDigest)
	}
	cfg := mustFL(t, "inspect", "--config", "--platform", "linux/arm64", reg+"/multi:1").stdout
	want, _ := crane.Config(reg+"/multi:1", crane.WithPlatform(ptr(mustPlatform(t, "linux/arm64"))))
	if cfg != string(want) || !strings.Contains(cfg, `"architecture":"arm64"`) {
		t.Errorf("--config: %s", cfg)
	}
	table := mustFL(t, "inspect", "--platform", "linux/arm64", reg+"/multi:1").stdout
	if !strings.Contains(table, "linux/arm64") || strings.Contains(table, "linux/amd64") || !strings.Contains(table, "(1 layer, 1 foreign)") {
		t.Errorf("inspect --platform:\n%s", table)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--config", reg + "/multi:1"}, "is an index: pick an image with --platform"},
		{[]string{"--platform", "linux/s390x", reg + "/multi:1"}, "has no linux/s390x image"},
		{[]string{"--raw", "--platform", "linux/s390x", reg + "/multi:1"}, "has no linux/s390x image"},
		{[]string{"--raw", "--config", reg + "/multi:1"}, "do not go together"},
		{[]string{"--raw", "--json", reg + "/multi:1"}, "--json does not go with --raw"},
		{[]string{"--platform", "a/b/c/d/e", reg + "/multi:1"}, "--platform"},
	} {
		r := fl(t, append([]string{"inspect"}, tc.args...)...)
		if r.code == 0 || r.stdout != "" || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("inspect %v: exit %d, stdout %q, stderr %s", tc.args, r.code, r.stdout, r.stderr)
		}
	}
}

// TestCopyPlatformAndAllTags: --platform copies one image of an index;
// --all-tags copies every tag, and blobs shared between tags go once.
func TestCopyPlatformAndAllTags(t *testing.T) {
	src := testutil.Registry(t)
	dst := newCountingRegistry(t)
	multiImage(t, src+"/multi:1")
	armDigest, _ := crane.Digest(src+"/multi:1", crane.WithPlatform(ptr(mustPlatform(t, "linux/arm64"))))
	r := mustFL(t, "copy", "-q", "--platform", "linux/arm64", src+"/multi:1", dst.addr+"/one:arm")
	if got := strings.TrimSpace(r.stdout); got != dst.addr+"/one@"+armDigest {
		t.Errorf("copy --platform: %q, want %s", got, dst.addr+"/one@"+armDigest)
	}
	if d, _ := crane.Digest(dst.addr + "/one:arm"); d != armDigest {
		t.Errorf("copied %s, want the arm64 image %s", d, armDigest)
	}

	up := testutil.NewUpstream(t)
	up.Put("/a.tar.gz", testutil.Gzip(t, testutil.Tar(t, map[string]string{"a": "shared"})))
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("shared blob"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tag := range []string{"1", "2", "3"} {
		mustFL(t, "build", "-q", "-t", src+"/tags:"+tag, "--layer", up.URL("/a.tar.gz"), "--layer", dir, "--label", "tag="+tag)
	}
	dst.uploads.Store(0)
	r = mustFL(t, "copy", "-q", "--all-tags", "--materialize", src+"/tags", dst.addr+"/tags")
	if lines := strings.Split(strings.TrimSpace(r.stdout), "\n"); len(lines) != 3 {
		t.Errorf("stdout %q, want one line per tag", r.stdout)
	}
	for _, tag := range []string{"1", "2", "3"} {
		want, _ := crane.Digest(src + "/tags:" + tag)
		if got, _ := crane.Digest(dst.addr + "/tags:" + tag); got != want {
			t.Errorf("tag %s: %s, want %s", tag, got, want)
		}
	}
	// The foreign layer all three tags share is downloaded once: the
	// second and third tags find it in the destination.
	uploadsBefore := dst.uploads.Load()
	if up.Gets("/a.tar.gz") != 3+1 { // three builds, then one download for the copy
		t.Errorf("the shared foreign layer was downloaded %d times in all, want 4 (3 builds + 1 copy)", up.Gets("/a.tar.gz"))
	}
	mustFL(t, "copy", "-q", "--all-tags", "--materialize", src+"/tags", dst.addr+"/tags")
	if dst.uploads.Load() != uploadsBefore {
		t.Errorf("copying the same tags again uploaded %d blobs", dst.uploads.Load()-uploadsBefore)
	}
	layout := filepath.Join(t.TempDir(), "l")
	mustFL(t, "copy", "-q", "--all-tags", src+"/tags", "oci:"+layout)
	for _, tag := range []string{"1", "2", "3"} {
		mustFL(t, "inspect", "oci:"+layout+":"+tag)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--all-tags", src + "/tags:1", dst.addr + "/x"}, "without a tag"},
		{[]string{"--all-tags", src + "/tags", dst.addr + "/x:1"}, "without a tag"},
		{[]string{"--all-tags", "oci:" + layout, dst.addr + "/x"}, "is a layout"},
		{[]string{"--all-tags", src + "/none", dst.addr + "/x"}, "none"},
		{[]string{"--platform", "linux/s390x", src + "/multi:1", dst.addr + "/x:1"}, "has no linux/s390x image"},
	} {
		r := fl(t, append([]string{"copy", "-q"}, tc.args...)...)
		if r.code == 0 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("copy %v: exit %d, stderr %s", tc.args, r.code, r.stderr)
		}
	}
}
