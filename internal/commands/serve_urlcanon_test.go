package commands

import (
	"crypto/sha512"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/foreignlayers/fl/internal/testutil"
)

// Invariant 5: every descriptor with urls is checked at PUT, whatever its
// digest algorithm, size or neighbours, and --allow-url/--deny-url match the
// canonical URL (scheme and host lower-cased, trailing dot and default port
// dropped); in redirect mode the Location handed out is that canonical URL.

// anyURLBackends are the backends with a docker-registry that accepts every
// layer URL: only the front's policy decides.
var anyURLBackends = []backendCase{
	{"embedded", func(*testing.T) []string { return nil }},
	{"upstream", func(t *testing.T) []string {
		return []string{"--upstream", "http://" + testutil.DockerRegistry(t, testutil.AllowAnyURL)}
	}},
}

const metadataURL = "http://169.254.169.254/latest/meta-data/"

// refusedAtPut checks a PUT's 400 MANIFEST_INVALID whose message names
// want, and that the manifest was not stored.
func refusedAtPut(t *testing.T, addr, repo, tag string, manifest []byte, want string) {
	t.Helper()
	status, body := putManifest(t, addr, repo, tag, string(types.DockerManifestSchema2), manifest)
	if status != http.StatusBadRequest || !strings.Contains(body, "MANIFEST_INVALID") || !strings.Contains(body, want) {
		t.Errorf("%s:%s: %d %.300s, want 400 MANIFEST_INVALID naming %q", repo, tag, status, body, want)
	}
	if st := getManifest(t, addr, repo, tag); st != http.StatusNotFound {
		t.Errorf("%s:%s: manifest GET after the refusal: %d, want 404", repo, tag, st)
	}
}

// Descriptors the policy must see through: unverifiable algorithms,
// policy-breaking URLs hidden next to them, negative and oversized sizes,
// and one digest declared twice with different sizes.
func TestServeURLCanonDescriptors(t *testing.T) {
	for _, be := range anyURLBackends {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			s := serve(t, append([]string{"--allow-http"}, be.args(t)...)...)
			push := func(repo string) {
				if st := uploadBlob(t, s.addr, repo, testConfig); st != http.StatusCreated {
					t.Fatalf("config upload to %s: %d", repo, st)
				}
			}
			sha384 := "sha384:" + strings.Repeat("ab", 48)
			layer := func(digest string, size int64, urls ...string) desc {
				return desc{MediaType: string(types.DockerForeignLayer), Size: size, Digest: digest, URLs: urls}
			}
			ok := foreign([]byte("ok"), "https://layers.example/ok.tar.gz")

			push("policy/sha384")
			refusedAtPut(t, s.addr, "policy/sha384", "1",
				manifestJSON(t, configDesc(), layer(sha384, 4, metadataURL)), "sha384")

			// The sha384 layer without urls is uploaded: the backends would
			// store this manifest, were it not for the URL next to it.
			push("policy/hidden")
			plainContent := []byte("an ordinary layer, digested with sha384")
			sum := sha512.Sum384(plainContent)
			plain := desc{MediaType: string(types.DockerLayer), Size: int64(len(plainContent)), Digest: "sha384:" + hex.EncodeToString(sum[:])}
			if st := uploadBlobAs(t, s.addr, "policy/hidden", plainContent, plain.Digest); st != http.StatusCreated {
				t.Fatalf("sha384 blob upload: %d", st)
			}
			refusedAtPut(t, s.addr, "policy/hidden", "1",
				manifestJSON(t, configDesc(), plain, layer(testutil.Sha256([]byte("meta")), 4, metadataURL)), "169.254.169.254")

			push("policy/negative")
			refusedAtPut(t, s.addr, "policy/negative", "1",
				manifestJSON(t, configDesc(), layer(testutil.Sha256([]byte("neg")), -1, "https://layers.example/neg.tar.gz")), "size")

			// One digest, two sizes, in one manifest.
			push("policy/twice")
			twice := ok
			twice.Size++
			refusedAtPut(t, s.addr, "policy/twice", "1", manifestJSON(t, configDesc(), ok, twice), "size")
			// ... and across two manifests of one repository: the first
			// stands, the second is refused, HEAD keeps the first size.
			pushForeign(t, s.addr, "policy/known", "1", ok)
			refusedAtPut(t, s.addr, "policy/known", "2", manifestJSON(t, configDesc(), twice), "size")
			if resp, _, _ := blob(t, http.MethodHead, s.addr, "policy/known", ok.Digest); resp.StatusCode != 200 || resp.ContentLength != ok.Size {
				t.Errorf("HEAD after the refused redeclaration: %d, length %d, want %d", resp.StatusCode, resp.ContentLength, ok.Size)
			}
			// Another repository may declare its own size: per repository.
			pushForeign(t, s.addr, "policy/other", "1", twice)
		})
	}
}

// A size above --max-blob-size is refused at PUT, naming the flag;
// exactly the limit is accepted.
func TestServeURLCanonMaxBlobSize(t *testing.T) {
	for _, be := range anyURLBackends {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			s := serve(t, append([]string{"--max-blob-size", "1MiB"}, be.args(t)...)...)
			if st := uploadBlob(t, s.addr, "policy/huge", testConfig); st != http.StatusCreated {
				t.Fatalf("config upload: %d", st)
			}
			huge := foreign([]byte("huge"), "https://layers.example/huge.tar.gz")
			huge.Size = 1<<20 + 1
			refusedAtPut(t, s.addr, "policy/huge", "1", manifestJSON(t, configDesc(), huge), "--max-blob-size")
			limit := foreign([]byte("limit"), "https://layers.example/limit.tar.gz")
			limit.Size = 1 << 20
			if status, body := putManifest(t, s.addr, "policy/huge", "2", string(types.DockerManifestSchema2), manifestJSON(t, configDesc(), limit)); status != http.StatusCreated {
				t.Errorf("a layer of exactly --max-blob-size: %d %.300s", status, body)
			}
		})
	}
}

// --deny-url and --allow-url match the canonical URL, at PUT and when the
// front hands a URL out in redirect mode.
func TestServeURLCanonPatterns(t *testing.T) {
	for _, be := range anyURLBackends {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			beArgs := be.args(t)
			deny := serve(t, append([]string{"--foreign", "redirect", "--deny-url", `^https://evil\.example/`}, beArgs...)...)
			allow := serve(t, append([]string{"--foreign", "redirect", "--allow-url", `^https://good\.example/`}, beArgs...)...)

			for i, u := range []string{
				"HTTPS://EVIL.EXAMPLE/x",
				"https://Evil.Example./x",
				"https://evil.example:443/x",
				"https://EVIL.example.:443/x",
			} {
				repo := "canon/deny" + string(rune('a'+i))
				if st := uploadBlob(t, deny.addr, repo, testConfig); st != http.StatusCreated {
					t.Fatalf("config upload: %d", st)
				}
				refusedAtPut(t, deny.addr, repo, "1", manifestJSON(t, configDesc(), foreign([]byte(u), u)), "--deny-url")
			}
			// Not denied: accepted, and redirected to as is.
			okd := foreign([]byte("fine"), "https://notevil.example/x")
			pushForeign(t, deny.addr, "canon/fine", "1", okd)
			assertRedirect(t, deny.addr, "canon/fine", okd.Digest, "https://notevil.example/x")

			for i, c := range []struct{ url, canonical string }{
				{"https://GOOD.example:443/x", "https://good.example/x"},
				{"https://good.example./x", "https://good.example/x"},
				{"HTTPS://Good.Example/x/y?z=1", "https://good.example/x/y?z=1"},
			} {
				repo := "canon/allow" + string(rune('a'+i))
				d := foreign([]byte(c.url), c.url)
				if st := uploadBlob(t, allow.addr, repo, testConfig); st != http.StatusCreated {
					t.Fatalf("config upload: %d", st)
				}
				if status, body := putManifest(t, allow.addr, repo, "1", string(types.DockerManifestSchema2), manifestJSON(t, configDesc(), d)); status != http.StatusCreated {
					t.Errorf("%s, allowed once canonical: %d %.300s", c.url, status, body)
					continue
				}
				assertRedirect(t, allow.addr, repo, d.Digest, c.canonical)
			}
			if st := uploadBlob(t, allow.addr, "canon/port", testConfig); st != http.StatusCreated {
				t.Fatalf("config upload: %d", st)
			}
			refusedAtPut(t, allow.addr, "canon/port", "1", manifestJSON(t, configDesc(), foreign([]byte("p"), "https://good.example:8443/x")), "--allow-url")
		})
	}
}

// assertRedirect checks a redirect-mode GET's 307 and its Location.
func assertRedirect(t *testing.T, addr, repo, digest, want string) {
	t.Helper()
	resp, body, _ := blob(t, http.MethodGet, addr, repo, digest)
	if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != want {
		t.Errorf("%s: %d Location %q %.200s, want 307 to %s", repo, resp.StatusCode, resp.Header.Get("Location"), body, want)
	}
}

// Manifests planted in the upstream registry (the front first sees them on
// a GET) with non-canonical spellings of a denied URL: the front does not
// redirect to them.
func TestServeURLCanonPlanted(t *testing.T) {
	t.Parallel()
	reg := testutil.DockerRegistry(t, testutil.AllowAnyURL)
	s := serve(t, "--upstream", "http://"+reg, "--foreign", "redirect", "--deny-url", `^https://evil\.example/`)
	for i, u := range []string{"HTTPS://EVIL.EXAMPLE/x", "https://Evil.Example./x", "https://evil.example:443/x"} {
		repo := "planted/" + string(rune('a'+i))
		d := foreign([]byte(u), u)
		pushForeign(t, reg, repo, "1", d) // straight to the registry
		if st := getManifest(t, s.addr, repo, "1"); st != http.StatusOK {
			t.Fatalf("%s: manifest GET through the front: %d", repo, st)
		}
		resp, body, _ := blob(t, http.MethodGet, s.addr, repo, d.Digest)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "DENIED") || resp.Header.Get("Location") != "" {
			t.Errorf("%s (%s): %d Location %q, want 403 DENIED", repo, u, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
}
