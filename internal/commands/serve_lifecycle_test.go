package commands

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/foreignlayers/fl/internal/testutil"
)

// Invariant 10: the index follows the repository's life. Deleting a
// manifest drops its references to foreign layers (a layer another
// manifest still declares stays servable); deleting a foreign blob drops
// it from the repository; a refused delete changes nothing; stray
// temporary files are removed at start.

// M1 declares L1 and L2, M2 declares L1 and L3. Deleting M1 leaves L2
// unserved and L1, L3 served; deleting the blob L3 leaves L3 unserved;
// both survive a restart; deleting M2 leaves L1 unserved. A layer that is
// not served any more is not fetched either. M1 pushed again brings its
// layers back.
func TestServeLifecycleDelete(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			o := newOpsOrigin(t)
			var ls []v1.Descriptor
			for _, p := range []string{"/l1", "/l2", "/l3"} {
				c := randomBytes(t, 32<<10)
				ls = append(ls, opsLayer(c, o.route(p, serveBytes(c))))
			}
			l1, l2, l3 := ls[0], ls[1], ls[2]
			dataDir := t.TempDir()
			args := append(append([]string{"--data-dir", dataDir}, loopbackOK...), be.args(t)...)
			s := serve(t, args...)
			stop := s.stop
			const repo = "life/x"
			m1 := opsPush(t, s.addr, repo, "1", []v1.Descriptor{l1, l2})
			m2 := opsPush(t, s.addr, repo, "2", []v1.Descriptor{l1, l3})
			for _, l := range ls {
				wantServed(t, s.addr, repo, l) // and now cached
			}

			wantStatus(t, http.MethodDelete, "http://"+s.addr+"/v2/"+repo+"/manifests/"+m1.String(), http.StatusAccepted)
			wantUnserved(t, o, s.addr, repo, l2, http.StatusNotFound)
			wantServed(t, s.addr, repo, l1)
			wantServed(t, s.addr, repo, l3)

			wantStatus(t, http.MethodDelete, "http://"+s.addr+"/v2/"+repo+"/blobs/"+l3.Digest.String(), http.StatusAccepted)
			wantUnserved(t, o, s.addr, repo, l3, http.StatusNotFound)
			wantServed(t, s.addr, repo, l1)

			stop()
			s = serve(t, args...)
			wantUnserved(t, o, s.addr, repo, l2, http.StatusNotFound)
			wantUnserved(t, o, s.addr, repo, l3, http.StatusNotFound)
			wantServed(t, s.addr, repo, l1)

			wantStatus(t, http.MethodDelete, "http://"+s.addr+"/v2/"+repo+"/manifests/"+m2.String(), http.StatusAccepted)
			// No manifest of the repository is left; with --upstream, the
			// pull check may now refuse instead of the 404.
			wantUnserved(t, o, s.addr, repo, l1, 0)
			for _, p := range []string{"/l1", "/l2", "/l3"} {
				if n := o.hits(p); n != 1 {
					t.Errorf("%s: %d upstream GETs, want the one before the deletes", p, n)
				}
			}

			// Pushed again, M1's layers are served again.
			if again := opsPush(t, s.addr, repo, "1", []v1.Descriptor{l1, l2}); again != m1 {
				t.Fatalf("M1 pushed again has digest %s, was %s", again, m1)
			}
			wantServed(t, s.addr, repo, l1)
			wantServed(t, s.addr, repo, l2)
		})
	}
}

// A delete that auth refuses changes nothing: the manifest and its
// foreign layers stay served. Embedded: --htpasswd. Upstream: the
// upstream registry's own htpasswd auth.
func TestServeLifecycleDeleteRefused(t *testing.T) {
	pw := testutil.Htpasswd(t, "", "alice", "s3cret")
	cases := []struct {
		name string
		args func(t *testing.T) []string
	}{
		{"embedded", func(*testing.T) []string { return []string{"--htpasswd", pw} }},
		{"upstream", func(t *testing.T) []string {
			reg := testutil.DockerRegistryWith(t, testutil.AllowLocalhost, "auth:\n  htpasswd:\n    realm: upstream-realm\n    path: "+pw+"\n")
			return []string{"--upstream", "http://" + reg}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := newOpsOrigin(t)
			c1, c2 := randomBytes(t, 16<<10), randomBytes(t, 16<<10)
			l1 := opsLayer(c1, o.route("/l1", serveBytes(c1)))
			l2 := opsLayer(c2, o.route("/l2", serveBytes(c2)))
			s := serve(t, append(loopbackOK, tc.args(t)...)...)
			const repo = "life/locked"
			alice := remote.WithAuth(&authn.Basic{Username: "alice", Password: "s3cret"})
			m := opsPush(t, s.addr, repo, "1", []v1.Descriptor{l1, l2}, alice)

			base := "http://" + s.addr + "/v2/" + repo
			for _, who := range []struct{ user, pass string }{{"", ""}, {"alice", "wrong"}, {"mallory", "s3cret"}} {
				for _, u := range []string{base + "/manifests/" + m.String(), base + "/blobs/" + l1.Digest.String(), base + "/blobs/" + l2.Digest.String()} {
					status, _, body, _ := opsDo(t, http.MethodDelete, u, who.user, who.pass)
					if status != http.StatusUnauthorized && status != http.StatusForbidden {
						t.Errorf("DELETE %s as %q: %d %s, want 401 or 403", u[len(base):], who.user, status, snippet(body))
					}
				}
			}
			// Everything is still there, for alice.
			if status, _, body, _ := opsDo(t, http.MethodGet, base+"/manifests/"+m.String(), "alice", "s3cret"); status != http.StatusOK {
				t.Errorf("the manifest after refused deletes: %d %s", status, snippet(body))
			}
			for _, l := range []v1.Descriptor{l1, l2} {
				status, _, body, err := opsDo(t, http.MethodGet, base+"/blobs/"+l.Digest.String(), "alice", "s3cret")
				if status != http.StatusOK || err != nil || testutil.Sha256(body) != l.Digest.String() {
					t.Errorf("layer %s after refused deletes: %d %v", l.Digest.Hex[:12], status, err)
				}
			}
		})
	}
}

// Temporary files an earlier run left (a crash mid-write) are removed at
// start.
func TestServeLifecycleStrayTemp(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	strays := []string{filepath.Join(dataDir, "index", "_tmp", "junk"), filepath.Join(dataDir, "cache", "spool", "junk")}
	for _, p := range strays {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("left by a crash"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := serve(t, "--data-dir", dataDir)
	for _, p := range strays {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s is still there after start (%v)", p, err)
		}
	}
	if resp, err := http.Get("http://" + s.addr + "/v2/"); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("after cleaning up: %v %v", err, resp)
	}
}

// wantStatus sends one request without credentials and checks its status.
func wantStatus(t *testing.T, method, url string, want int) {
	t.Helper()
	if status, _, body, err := opsDo(t, method, url, "", ""); status != want {
		t.Errorf("%s %s: %d %v %s, want %d", method, url, status, err, snippet(body), want)
	}
}

// wantUnserved checks that the front no longer serves d to repo, to GET
// or HEAD (with status want, if not 0), and that nothing was fetched for
// it.
func wantUnserved(t *testing.T, o *opsOrigin, addr, repo string, d v1.Descriptor, want int) {
	t.Helper()
	before := o.order()
	for _, method := range []string{http.MethodHead, http.MethodGet} {
		status, _, body, _ := opsDo(t, method, "http://"+addr+"/v2/"+repo+"/blobs/"+d.Digest.String(), "", "")
		if status == http.StatusOK || want != 0 && status != want {
			t.Errorf("%s %s of %s after its delete: %d %s, want %d", method, d.Digest.Hex[:12], repo, status, snippet(body), want)
		}
	}
	if after := o.order(); len(after) != len(before) {
		t.Errorf("requests for %s after its delete reached the upstream: %v", d.Digest.Hex[:12], after[len(before):])
	}
}
