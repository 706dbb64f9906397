package commands

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/foreignlayers/fl/internal/testutil"
)

func TestSaveDocker(t *testing.T) {
	up := testutil.NewUpstream(t)
	gz := testutil.Gzip(t, testutil.Tar(t, map[string]string{"f": "saved"}))
	up.Put("/rootfs.tar.gz", gz)
	reg := testutil.Registry(t)
	l := buildTo(t, reg+"/save/x:1", "--layer", up.URL("/rootfs.tar.gz"))
	out := filepath.Join(t.TempDir(), "x.tar")
	r := mustFL(t, "save", "-q", reg+"/save/x:1", "-o", out)
	if strings.TrimSpace(r.stdout) != out {
		t.Errorf("stdout %q", r.stdout)
	}
	entries := testutil.TarFile(t, out)
	var manifest []struct {
		RepoTags []string
		Layers   []string
	}
	if err := json.Unmarshal(entries["manifest.json"], &manifest); err != nil {
		t.Fatal(err)
	}
	if len(manifest) != 1 || len(manifest[0].Layers) != 1 || manifest[0].RepoTags[0] != reg+"/save/x:1" {
		t.Fatalf("manifest.json = %s", entries["manifest.json"])
	}
	if got := entries[manifest[0].Layers[0]]; !bytes.Equal(got, gz) {
		t.Errorf("the saved layer is not the upstream's bytes (%d bytes, %s; want %s)", len(got), testutil.Sha256(got), l.Digest)
	}
}

func TestSaveOCIAndPlatform(t *testing.T) {
	up := testutil.NewUpstream(t)
	amd := testutil.Gzip(t, testutil.Tar(t, map[string]string{"f": "amd64"}))
	arm := testutil.Gzip(t, testutil.Tar(t, map[string]string{"f": "arm64"}))
	up.Put("/amd.tar.gz", amd)
	up.Put("/arm.tar.gz", arm)
	reg := testutil.Registry(t)
	file := filepath.Join(t.TempDir(), "b.yaml")
	yaml := fmt.Sprintf("format: oci\nplatforms:\n- platform: linux/amd64\n  layers: [{url: %s}]\n- platform: linux/arm64\n  layers: [{url: %s}]\n", up.URL("/amd.tar.gz"), up.URL("/arm.tar.gz"))
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	mustFL(t, "build", "-q", "-f", file, "-t", reg+"/save/multi:1")

	// The whole index, as an OCI layout with every foreign blob in it.
	dir := filepath.Join(t.TempDir(), "layout")
	mustFL(t, "save", "-q", "--format", "oci", reg+"/save/multi:1", "-o", dir)
	for _, b := range [][]byte{amd, arm} {
		got, err := os.ReadFile(filepath.Join(dir, "blobs", "sha256", strings.TrimPrefix(testutil.Sha256(b), "sha256:")))
		if err != nil || !bytes.Equal(got, b) {
			t.Errorf("layout lacks a layer: %v", err)
		}
	}
	if js := mustFL(t, "inspect", "--json", "oci-layout:"+dir).stdout; strings.Count(js, `"platform"`) != 2 {
		t.Errorf("saved layout: %s", js)
	}

	// One platform as a docker tarball: linux/amd64 by default.
	for p, want := range map[string][]byte{"": amd, "linux/arm64": arm} {
		out := filepath.Join(t.TempDir(), "x.tar")
		args := []string{"save", "-q", reg + "/save/multi:1", "-o", out}
		if p != "" {
			args = append(args, "--platform", p)
		}
		mustFL(t, args...)
		found := false
		for _, b := range testutil.TarFile(t, out) {
			found = found || bytes.Equal(b, want)
		}
		if !found {
			t.Errorf("--platform %q: the tarball lacks that platform's layer", p)
		}
	}
	if r := fl(t, "save", reg+"/save/multi:1", "--platform", "linux/s390x", "-o", filepath.Join(t.TempDir(), "x.tar")); r.code == 0 || !strings.Contains(r.stderr, "linux/amd64") {
		t.Errorf("missing platform: exit %d %s", r.code, r.stderr)
	}
}

// A download that fails leaves no file behind.
func TestSaveNothingHalfWritten(t *testing.T) {
	up := testutil.NewUpstream(t)
	up.Put("/rootfs.tar.gz", testutil.Gzip(t, testutil.Tar(t, map[string]string{"f": "x"})))
	reg := testutil.Registry(t)
	buildTo(t, reg+"/save/gone:1", "--layer", up.URL("/rootfs.tar.gz"))
	up.Delete("/rootfs.tar.gz")
	dir := t.TempDir()
	for _, args := range [][]string{
		{"-o", filepath.Join(dir, "x.tar")},
		{"--format", "oci", "-o", filepath.Join(dir, "layout")},
	} {
		r := fl(t, append([]string{"save", "-q", reg + "/save/gone:1"}, args...)...)
		if r.code == 0 || !strings.Contains(r.stderr, "HTTP 404") {
			t.Errorf("%v: exit %d %s", args, r.code, r.stderr)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a failed save left %v", entries)
	}
	for _, args := range [][]string{{reg + "/save/gone:1"}, {reg + "/save/gone:1", "-o", "x", "--format", "zip"}} {
		if r := fl(t, append([]string{"save"}, args...)...); r.code == 0 {
			t.Errorf("save %v succeeded", args)
		}
	}
}
