package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/foreignlayers/fl/internal/testutil"
)

// modeMirrored is the report's name for pulls of the original reference
// that a client's own configuration sends to the view.
const modeMirrored = "cache · original reference, mirrored to the strip-urls view"

// TestViewMirrors pulls the original references, REGISTRY/R:TAG, with
// clients configured to ask the strip-urls view REGISTRY/PREFIX/R first
// (../shared/RECIPES.md): ctr through a hosts.toml with override_path,
// podman and skopeo through a registries.conf mirror. fl serve holds the
// layers (fetched through the original repository), so no pull may ask a
// layer URL; and what the client stored must be the view's manifest, not
// the original's, or the client did not go through the view.
func TestViewMirrors(t *testing.T) {
	testutil.NeedBinary(t, "/usr/bin/podman")
	testutil.NeedBinary(t, "/usr/bin/skopeo")
	sock := startContainerd(t)
	host := newLayerHost(t)
	addr := startServe(t, modeViewCache.serveArgs()...)
	hostsDir := writeHostsDir(t, addr)
	conf := writeRegistriesConf(t, addr)
	podman := podmanClient{root: t.TempDir(), registriesConf: conf}
	ctr := ctrClient{sock: sock, hostsDir: hostsDir}
	skopeo := skopeoClient{registriesConf: conf}

	type mirrored struct {
		c client
		// digest is the digest of the manifest the client stored for ref
		digest func(t *testing.T, ref string, want *wantImage) (got, string, error)
	}
	clients := []mirrored{
		{ctr, func(t *testing.T, ref string, want *wantImage) (got, string, error) {
			g, err := ctr.pull(t, ref, want)
			if err != nil {
				return g, "", err
			}
			d, err := ctrImageDigest(sock, ref)
			return g, d, err
		}},
		{podman, func(t *testing.T, ref string, want *wantImage) (got, string, error) {
			g, err := podman.pull(t, ref, want)
			if err != nil {
				return g, "", err
			}
			out, err := runClient(time.Minute, nil, "podman", podman.args("image", "inspect", "--format", "{{.Digest}}", ref)...)
			return g, strings.TrimSpace(out), err
		}},
		{skopeo, skopeo.copy},
	}

	// pull pulls ref with a mirrored client, counting the requests at the
	// layers' host, and records the cell.
	pull := func(t *testing.T, host *layerHost, m mirrored, row, ref string, want *wantImage, origin, view digests) {
		before := host.requests()
		g, digest, err := m.digest(t, ref, want)
		n := host.requests().minus(before)
		if err == nil {
			err = want.check(g)
		}
		switch {
		case err != nil:
		case !view.has(digest):
			where := "neither"
			if origin.has(digest) {
				where = "the original's"
			}
			err = fmt.Errorf("the client stored manifest %s, %s, not the view's %v: it did not pull through the view", digest, where, view)
		default:
			err = checkURLRequests(modeViewCache, n, true)
		}
		c := cell{client: m.c.name(), image: row, front: "embedded", mode: modeMirrored}
		if !strings.Contains(row, "after the first pull") {
			c.urls = &n
		}
		record(t, c, err)
	}

	for i, img := range imageKinds {
		tag := fmt.Sprintf("mirrored-%d", i)
		ref := addr + "/mirrored/img:" + tag
		want := img.build(t, host, ref, tag)
		warm(t, addr, ref, want) // through the original repository
		origin := manifestDigests(t, addr, "mirrored/img", tag)
		view := manifestDigests(t, addr, viewPrefix+"/mirrored/img", tag)
		for _, m := range clients {
			t.Run(img.name+"/"+m.c.name(), func(t *testing.T) {
				pull(t, host, m, img.name, ref, want, origin, view)
			})
		}
	}

	// The fault rows that fail containerd and containers/image on the
	// original repositories: the URL host stopped (an air gap), the URL
	// gone 404.
	type job struct {
		m            mirrored
		ref          string
		want         *wantImage
		path         string
		origin, view digests
	}
	for _, fault := range []string{"upstream stopped after the first pull", "URL answers 404 after the first pull"} {
		host := newLayerHost(t)
		var jobs []job
		for _, m := range clients {
			ref, want, path := faultImage(t, host, addr, "mirrored-"+strings.Fields(fault)[1], modeCache, m.c.name())
			warm(t, addr, ref, want)
			repo, tag, _ := strings.Cut(strings.TrimPrefix(ref, addr+"/"), ":")
			jobs = append(jobs, job{m, ref, want, path, manifestDigests(t, addr, repo, tag), manifestDigests(t, addr, viewPrefix+"/"+repo, tag)})
		}
		if strings.HasPrefix(fault, "upstream stopped") {
			host.Close()
		} else {
			for _, j := range jobs {
				host.Delete(j.path)
			}
		}
		for _, j := range jobs {
			t.Run(fault+"/"+j.m.c.name(), func(t *testing.T) {
				pull(t, host, j.m, fault, j.ref, j.want, j.origin, j.view)
			})
		}
	}
}

// writeHostsDir writes containerd's hosts.toml for the registry at addr:
// deploy/kubernetes/hosts.toml, the file nodes install, with this
// server's address: pulls and resolves go to /v2/PREFIX/... first
// (override_path: the path is used as given), then to the registry.
func writeHostsDir(t *testing.T, addr string) string {
	dir := t.TempDir()
	toml := deployFile(t, "kubernetes/hosts.toml", addr)
	if err := os.MkdirAll(filepath.Join(dir, addr), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, addr, "hosts.toml"), []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// writeRegistriesConf writes deploy/registries.conf with this server's
// address, its registry and mirror over plain HTTP (insecure).
func writeRegistriesConf(t *testing.T, addr string) string {
	file := filepath.Join(t.TempDir(), "registries.conf")
	conf := strings.ReplaceAll(deployFile(t, "registries.conf", addr), `location = "`+addr, "insecure = true\nlocation = \""+addr)
	if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// deployFile reads an example of deploy/ for the registry at addr (plain
// HTTP on loopback), and checks it names the view's prefix.
func deployFile(t *testing.T, name, addr string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "deploy", filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.ReplaceAll(string(b), "https://fl-serve.example:5000", "http://"+addr)
	s = strings.ReplaceAll(s, "fl-serve.example:5000", addr)
	if !strings.Contains(s, addr+"/"+viewPrefix) && !strings.Contains(s, addr+"/v2/"+viewPrefix) {
		t.Fatalf("deploy/%s does not point at the view %q", name, viewPrefix)
	}
	return s
}

// ctrImageDigest is the target digest of an image in containerd.
func ctrImageDigest(sock, ref string) (string, error) {
	out, err := runClient(time.Minute, nil, "ctr", "--address", sock, "-n", "fl", "image", "ls", "name=="+ref)
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == ref {
			return f[2], nil
		}
	}
	return "", fmt.Errorf("ctr image ls has no %s:\n%s", ref, out)
}

// digests are the digests a pull of a tag may store: the manifest's, and
// for an index also its linux/amd64 child's.
type digests []string

func (d digests) has(digest string) bool {
	for _, x := range d {
		if x == digest {
			return true
		}
	}
	return false
}

// manifestDigests GETs repo:tag's manifest from fl serve and returns its
// digests.
func manifestDigests(t *testing.T, addr, repo, tag string) digests {
	t.Helper()
	get := func(ref string) []byte {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/v2/"+repo+"/manifests/"+ref, nil)
		req.Header.Set("Accept", strings.Join([]string{
			"application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
			"application/vnd.docker.distribution.manifest.list.v2+json", "application/vnd.docker.distribution.manifest.v2+json",
		}, ", "))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s:%s: %d %v %s", repo, ref, resp.StatusCode, err, b)
		}
		return b
	}
	b := get(tag)
	d := digests{testutil.Sha256(b)}
	var idx struct {
		Manifests []struct {
			Digest   string `json:"digest"`
			Platform struct {
				OS           string `json:"os"`
				Architecture string `json:"architecture"`
			} `json:"platform"`
		} `json:"manifests"`
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		t.Fatal(err)
	}
	for _, m := range idx.Manifests {
		if m.Platform.OS == "linux" && m.Platform.Architecture == "amd64" {
			d = append(d, m.Digest)
		}
	}
	return d
}
