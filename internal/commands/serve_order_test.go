package commands

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/foreignlayers/fl/internal/testutil"
	"github.com/foreignlayers/fl/pkg/image"
)

// This file holds invariant 2 (the index records a manifest's foreign
// layers only after the backend stored it) and the hand-made manifests the
// hostile tests push: descriptors a hostile client writes, with any digest
// and any size.

// desc is a descriptor as a client writes it: nothing is checked.
type desc struct {
	MediaType string   `json:"mediaType"`
	Size      int64    `json:"size"`
	Digest    string   `json:"digest"`
	URLs      []string `json:"urls,omitempty"`
}

// foreign is a Docker foreign layer descriptor of content, at urls.
func foreign(content []byte, urls ...string) desc {
	return desc{MediaType: string(image.DockerForeignLayer), Size: int64(len(content)), Digest: testutil.Sha256(content), URLs: urls}
}

// testConfig is the config blob of every hand-made manifest.
var testConfig = []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)

func configDesc() desc {
	return desc{MediaType: string(types.DockerConfigJSON), Size: int64(len(testConfig)), Digest: testutil.Sha256(testConfig)}
}

// manifestJSON is a Docker schema 2 manifest of config and layers.
func manifestJSON(t *testing.T, config desc, layers ...desc) []byte {
	t.Helper()
	b, err := json.Marshal(struct {
		SchemaVersion int    `json:"schemaVersion"`
		MediaType     string `json:"mediaType"`
		Config        desc   `json:"config"`
		Layers        []desc `json:"layers"`
	}{2, string(types.DockerManifestSchema2), config, layers})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// basicAuth is an Authorization header value.
func basicAuth(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// do sends one request through a registry (headers as name, value pairs)
// and returns the status, headers and body; no answer at all fails the
// test.
func do(t *testing.T, method, url string, body []byte, hdr ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, resp.Header, string(b)
}

// uploadBlob pushes content as a blob of repo (POST, then PUT ?digest=)
// and returns the final status.
func uploadBlob(t *testing.T, addr, repo string, content []byte, hdr ...string) int {
	t.Helper()
	return uploadBlobAs(t, addr, repo, content, testutil.Sha256(content), hdr...)
}

// uploadBlobAs is uploadBlob with the digest given (another algorithm).
func uploadBlobAs(t *testing.T, addr, repo string, content []byte, digest string, hdr ...string) int {
	t.Helper()
	status, h, _ := do(t, http.MethodPost, "http://"+addr+"/v2/"+repo+"/blobs/uploads/", nil, hdr...)
	if status != http.StatusAccepted {
		return status
	}
	loc := h.Get("Location")
	if strings.HasPrefix(loc, "/") {
		loc = "http://" + addr + loc
	}
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	status, _, body := do(t, http.MethodPut, loc+sep+"digest="+digest, content, append([]string{"Content-Type", "application/octet-stream"}, hdr...)...)
	if status != http.StatusCreated {
		t.Logf("blob PUT to %s/%s: %d %s", addr, repo, status, body)
	}
	return status
}

// putManifest PUTs a manifest body with a Content-Type.
func putManifest(t *testing.T, addr, repo, ref, contentType string, body []byte, hdr ...string) (int, string) {
	t.Helper()
	status, _, b := do(t, http.MethodPut, "http://"+addr+"/v2/"+repo+"/manifests/"+ref, body, append([]string{"Content-Type", contentType}, hdr...)...)
	return status, b
}

// pushForeign uploads the config and PUTs a manifest of layers under tag,
// and returns the manifest's digest; anything but 201 fails the test.
func pushForeign(t *testing.T, addr, repo, tag string, layers ...desc) string {
	t.Helper()
	if s := uploadBlob(t, addr, repo, testConfig); s != http.StatusCreated {
		t.Fatalf("config upload to %s: %d", repo, s)
	}
	m := manifestJSON(t, configDesc(), layers...)
	if status, body := putManifest(t, addr, repo, tag, string(types.DockerManifestSchema2), m); status != http.StatusCreated {
		t.Fatalf("manifest PUT %s:%s: %d %s", repo, tag, status, body)
	}
	return testutil.Sha256(m)
}

// assertNotServed checks that the front does not answer for layer in repo:
// GET and HEAD get the backend's 404, nothing of the declared size.
func assertNotServed(t *testing.T, addr, repo string, layer desc, hdr ...string) {
	t.Helper()
	resp, body, _ := blob(t, http.MethodGet, addr, repo, layer.Digest, hdr...)
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), "BLOB_UNKNOWN") {
		t.Errorf("%s GET %s: %d (%d bytes), want the backend's 404 BLOB_UNKNOWN", repo, layer.Digest, resp.StatusCode, len(body))
	}
	resp, _, _ = blob(t, http.MethodHead, addr, repo, layer.Digest, hdr...)
	if resp.StatusCode != http.StatusNotFound || resp.ContentLength == layer.Size {
		t.Errorf("%s HEAD %s: %d, Content-Length %d (declared %d): want 404", repo, layer.Digest, resp.StatusCode, resp.ContentLength, layer.Size)
	}
}

// A manifest PUT the backend refuses (its config was never uploaded; its
// Content-Type contradicts its mediaType), or the URL policy refuses,
// records nothing: its foreign layer is not served in that repository, is
// not fetched, and stays unknown after a restart. A GET of a manifest that
// does not exist in the repository (another repository's digest) records
// nothing either.
func TestServeOrder(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			content := randomBytes(t, 64<<10)
			up := testutil.NewHostile(t, content)
			layer := foreign(content, up.URL(testutil.HostileOK))
			// A second layer, the one the policy refuses.
			denied := foreign([]byte("denied"), up.URL("/denied"))
			dataDir := t.TempDir()
			args := append(append([]string{"--data-dir", dataDir, "--deny-url", `/denied$`}, loopbackOK...), be.args(t)...)
			s := serve(t, args...)

			// The config blob is never uploaded: MANIFEST_BLOB_UNKNOWN.
			m := manifestJSON(t, configDesc(), layer)
			if status, body := putManifest(t, s.addr, "order/unknown", "1", string(types.DockerManifestSchema2), m); status/100 == 2 {
				t.Fatalf("a manifest whose config was never uploaded was stored: %d %s", status, body)
			}
			// Content-Type says OCI, the body says Docker.
			if st := uploadBlob(t, s.addr, "order/mismatch", testConfig); st != http.StatusCreated {
				t.Fatalf("config upload: %d", st)
			}
			if status, body := putManifest(t, s.addr, "order/mismatch", "1", string(types.OCIManifestSchema1), m); status/100 == 2 {
				t.Fatalf("a manifest with a contradicting media type was stored: %d %s", status, body)
			}
			// The policy refuses its second layer.
			if st := uploadBlob(t, s.addr, "order/policy", testConfig); st != http.StatusCreated {
				t.Fatalf("config upload: %d", st)
			}
			if status, body := putManifest(t, s.addr, "order/policy", "1", string(types.DockerManifestSchema2), manifestJSON(t, configDesc(), layer, denied)); status != http.StatusBadRequest {
				t.Fatalf("policy refusal: %d %s", status, body)
			}
			// A manifest that exists in another repository, asked for by
			// digest (and by tag) in a repository that does not hold it.
			victim := pushForeign(t, s.addr, "order/victim", "1", layer)
			for _, ref := range []string{victim, "1"} {
				if st := getManifest(t, s.addr, "order/miss", ref); st != http.StatusNotFound {
					t.Errorf("order/miss manifest %s: %d, want 404", ref, st)
				}
			}

			repos := []string{"order/unknown", "order/mismatch", "order/policy", "order/miss"}
			for _, repo := range repos {
				assertNotServed(t, s.addr, repo, layer)
			}
			if n := up.Total(); n != 0 {
				t.Errorf("the layer host saw %d requests, want 0", n)
			}
			// What is on disk agrees: nothing after a restart either.
			s.stop()
			s = serve(t, args...)
			for _, repo := range repos {
				assertNotServed(t, s.addr, repo, layer)
			}
			if n := up.Total(); n != 0 {
				t.Errorf("after a restart, the layer host saw %d requests, want 0", n)
			}
			// The victim's own layer is served: the test can tell.
			if resp, body, err := blob(t, http.MethodGet, s.addr, "order/victim", layer.Digest); resp.StatusCode != 200 || err != nil || !bytes.Equal(body, content) {
				t.Errorf("order/victim GET: %d, %d bytes, %v", resp.StatusCode, len(body), err)
			}
		})
	}
}

// With --upstream to a registry that requires auth, an anonymous PUT gets
// the upstream's 401, and records nothing: an authorized client of the
// same repository does not get the layer from the front, and its URL is
// never fetched.
func TestServeOrderUpstreamAuth(t *testing.T) {
	t.Parallel()
	content := randomBytes(t, 64<<10)
	up := testutil.NewHostile(t, content)
	pw := testutil.Htpasswd(t, "", "bob", "hunter2")
	reg := testutil.DockerRegistryWith(t, testutil.AllowLocalhost, "auth:\n  htpasswd:\n    realm: upstream-realm\n    path: "+pw+"\n")
	s := serve(t, append(loopbackOK, "--upstream", "http://"+reg)...)
	bob := []string{"Authorization", basicAuth("bob", "hunter2")}

	// Bob makes the repository exist, with a config blob.
	if st := uploadBlob(t, s.addr, "private/app", testConfig, bob...); st != http.StatusCreated {
		t.Fatalf("bob's config upload: %d", st)
	}
	layer := foreign(content, up.URL(testutil.HostileOK))
	m := manifestJSON(t, configDesc(), layer)
	for _, hdr := range [][]string{nil, {"Authorization", basicAuth("bob", "wrong")}} {
		status, body := putManifest(t, s.addr, "private/app", "1", string(types.DockerManifestSchema2), m, hdr...)
		if status != http.StatusUnauthorized {
			t.Errorf("PUT with %v: %d %s, want the upstream's 401", hdr, status, body)
		}
	}
	assertNotServed(t, s.addr, "private/app", layer, bob...)
	if n := up.Total(); n != 0 {
		t.Errorf("the layer host saw %d requests, want 0", n)
	}
	// Bob's own PUT of the same manifest is recorded: the test can tell.
	if status, body := putManifest(t, s.addr, "private/app", "1", string(types.DockerManifestSchema2), m, bob...); status != http.StatusCreated {
		t.Fatalf("bob's PUT: %d %s", status, body)
	}
	if resp, body, err := blob(t, http.MethodGet, s.addr, "private/app", layer.Digest, bob...); resp.StatusCode != 200 || err != nil || !bytes.Equal(body, content) {
		t.Errorf("bob's GET after his PUT: %d, %d bytes, %v", resp.StatusCode, len(body), err)
	}
}
