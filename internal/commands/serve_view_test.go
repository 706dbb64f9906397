package commands

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/crane"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/foreignlayers/fl/internal/testutil"
)

// The strip-urls view: flat/R is R without urls, byte for byte what `fl
// copy --strip-urls` pushes, by tag and by view digest (after a restart
// too); its foreign blobs come from the one cache; R is untouched; nothing
// can be written under flat/.
func TestServeStripURLsView(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			up := testutil.NewUpstream(t)
			gz := testutil.Gzip(t, testutil.Tar(t, map[string]string{"etc/os-release": "ID=view-" + be.name}))
			up.Put("/rootfs.tar.gz", gz)
			dataDir := t.TempDir()
			args := append(append([]string{"--data-dir", dataDir, "--strip-urls-prefix", "flat"}, loopbackOK...), be.args(t)...)
			s := serve(t, args...)
			l := buildTo(t, s.addr+"/view/app:1", "--layer", up.URL("/rootfs.tar.gz"))
			origRaw, _ := crane.Manifest(s.addr + "/view/app:1")
			origDigest := testutil.Sha256(origRaw)

			// The view by tag.
			status, hdr, body := do(t, http.MethodGet, "http://"+s.addr+"/v2/flat/view/app/manifests/1", nil, "Accept", "application/vnd.docker.distribution.manifest.v2+json")
			viewDigest := testutil.Sha256([]byte(body))
			if status != 200 || strings.Contains(body, "urls") || hdr.Get("Docker-Content-Digest") != viewDigest || viewDigest == origDigest {
				t.Fatalf("view GET: %d %s %q (original %s)", status, hdr.Get("Docker-Content-Digest"), body, origDigest)
			}
			if !strings.Contains(body, `"application/vnd.docker.image.rootfs.diff.tar.gzip"`) {
				t.Errorf("the view's layer is not of the distributable type: %s", body)
			}
			// The same bytes fl copy --strip-urls pushes.
			dst := testutil.Registry(t)
			mustFL(t, "copy", "-q", "--strip-urls", s.addr+"/view/app:1", dst+"/copied:1")
			if d, err := crane.Digest(dst + "/copied:1"); err != nil || d != viewDigest {
				t.Errorf("fl copy --strip-urls pushed %s, the view serves %s (%v)", d, viewDigest, err)
			}
			// fl inspect shows it beside the original.
			if out := mustFL(t, "inspect", "--json", s.addr+"/view/app:1").stdout; !strings.Contains(out, `"strippedDigest": "`+viewDigest+`"`) {
				t.Errorf("fl inspect does not show the view digest %s:\n%s", viewDigest, out)
			}
			// The original is untouched.
			if raw, _ := crane.Manifest(s.addr + "/view/app:1"); !bytes.Equal(raw, origRaw) {
				t.Errorf("the original changed")
			}
			// By view digest, and HEAD.
			status, _, byDigest := do(t, http.MethodGet, "http://"+s.addr+"/v2/flat/view/app/manifests/"+viewDigest, nil)
			if status != 200 || byDigest != body {
				t.Errorf("view by digest: %d", status)
			}
			status, hdr, _ = do(t, http.MethodHead, "http://"+s.addr+"/v2/flat/view/app/manifests/1", nil, "Accept", "application/vnd.docker.distribution.manifest.v2+json")
			if status != 200 || hdr.Get("Docker-Content-Digest") != viewDigest || hdr.Get("Content-Length") != fmt.Sprint(len(body)) {
				t.Errorf("view HEAD: %d %v", status, hdr)
			}
			// The original digest under the view is not the view.
			if status, _, _ := do(t, http.MethodGet, "http://"+s.addr+"/v2/flat/view/app/manifests/"+origDigest, nil); status != http.StatusNotFound {
				t.Errorf("the original's digest under the view: %d, want 404", status)
			}
			// Blobs: one fetch for both paths.
			for _, repo := range []string{"flat/view/app", "view/app", "flat/view/app"} {
				if resp, b, _ := blob(t, http.MethodGet, s.addr, repo, l.Digest); resp.StatusCode != 200 || !bytes.Equal(b, gz) {
					t.Fatalf("blob under %s: %d", repo, resp.StatusCode)
				}
			}
			if n := up.Gets("/rootfs.tar.gz"); n != 2 { // fl build, then the one fetch
				t.Errorf("the layer URL was read %d times, want 2", n)
			}
			// crane pulls the view as an image whose layer verifies.
			img, err := crane.Pull(s.addr + "/flat/view/app:1")
			if err != nil {
				t.Fatal(err)
			}
			if d, _ := img.Digest(); d.String() != viewDigest {
				t.Errorf("crane pulled %s", d)
			}
			if layers, _ := img.Layers(); len(layers) != 1 {
				t.Errorf("layers: %d", len(layers))
			} else if rc, err := layers[0].Compressed(); err != nil {
				t.Errorf("layer: %v", err)
			} else {
				rc.Close()
			}
			// tags/list speaks of the view.
			if status, _, tags := do(t, http.MethodGet, "http://"+s.addr+"/v2/flat/view/app/tags/list", nil); status != 200 || !strings.Contains(tags, `"name":"flat/view/app"`) || !strings.Contains(tags, `"1"`) {
				t.Errorf("view tags: %d %s", status, tags)
			}
			// Writes under the view are refused, naming the original.
			for _, w := range []struct{ method, path, say string }{
				{http.MethodPut, "/v2/flat/view/app/manifests/2", "push to view/app"},
				{http.MethodPost, "/v2/flat/view/app/blobs/uploads/", "push to view/app"},
				{http.MethodDelete, "/v2/flat/view/app/manifests/" + viewDigest, "delete from view/app"},
			} {
				status, _, msg := do(t, w.method, "http://"+s.addr+w.path, []byte(body), "Content-Type", "application/vnd.docker.distribution.manifest.v2+json")
				if status != http.StatusForbidden || !strings.Contains(msg, w.say) {
					t.Errorf("%s %s: %d %s", w.method, w.path, status, msg)
				}
			}
			// A restart: the view digest resolves without a tag GET first.
			s.stop()
			s2 := serve(t, args...)
			if status, _, b := do(t, http.MethodGet, "http://"+s2.addr+"/v2/flat/view/app/manifests/"+viewDigest, nil); status != 200 || b != body {
				t.Errorf("view by digest after a restart: %d", status)
			}
		})
	}
}

// An index under the view points at its children's views, which resolve
// by digest.
func TestServeStripURLsViewIndex(t *testing.T) {
	up := testutil.NewUpstream(t)
	up.Put("/a.tar.gz", testutil.Gzip(t, testutil.Tar(t, map[string]string{"a": "1"})))
	s := serve(t, append([]string{"--strip-urls-prefix", "flat"}, loopbackOK...)...)
	file := filepath.Join(t.TempDir(), "build.yaml")
	yaml := fmt.Sprintf("platforms:\n- platform: linux/amd64\n  layers: [{url: %[1]s}]\n- platform: linux/arm64\n  layers: [{url: %[1]s}]\n", up.URL("/a.tar.gz"))
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	mustFL(t, "build", "-q", "-f", file, "-t", s.addr+"/multi/app:1")
	raw, err := crane.Manifest(s.addr + "/flat/multi/app:1")
	if err != nil {
		t.Fatal(err)
	}
	idx, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil || len(idx.Manifests) != 2 {
		t.Fatalf("view index: %s, %v", raw, err)
	}
	dst := testutil.Registry(t)
	mustFL(t, "copy", "-q", "--strip-urls", s.addr+"/multi/app:1", dst+"/copied:1")
	want, _ := crane.Digest(dst + "/copied:1")
	if got := testutil.Sha256(raw); got != want {
		t.Errorf("the view's index is %s, fl copy --strip-urls pushed %s", got, want)
	}
	if out := mustFL(t, "inspect", "--json", s.addr+"/multi/app:1").stdout; !strings.Contains(out, `"strippedDigest": "`+want+`"`) {
		t.Errorf("fl inspect does not show the index's view digest %s:\n%s", want, out)
	}
	for _, c := range idx.Manifests {
		child, err := crane.Manifest(s.addr + "/flat/multi/app@" + c.Digest.String())
		if err != nil || testutil.Sha256(child) != c.Digest.String() || strings.Contains(string(child), "urls") {
			t.Errorf("child %s: %v", c.Digest, err)
		}
	}
}

// Pulling flat/R takes exactly the rights of pulling R.
func TestServeStripURLsViewAuth(t *testing.T) {
	up := testutil.NewUpstream(t)
	up.Put("/a.tar.gz", testutil.Gzip(t, testutil.Tar(t, map[string]string{"a": "auth"})))
	pw := testutil.Htpasswd(t, "", "alice", "s3cret")
	s := serve(t, append([]string{"--strip-urls-prefix", "flat", "--htpasswd", pw, "--auth-pulls"}, loopbackOK...)...)
	dockerConfig(t, s.addr, "alice", "s3cret")
	buildTo(t, s.addr+"/secret/app:1", "--layer", up.URL("/a.tar.gz"))
	if status, _, _ := do(t, http.MethodGet, "http://"+s.addr+"/v2/flat/secret/app/manifests/1", nil); status != http.StatusUnauthorized {
		t.Errorf("anonymous view pull: %d, want 401", status)
	}
	if status, _, _ := do(t, http.MethodGet, "http://"+s.addr+"/v2/flat/secret/app/manifests/1", nil, "Authorization", basicAuth("alice", "wrong")); status != http.StatusUnauthorized {
		t.Errorf("view pull with a wrong password: %d, want 401", status)
	}
	if _, err := crane.Manifest(s.addr + "/flat/secret/app:1"); err != nil {
		t.Errorf("view pull with credentials (token flow): %v", err)
	}
}
