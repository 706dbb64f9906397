package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/foreignlayers/fl/internal/testutil"
)

// TestCopyReferenceForms: what fl copy docker://… oci:DIR:TAG writes,
// skopeo inspects and podman pulls as oci:DIR:TAG, and regctl reads as
// ocidir://DIR:TAG; what skopeo writes to oci:DIR:TAG, fl copies on.
func TestCopyReferenceForms(t *testing.T) {
	need(t, "/usr/bin/skopeo")
	need(t, "/usr/bin/podman")
	regctl := tool(t, "regctl")
	up := testutil.NewUpstream(t)
	gz := testutil.Gzip(t, testutil.Tar(t, map[string]string{"etc/os-release": "ID=forms\n"}))
	up.Put("/rootfs.tar.gz", gz)
	reg := testutil.Registry(t)
	out := run(t, flBin, "build", "-q", "--format", "oci", "-t", "docker://"+reg+"/forms:1", "--layer", up.URL("/rootfs.tar.gz"))
	digest := strings.TrimSpace(out[strings.Index(out, "@")+1:])

	// podman names the image after the path, and names are lower case.
	dir, err := os.MkdirTemp("", "fl-forms-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	layout := filepath.Join(dir, "fl-wrote")
	run(t, flBin, "copy", "-q", "--materialize", "docker://"+reg+"/forms:1", "oci:"+layout+":v1")
	js, err := runClient(time.Minute, nil, "skopeo", "inspect", "oci:"+layout+":v1")
	if err != nil {
		t.Fatalf("skopeo inspect oci:%s:v1: %v", layout, err)
	}
	var info struct {
		Digest string
		Layers []string
	}
	if err := json.Unmarshal([]byte(js), &info); err != nil {
		t.Fatalf("%v\n%s", err, js)
	}
	if info.Digest != digest || len(info.Layers) != 1 || info.Layers[0] != testutil.Sha256(gz) {
		t.Errorf("skopeo inspect: digest %s layers %v, want %s and %s", info.Digest, info.Layers, digest, testutil.Sha256(gz))
	}

	raw := run(t, regctl, "manifest", "get", "--format", "raw-body", "ocidir://"+layout+":v1")
	if got := sha256Hex([]byte(raw)); got != digest {
		t.Errorf("regctl manifest get ocidir://%s:v1: %s, want %s", layout, got, digest)
	}

	p := podmanClient{root: t.TempDir()}
	if _, err := runClient(2*time.Minute, nil, "podman", p.args("pull", "oci:"+layout+":v1")...); err != nil {
		t.Errorf("podman pull oci:%s:v1: %v", layout, err)
	}

	// The other way: skopeo writes oci:DIR:TAG, fl reads and copies it.
	sk := filepath.Join(dir, "skopeo-wrote")
	if _, err := runClient(time.Minute, nil, "skopeo", "copy", "--src-tls-verify=false", "docker://"+reg+"/forms:1", "oci:"+sk+":t"); err != nil {
		t.Fatalf("skopeo copy: %v", err)
	}
	raw = run(t, flBin, "inspect", "--raw", "oci:"+sk+":t")
	if got := sha256Hex([]byte(raw)); got != digest {
		t.Errorf("fl inspect --raw oci:%s:t: %s, want %s", sk, got, digest)
	}
	out = run(t, flBin, "copy", "-q", "oci:"+sk+":t", "docker://"+reg+"/back:1")
	if !strings.HasSuffix(strings.TrimSpace(out), "@"+digest) {
		t.Errorf("fl copy from skopeo's layout: %s, want @%s", out, digest)
	}
}
