package commands

import (
	"bytes"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/foreignlayers/fl/internal/testutil"
)

// loopbackOK lets fl serve fetch from the tests' loopback upstreams.
var loopbackOK = []string{"--allow-http", "--allow-private-networks"}

type backendCase struct {
	name string
	args func(t *testing.T) []string
}

// backends: the embedded registry, and Debian's docker-registry behind
// --upstream.
var backends = []backendCase{
	{"embedded", func(*testing.T) []string { return nil }},
	{"upstream", func(t *testing.T) []string {
		return []string{"--upstream", "http://" + testutil.DockerRegistry(t, testutil.AllowLocalhost)}
	}},
}

func TestServeModes(t *testing.T) {
	for _, be := range backends {
		for _, mode := range []string{"cache", "redirect", "off"} {
			t.Run(be.name+"/"+mode, func(t *testing.T) {
				t.Parallel()
				up := testutil.NewUpstream(t)
				gz := testutil.Gzip(t, testutil.Tar(t, map[string]string{"etc/os-release": "ID=serve\n", "big": strings.Repeat("fl", 50000)}))
				up.Put("/rootfs.tar.gz", gz)
				s := serve(t, append(append([]string{"--foreign", mode}, loopbackOK...), be.args(t)...)...)
				for _, format := range []string{"docker", "oci"} {
					repo := "modes/" + format
					l := buildTo(t, s.addr+"/"+repo+":1", "--format", format, "--layer", up.URL("/rootfs.tar.gz"))
					gets := up.Gets("/rootfs.tar.gz")

					resp, _, _ := blob(t, http.MethodHead, s.addr, repo, l.Digest)
					if mode != "off" && (resp.StatusCode != 200 || resp.ContentLength != l.Size || resp.Header.Get("Docker-Content-Digest") != l.Digest) {
						t.Errorf("%s HEAD: %d, length %d, digest %q", format, resp.StatusCode, resp.ContentLength, resp.Header.Get("Docker-Content-Digest"))
					}
					if up.Gets("/rootfs.tar.gz") != gets {
						t.Errorf("%s: HEAD fetched from the upstream", format)
					}

					resp, body, err := blob(t, http.MethodGet, s.addr, repo, l.Digest)
					switch mode {
					case "cache":
						if resp.StatusCode != 200 || err != nil || !bytes.Equal(body, gz) {
							t.Fatalf("%s GET: %d, %d bytes, %v", format, resp.StatusCode, len(body), err)
						}
						// Again: from the cache, with ranges.
						resp, body, _ = blob(t, http.MethodGet, s.addr, repo, l.Digest, "Range", "bytes=10-19")
						if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, gz[10:20]) {
							t.Errorf("%s range: %d %q", format, resp.StatusCode, body)
						}
						if n := up.Gets("/rootfs.tar.gz") - gets; n != 1 && format == "docker" || n != 0 && format == "oci" {
							// The OCI image has the same layer: already cached.
							t.Errorf("%s: %d upstream GETs for two requests", format, n)
						}
						// A real client pulls the whole image through the front
						// and verifies every layer and diff_id.
						img, err := crane.Pull(s.addr + "/" + repo + ":1")
						if err != nil {
							t.Fatal(err)
						}
						if err := validate.Image(img); err != nil {
							t.Errorf("%s: pulled image does not validate: %v", format, err)
						}
					case "redirect":
						if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != up.URL("/rootfs.tar.gz") {
							t.Errorf("%s redirect: %d Location %q", format, resp.StatusCode, resp.Header.Get("Location"))
						}
						if up.Gets("/rootfs.tar.gz") != gets {
							t.Errorf("redirect mode fetched from the upstream")
						}
					case "off":
						if resp.StatusCode != http.StatusNotFound {
							t.Errorf("%s off: %d, want the plain registry's 404", format, resp.StatusCode)
						}
					}
				}
			})
		}
	}
}

// Tampered upstream bytes never reach the cache and never complete a
// response; later requests try the next URL. The layer is large and
// incompressible, so the cut response has reached the client before the
// mismatch shows: a small one would still sit in the server's buffer, and
// Go's client would quietly send its GET again (and get the mirror's
// verified bytes).
func TestServeTamperedUpstream(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			up := testutil.NewUpstream(t)
			gz := testutil.Gzip(t, randomBytesTar(t, 256<<10))
			up.Put("/a/rootfs.tar.gz", gz)
			up.Put("/b/rootfs.tar.gz", gz)
			s := serve(t, append(loopbackOK, be.args(t)...)...)
			l := buildTo(t, s.addr+"/tamper/x:1", "--layer", up.URL("/a/rootfs.tar.gz")+","+up.URL("/b/rootfs.tar.gz"))

			evil := bytes.Clone(gz)
			copy(evil[len(evil)/2:], "EVIL BYTES")
			up.Put("/a/rootfs.tar.gz", evil)

			resp, body, err := blob(t, http.MethodGet, s.addr, "tamper/x", l.Digest)
			if err == nil && bytes.Equal(body, gz) {
				t.Fatalf("tampered fetch gave a complete, correct body (upstream GETs a=%d b=%d); fl serve's log:\n%s", up.Gets("/a/rootfs.tar.gz"), up.Gets("/b/rootfs.tar.gz"), s.stderr.String())
			}
			if err == nil && resp.StatusCode == 200 {
				t.Fatalf("a response from tampered bytes completed (%d bytes, no error)", len(body))
			}
			if int64(len(body)) >= l.Size {
				t.Errorf("the client got %d of %d bytes: the tail was not held back", len(body), l.Size)
			}
			if c := cachedBlobs(t, s.dataDir); len(c) != 0 {
				t.Errorf("tampered content reached the cache: %v", c)
			}
			if m := metric(t, s.addr, `fl_upstream_fetches_total{outcome="mismatch"}`); m != "1" {
				t.Errorf("mismatch metric = %s", m)
			}
			// The next request goes to the mirror, and succeeds.
			resp, body, err = blob(t, http.MethodGet, s.addr, "tamper/x", l.Digest)
			if resp.StatusCode != 200 || err != nil || !bytes.Equal(body, gz) {
				t.Fatalf("after a mismatch: %d, %d bytes, %v", resp.StatusCode, len(body), err)
			}
			if up.Gets("/a/rootfs.tar.gz") != 2 || up.Gets("/b/rootfs.tar.gz") != 1 {
				// fl build read the first mirror; the front read each once.
				t.Errorf("upstream GETs: a=%d b=%d", up.Gets("/a/rootfs.tar.gz"), up.Gets("/b/rootfs.tar.gz"))
			}
		})
	}
}

// With the upstream stopped, a second fetch is served from the cache, also
// after fl serve restarts.
func TestServeCacheOutlivesUpstream(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			up := testutil.NewUpstream(t)
			gz := testutil.Gzip(t, testutil.Tar(t, map[string]string{"f": "cached"}))
			up.Put("/rootfs.tar.gz", gz)
			dataDir := t.TempDir()
			args := append(append([]string{"--data-dir", dataDir}, loopbackOK...), be.args(t)...)
			s := serve(t, args...)
			l := buildTo(t, s.addr+"/keep/x:1", "--layer", up.URL("/rootfs.tar.gz"))
			if resp, body, _ := blob(t, http.MethodGet, s.addr, "keep/x", l.Digest); resp.StatusCode != 200 || !bytes.Equal(body, gz) {
				t.Fatalf("first GET: %d", resp.StatusCode)
			}
			up.Close()
			if resp, body, _ := blob(t, http.MethodGet, s.addr, "keep/x", l.Digest); resp.StatusCode != 200 || !bytes.Equal(body, gz) {
				t.Fatalf("with the upstream down: %d", resp.StatusCode)
			}
			// A new process over the same data dir: the index and cache persist.
			s.stop()
			s2 := serve(t, args...)
			if resp, body, _ := blob(t, http.MethodGet, s2.addr, "keep/x", l.Digest); resp.StatusCode != 200 || !bytes.Equal(body, gz) {
				t.Fatalf("after a restart: %d", resp.StatusCode)
			}
		})
	}
}

// 50 concurrent GETs of one uncached layer cause exactly one upstream
// fetch, and every one of them gets the whole, verified blob.
func TestServeFanOut(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			up := testutil.NewUpstream(t)
			gz := testutil.Gzip(t, randomBytesTar(t, 4<<20))
			up.Put("/big.tar.gz", gz)
			s := serve(t, append(loopbackOK, be.args(t)...)...)
			l := buildTo(t, s.addr+"/fan/x:1", "--layer", up.URL("/big.tar.gz"))
			up.Throttle(5 * time.Millisecond) // about 0.3 s for the whole blob

			const clients = 50
			var wg sync.WaitGroup
			errs := make(chan string, clients)
			for range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					resp, body, err := blob(t, http.MethodGet, s.addr, "fan/x", l.Digest)
					if resp.StatusCode != 200 || err != nil || testutil.Sha256(body) != l.Digest {
						errs <- resp.Status
					}
				}()
			}
			wg.Wait()
			close(errs)
			for e := range errs {
				t.Errorf("a client did not get the blob: %s", e)
			}
			if n := up.Gets("/big.tar.gz"); n != 2 { // fl build's read, and one fetch
				t.Errorf("%d upstream GETs, want fl build's and exactly one fetch", n)
			}
			t.Logf("joins %s, cache hits %s", metric(t, s.addr, "fl_singleflight_joins_total"), metric(t, s.addr, "fl_cache_hits_total"))
			if m := metric(t, s.addr, `fl_upstream_fetches_total{outcome="ok"}`); m != "1" {
				t.Errorf("fetches metric = %s", m)
			}
		})
	}
}

func randomBytesTar(t *testing.T, n int) []byte {
	return testutil.Tar(t, map[string]string{"random.bin": string(randomBytes(t, n))})
}
