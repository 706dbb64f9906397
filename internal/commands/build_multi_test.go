package commands

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/crane"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/foreignlayers/fl/internal/testutil"
)

func TestBuildFileMultiPlatform(t *testing.T) {
	up := testutil.NewUpstream(t)
	reg := testutil.Registry(t)
	shared := testutil.Tar(t, map[string]string{"usr/share/doc": "shared"})
	amd := testutil.Tar(t, map[string]string{"bin/tool": "amd64"})
	arm := testutil.Tar(t, map[string]string{"bin/tool": "arm64"})
	up.Put("/shared.tar.gz", testutil.Gzip(t, shared))
	up.Put("/amd64.tar.gz", testutil.Gzip(t, amd))
	up.Put("/arm64.tar.zst", testutil.Zstd(t, arm))

	file := filepath.Join(t.TempDir(), "build.yaml")
	yaml := fmt.Sprintf(`format: oci
annotations:
  org.opencontainers.image.source: https://example.com/src
platforms:
  - platform: linux/amd64
    layers:
      - url: %[1]s
      - url: %[2]s
    entrypoint: [/bin/tool]
    env: [ARCH=amd64]
  - platform: linux/arm64/v8
    layers:
      - url: %[1]s
      - urls: [%[3]s]
    entrypoint: [/bin/tool]
    labels:
      arch: arm64
`, up.URL("/shared.tar.gz"), up.URL("/amd64.tar.gz"), up.URL("/arm64.tar.zst"))
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	r := mustFL(t, "build", "-q", "-f", file, "-t", reg+"/multi:1")

	rawIdx, err := crane.Manifest(reg + "/multi:1")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(r.stdout); got != reg+"/multi@"+testutil.Sha256(rawIdx) {
		t.Errorf("stdout %q", got)
	}
	idx, err := v1.ParseIndexManifest(strings.NewReader(string(rawIdx)))
	if err != nil {
		t.Fatal(err)
	}
	if idx.MediaType != types.OCIImageIndex || len(idx.Manifests) != 2 || idx.Annotations["org.opencontainers.image.source"] == "" {
		t.Fatalf("index = %s", rawIdx)
	}
	want := map[string]string{"linux/amd64": testutil.Sha256(amd), "linux/arm64/v8": testutil.Sha256(arm)}
	for _, d := range idx.Manifests {
		m, cfg := pushed(t, reg+"/multi@"+d.Digest.String())
		p := d.Platform.String()
		if cfg.Platform().String() != p {
			t.Errorf("%s: config says %s", p, cfg.Platform())
		}
		if len(cfg.RootFS.DiffIDs) != 2 || cfg.RootFS.DiffIDs[0].String() != testutil.Sha256(shared) || cfg.RootFS.DiffIDs[1].String() != want[p] {
			t.Errorf("%s: diff_ids %v", p, cfg.RootFS.DiffIDs)
		}
		if m.Annotations["org.opencontainers.image.source"] == "" {
			t.Errorf("%s: manifest annotations %v", p, m.Annotations)
		}
		delete(want, p)
	}
	if len(want) != 0 {
		t.Errorf("platforms missing: %v", want)
	}
	if n := up.Gets("/shared.tar.gz"); n != 1 {
		t.Errorf("the layer both platforms share was read %d times, want once", n)
	}
}

func TestBuildDockerManifestList(t *testing.T) {
	up := testutil.NewUpstream(t)
	reg := testutil.Registry(t)
	up.Put("/a.tar.gz", testutil.Gzip(t, testutil.Tar(t, map[string]string{"a": "1"})))
	file := filepath.Join(t.TempDir(), "build.yaml")
	yaml := fmt.Sprintf("platforms:\n- platform: linux/amd64\n  layers: [{url: %[1]s}]\n- platform: linux/arm/v7\n  layers: [{url: %[1]s}]\n", up.URL("/a.tar.gz"))
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	mustFL(t, "build", "-q", "-f", file, "-t", reg+"/list:1")
	raw, _ := crane.Manifest(reg + "/list:1")
	idx, err := v1.ParseIndexManifest(strings.NewReader(string(raw)))
	if err != nil || idx.MediaType != types.DockerManifestList || len(idx.Manifests) != 2 {
		t.Fatalf("index %s: %v", raw, err)
	}
	if idx.Manifests[0].MediaType != types.DockerManifestSchema2 || idx.Manifests[1].Platform.Variant != "v7" {
		t.Errorf("children %+v", idx.Manifests)
	}
}

// TestBuildOnBase builds on a base image in another registry: the base's
// layers keep their digests and urls, its ordinary blobs are copied over,
// and its config settings carry through.
func TestBuildOnBase(t *testing.T) {
	up := testutil.NewUpstream(t)
	regA, regB := testutil.Registry(t), testutil.Registry(t)
	rootfs := testutil.Gzip(t, testutil.Tar(t, map[string]string{"etc/os-release": "ID=base"}))
	up.Put("/rootfs.tar.gz", rootfs)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "conf"), []byte("c"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustFL(t, "build", "-q", "-t", regA+"/base:1", "--layer", up.URL("/rootfs.tar.gz"), "--layer", dir, "--env", "PATH=/bin", "--env", "LANG=C", "--cmd", "/bin/sh")
	baseM, baseCfg := pushed(t, regA+"/base:1")

	app := testutil.Tar(t, map[string]string{"app/run": "run"})
	appFile := filepath.Join(dir, "app.tar")
	if err := os.WriteFile(appFile, app, 0o644); err != nil {
		t.Fatal(err)
	}
	mustFL(t, "build", "-q", "-t", regB+"/app:1", "--base", regA+"/base:1", "--layer", appFile, "--env", "PATH=/app:/bin", "--entrypoint", `["/app/run"]`)
	m, cfg := pushed(t, regB+"/app:1")
	if len(m.Layers) != 3 {
		t.Fatalf("%d layers", len(m.Layers))
	}
	for i := range 2 {
		if m.Layers[i].Digest != baseM.Layers[i].Digest || len(m.Layers[i].URLs) != len(baseM.Layers[i].URLs) || cfg.RootFS.DiffIDs[i] != baseCfg.RootFS.DiffIDs[i] {
			t.Errorf("base layer %d changed: %+v vs %+v", i, m.Layers[i], baseM.Layers[i])
		}
	}
	if _, err := crane.PullLayer(regB + "/app@" + m.Layers[1].Digest.String()); err != nil {
		t.Errorf("the base's ordinary layer was not copied to the new registry: %v", err)
	}
	if cfg.RootFS.DiffIDs[2].String() != testutil.Sha256(app) {
		t.Errorf("app diff_id %s", cfg.RootFS.DiffIDs[2])
	}
	env := strings.Join(cfg.Config.Env, " ")
	if env != "PATH=/app:/bin LANG=C" || cfg.Config.Cmd[0] != "/bin/sh" || cfg.Config.Entrypoint[0] != "/app/run" {
		t.Errorf("config = %+v", cfg.Config)
	}
	if len(cfg.History) != 3 {
		t.Errorf("history has %d entries", len(cfg.History))
	}

	// A base of another platform is an error, said plainly.
	r := fl(t, "build", "-q", "-t", regB+"/app:2", "--base", regA+"/base:1", "--platform", "linux/arm64", "--layer", appFile)
	if r.code == 0 || !strings.Contains(r.stderr, "linux/amd64, not linux/arm64") {
		t.Errorf("wrong-platform base: exit %d, %s", r.code, r.stderr)
	}
}

func TestBuildSourceDateEpoch(t *testing.T) {
	up := testutil.NewUpstream(t)
	reg := testutil.Registry(t)
	up.Put("/a.tar.gz", testutil.Gzip(t, testutil.Tar(t, map[string]string{"a": "1"})))
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	mustFL(t, "build", "-q", "-t", reg+"/e:1", "--layer", up.URL("/a.tar.gz"))
	_, cfg := pushed(t, reg+"/e:1")
	if cfg.Created.Unix() != 1700000000 || cfg.History[0].Created.Unix() != 1700000000 {
		t.Errorf("created = %v", cfg.Created)
	}
	t.Setenv("SOURCE_DATE_EPOCH", "yesterday")
	if r := fl(t, "build", "-q", "-t", reg+"/e:2", "--layer", up.URL("/a.tar.gz")); r.code == 0 || !strings.Contains(r.stderr, "SOURCE_DATE_EPOCH") {
		t.Errorf("bad SOURCE_DATE_EPOCH: exit %d %s", r.code, r.stderr)
	}
}
