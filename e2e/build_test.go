package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/foreignlayers/fl/internal/testutil"
)

// TestBuildPushToDockerRegistryReadWithCrane pushes with the fl binary to
// Debian's docker-registry (configured to allow the URLs), then reads the
// image back with crane: manifest, config, and the files of the flattened
// filesystem, which crane gets by following the layer URL.
func TestBuildPushToDockerRegistryReadWithCrane(t *testing.T) {
	crane := tool(t, "crane")
	need(t, testutil.DockerRegistryBin)
	reg := testutil.DockerRegistry(t, testutil.AllowLocalhost)
	up := testutil.NewUpstream(t)
	tarball := testutil.Tar(t, map[string]string{"etc/os-release": "ID=fl-e2e\n"})
	gz := testutil.Gzip(t, tarball)
	up.Put("/rootfs.tar.gz", gz)
	up.Put("/SHA256SUMS", []byte(testutil.Hex(gz)+"  rootfs.tar.gz\n"))

	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "app"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "app", "hello.txt"), []byte("hello from an ordinary layer\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	for _, format := range []string{"docker", "oci"} {
		ref := reg + "/e2e/" + format + ":1"
		out := run(t, flBin, "build", "-q", "--format", format, "-t", ref,
			"--layer", up.URL("/rootfs.tar.gz"), "--checksums", up.URL("/SHA256SUMS"),
			"--layer", filepath.Join(dir, "app"), "--cmd", "/bin/true")
		digestRef := strings.TrimSpace(out)

		raw := run(t, crane, "manifest", ref)
		if want := reg + "/e2e/" + format + "@" + testutil.Sha256([]byte(raw)); digestRef != want {
			t.Errorf("%s: fl printed %q; crane's manifest hashes to %q", format, digestRef, want)
		}
		m, err := v1.ParseManifest(strings.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		wantForeign := types.DockerForeignLayer
		if format == "oci" {
			wantForeign = types.OCILayer
		}
		if m.Layers[0].MediaType != wantForeign || m.Layers[0].Digest.String() != testutil.Sha256(gz) || m.Layers[0].URLs[0] != up.URL("/rootfs.tar.gz") {
			t.Errorf("%s: foreign layer %+v", format, m.Layers[0])
		}
		cfg, err := v1.ParseConfigFile(strings.NewReader(run(t, crane, "config", ref)))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.RootFS.DiffIDs[0].String() != testutil.Sha256(tarball) {
			t.Errorf("%s: diff_id %s, want %s", format, cfg.RootFS.DiffIDs[0], testutil.Sha256(tarball))
		}

		// crane export flattens the image: it must read both layers, the
		// foreign one through its URL and the ordinary one from the
		// registry, and verify both.
		fsTar := filepath.Join(t.TempDir(), "fs.tar")
		run(t, crane, "export", ref, fsTar)
		files := readTar(t, fsTar)
		if files["etc/os-release"] != "ID=fl-e2e\n" || files["hello.txt"] != "hello from an ordinary layer\n" {
			t.Errorf("%s: exported files %v", format, files)
		}
	}
}

func readTar(t *testing.T, path string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for name, b := range testutil.TarFile(t, path) {
		out[strings.TrimPrefix(name, "./")] = string(b)
	}
	return out
}
