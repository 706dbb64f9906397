package commands

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/crane"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/foreignlayers/fl/internal/testutil"
	"github.com/foreignlayers/fl/pkg/image"
)

// pushed reads back what a build pushed, with crane (not fl's code).
func pushed(t *testing.T, ref string) (*v1.Manifest, *v1.ConfigFile) {
	t.Helper()
	raw, err := crane.Manifest(ref)
	if err != nil {
		t.Fatalf("reading back %s: %v", ref, err)
	}
	m, err := v1.ParseManifest(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	rawCfg, err := crane.Config(ref)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := v1.ParseConfigFile(strings.NewReader(string(rawCfg)))
	if err != nil {
		t.Fatal(err)
	}
	if got := testutil.Sha256(rawCfg); got != m.Config.Digest.String() {
		t.Fatalf("config digest %s, manifest says %s", got, m.Config.Digest)
	}
	return m, cfg
}

func TestBuildForeignGzipLayer(t *testing.T) {
	up := testutil.NewUpstream(t)
	reg := testutil.Registry(t)
	tarball := testutil.Tar(t, map[string]string{"etc/os-release": "ID=test\n", "bin/hello": "#!/bin/sh\necho hi\n"})
	gz := testutil.Gzip(t, tarball)
	up.Put("/rootfs.tar.gz", gz)

	r := mustFL(t, "build", "-q", "-t", reg+"/base:1", "--layer", up.URL("/rootfs.tar.gz"),
		"--cmd", "/bin/sh", "--env", "A=1", "--label", "org.example=yes", "--workdir", "/srv", "--user", "1000")

	m, cfg := pushed(t, reg+"/base:1")
	wantRef := reg + "/base@" + testutil.Sha256(mustManifest(t, reg+"/base:1"))
	if got := strings.TrimSpace(r.stdout); got != wantRef {
		t.Errorf("stdout = %q, want exactly %q", r.stdout, wantRef)
	}
	if len(m.Layers) != 1 {
		t.Fatalf("%d layers", len(m.Layers))
	}
	l := m.Layers[0]
	if l.MediaType != types.DockerForeignLayer || l.Digest.String() != testutil.Sha256(gz) || l.Size != int64(len(gz)) {
		t.Errorf("layer = %+v, want foreign %s size %d", l, testutil.Sha256(gz), len(gz))
	}
	if len(l.URLs) != 1 || l.URLs[0] != up.URL("/rootfs.tar.gz") {
		t.Errorf("urls = %v", l.URLs)
	}
	if got := cfg.RootFS.DiffIDs[0].String(); got != testutil.Sha256(tarball) {
		t.Errorf("diff_id = %s, want sha256 of the decompressed bytes %s", got, testutil.Sha256(tarball))
	}
	c := cfg.Config
	if len(c.Cmd) != 1 || c.Cmd[0] != "/bin/sh" || c.WorkingDir != "/srv" || c.User != "1000" || c.Labels["org.example"] != "yes" || len(c.Env) != 1 || c.Env[0] != "A=1" {
		t.Errorf("config = %+v", c)
	}
	if cfg.OS != "linux" || cfg.Architecture != "amd64" || !cfg.Created.Time.Equal(cfg.Created.Time.UTC()) || cfg.Created.Unix() != 0 {
		t.Errorf("platform/created = %s/%s %v", cfg.OS, cfg.Architecture, cfg.Created)
	}
	if n := up.Gets("/rootfs.tar.gz"); n != 1 {
		t.Errorf("the layer URL was read %d times, want once", n)
	}
}

func mustManifest(t *testing.T, ref string) []byte {
	t.Helper()
	raw, err := crane.Manifest(ref)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestBuildOCIFormats(t *testing.T) {
	up := testutil.NewUpstream(t)
	reg := testutil.Registry(t)
	tarball := testutil.Tar(t, map[string]string{"a": "a"})
	up.Put("/l.tar.gz", testutil.Gzip(t, tarball))
	up.Put("/l.tar.zst", testutil.Zstd(t, tarball))
	up.Put("/l.tar", tarball)

	cases := []struct {
		path, extra string
		want        types.MediaType
	}{
		{"/l.tar.gz", "", types.OCILayer},
		{"/l.tar.zst", "", types.OCILayerZStd},
		{"/l.tar", "", types.OCIUncompressedLayer},
		{"/l.tar.gz", "--nondistributable", types.OCIRestrictedLayer},
		{"/l.tar.zst", "--nondistributable", image.OCIRestrictedZstd},
		{"/l.tar", "--nondistributable", image.OCIRestrictedLayer},
	}
	for i, tc := range cases {
		ref := reg + "/oci:" + string(rune('a'+i))
		args := []string{"build", "-q", "-t", ref, "--format", "oci", "--layer", up.URL(tc.path)}
		if tc.extra != "" {
			args = append(args, tc.extra)
		}
		mustFL(t, args...)
		m, cfg := pushed(t, ref)
		if m.MediaType != types.OCIManifestSchema1 || m.Config.MediaType != types.OCIConfigJSON {
			t.Errorf("%s %s: manifest %s config %s", tc.path, tc.extra, m.MediaType, m.Config.MediaType)
		}
		if m.Layers[0].MediaType != tc.want || len(m.Layers[0].URLs) != 1 {
			t.Errorf("%s %s: layer %s urls %v, want %s", tc.path, tc.extra, m.Layers[0].MediaType, m.Layers[0].URLs, tc.want)
		}
		if cfg.RootFS.DiffIDs[0].String() != testutil.Sha256(tarball) {
			t.Errorf("%s: diff_id %s", tc.path, cfg.RootFS.DiffIDs[0])
		}
	}
}

func TestBuildMirrorsPinsAndChecksums(t *testing.T) {
	up := testutil.NewUpstream(t)
	reg := testutil.Registry(t)
	gz := testutil.Gzip(t, testutil.Tar(t, map[string]string{"x": "y"}))
	up.Put("/mirror2/rootfs.tar.gz", gz)
	up.Put("/SHA256SUMS", []byte(testutil.Hex([]byte("other"))+"  other.iso\n"+testutil.Hex(gz)+" *rootfs.tar.gz\n"))
	up.Put("/single/rootfs.tar.gz.sha256", []byte(testutil.Hex(gz)+"\n"))

	dead := up.URL("/mirror1/rootfs.tar.gz") // 404: the next mirror answers
	layer := dead + "," + up.URL("/mirror2/rootfs.tar.gz") + "#sha256=" + testutil.Hex(gz)
	mustFL(t, "build", "-q", "-t", reg+"/m:1", "--layer", layer,
		"--checksums", up.URL("/SHA256SUMS"), "--checksums", up.URL("/single/rootfs.tar.gz.sha256"))
	m, _ := pushed(t, reg+"/m:1")
	if got := m.Layers[0].URLs; len(got) != 2 || got[0] != dead || strings.Contains(got[1], "#") {
		t.Errorf("urls = %v, want both mirrors without the pin fragment", got)
	}
}

func TestBuildLocalFileAndDirectory(t *testing.T) {
	up := testutil.NewUpstream(t)
	reg := testutil.Registry(t)
	base := testutil.Gzip(t, testutil.Tar(t, map[string]string{"etc/base": "1"}))
	up.Put("/base.tar.gz", base)

	dir := t.TempDir()
	app := filepath.Join(dir, "app")
	if err := os.MkdirAll(filepath.Join(app, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(app, "bin", "run"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("run", filepath.Join(app, "bin", "start")); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "extra.tar")
	extra := testutil.Tar(t, map[string]string{"opt/extra": "e"})
	if err := os.WriteFile(file, extra, 0o644); err != nil {
		t.Fatal(err)
	}

	build := func(tag string) {
		mustFL(t, "build", "-q", "-t", reg+"/app:"+tag, "--layer", up.URL("/base.tar.gz"), "--layer", app, "--layer", file)
	}
	build("1")
	// Reproducible: a second build, with the directory's times changed,
	// gives the same digest.
	if err := os.Chtimes(filepath.Join(app, "bin", "run"), testTime, testTime); err != nil {
		t.Fatal(err)
	}
	build("2")
	d1, _ := crane.Digest(reg + "/app:1")
	d2, _ := crane.Digest(reg + "/app:2")
	if d1 != d2 {
		t.Errorf("same inputs gave %s and %s", d1, d2)
	}

	m, cfg := pushed(t, reg+"/app:1")
	if len(m.Layers) != 3 || len(m.Layers[0].URLs) != 1 || len(m.Layers[1].URLs) != 0 || len(m.Layers[2].URLs) != 0 {
		t.Fatalf("layers = %+v", m.Layers)
	}
	if m.Layers[1].MediaType != types.DockerLayer || m.Layers[2].MediaType != image.DockerUncompressed {
		t.Errorf("media types %s %s", m.Layers[1].MediaType, m.Layers[2].MediaType)
	}
	if cfg.RootFS.DiffIDs[2].String() != testutil.Sha256(extra) || m.Layers[2].Digest.String() != testutil.Sha256(extra) {
		t.Errorf("uncompressed file layer: digest %s diff_id %s, want %s", m.Layers[2].Digest, cfg.RootFS.DiffIDs[2], testutil.Sha256(extra))
	}
	// The ordinary blobs really are in the registry, and the directory
	// layer holds the files.
	blob, err := crane.PullLayer(reg + "/app@" + m.Layers[1].Digest.String())
	if err != nil {
		t.Fatal(err)
	}
	files := tarNames(t, blob)
	if strings.Join(files, ",") != "bin/,bin/run,bin/start" {
		t.Errorf("directory layer holds %v", files)
	}
}

func TestBuildJSONAndInspect(t *testing.T) {
	up := testutil.NewUpstream(t)
	reg := testutil.Registry(t)
	tarball := testutil.Tar(t, map[string]string{"f": "1"})
	gz := testutil.Gzip(t, tarball)
	up.Put("/a.tar.gz", gz)

	r := mustFL(t, "build", "-q", "--json", "-t", reg+"/j:1", "--layer", up.URL("/a.tar.gz"))
	var s image.Summary
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, r.stdout)
	}
	l := s.Manifests[0].Layers[0]
	if l.Digest != testutil.Sha256(gz) || l.DiffID != testutil.Sha256(tarball) || l.Size != int64(len(gz)) || !l.Foreign || l.URLs[0] != up.URL("/a.tar.gz") || l.MediaType != types.DockerForeignLayer {
		t.Errorf("json layer = %+v", l)
	}
	if s.Digest != testutil.Sha256(mustManifest(t, reg+"/j:1")) {
		t.Errorf("json digest %s", s.Digest)
	}

	ins := mustFL(t, "inspect", reg+"/j:1")
	for _, want := range []string{"Platform linux/amd64", "(1 layer, 1 foreign)", "yes", up.URL("/a.tar.gz"), string(types.DockerForeignLayer)} {
		if !strings.Contains(ins.stdout, want) {
			t.Errorf("inspect output lacks %q:\n%s", want, ins.stdout)
		}
	}
	var js image.Summary
	if err := json.Unmarshal([]byte(mustFL(t, "inspect", "--json", reg+"/j:1").stdout), &js); err != nil {
		t.Fatal(err)
	}
	if js.Manifests[0].Layers[0].DiffID != testutil.Sha256(tarball) {
		t.Errorf("inspect --json = %+v", js)
	}
}

func TestBuildOCILayout(t *testing.T) {
	up := testutil.NewUpstream(t)
	gz := testutil.Gzip(t, testutil.Tar(t, map[string]string{"f": "1"}))
	up.Put("/a.tar.gz", gz)
	dir := filepath.Join(t.TempDir(), "out")
	r := mustFL(t, "build", "-q", "--format", "oci", "--output", "oci-layout:"+dir, "-t", "example.com/x:v1", "--layer", up.URL("/a.tar.gz"))
	ref := strings.TrimSpace(r.stdout)
	if !strings.HasPrefix(ref, "oci-layout:"+dir+"@sha256:") {
		t.Fatalf("stdout = %q", r.stdout)
	}
	digest := strings.TrimPrefix(ref, "oci-layout:"+dir+"@")
	raw, err := os.ReadFile(filepath.Join(dir, "blobs", "sha256", strings.TrimPrefix(digest, "sha256:")))
	if err != nil {
		t.Fatal(err)
	}
	if testutil.Sha256(raw) != digest {
		t.Errorf("manifest blob does not hash to its name")
	}
	rawIdx, _ := os.ReadFile(filepath.Join(dir, "index.json"))
	idx, err := v1.ParseIndexManifest(strings.NewReader(string(rawIdx)))
	if err != nil {
		t.Fatal(err)
	}
	if len(idx.Manifests) != 1 || idx.Manifests[0].Digest.String() != digest || idx.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "v1" {
		t.Errorf("index.json = %s", rawIdx)
	}
	// The foreign layer's bytes stay at the URL.
	if _, err := os.Stat(filepath.Join(dir, "blobs", "sha256", strings.TrimPrefix(testutil.Sha256(gz), "sha256:"))); err == nil {
		t.Errorf("the foreign layer was written into the layout")
	}
	ins := mustFL(t, "inspect", "oci-layout:"+dir+":v1")
	if !strings.Contains(ins.stdout, up.URL("/a.tar.gz")) {
		t.Errorf("inspect of the layout:\n%s", ins.stdout)
	}
}
