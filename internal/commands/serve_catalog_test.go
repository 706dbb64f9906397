package commands

import (
	"encoding/json"
	"net/http"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/crane"

	"github.com/foreignlayers/fl/internal/testutil"
)

// Invariant 11: /v2/_catalog lists the repositories, with n and last
// pagination and a Link header; HEAD and GET of a foreign blob send the
// same headers, before and after it is cached.

// catalogPage GETs one catalog page and returns its repositories and the
// target of its Link rel="next" ("" if none).
func catalogPage(t *testing.T, addr, target string) ([]string, string) {
	t.Helper()
	status, h, body := do(t, http.MethodGet, "http://"+addr+target, nil)
	if status != http.StatusOK {
		t.Fatalf("GET %s: %d %.300s", target, status, body)
	}
	var c struct {
		Repositories []string `json:"repositories"`
	}
	if err := json.Unmarshal([]byte(body), &c); err != nil {
		t.Fatalf("GET %s: %v: %.300s", target, err, body)
	}
	next := ""
	if link := h.Get("Link"); link != "" {
		l, r, ok := strings.Cut(link, ">")
		if !ok || !strings.HasPrefix(l, "<") || !strings.Contains(r, `rel="next"`) {
			t.Fatalf("GET %s: Link %q is not <URL>; rel=\"next\"", target, link)
		}
		next = strings.TrimPrefix(l, "<")
		if i := strings.Index(next, "/v2/"); i > 0 { // absolute: keep the path
			next = next[i:]
		}
	}
	return c.Repositories, next
}

func TestServeCatalog(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			content := []byte("catalogued layer")
			up := testutil.NewHostile(t, content)
			s := serve(t, append(loopbackOK, be.args(t)...)...)
			want := []string{"cat/a", "cat/b", "cat/c"}
			for _, repo := range want {
				pushForeign(t, s.addr, repo, "1", foreign(content, up.URL(testutil.HostileOK)))
			}

			if all, next := catalogPage(t, s.addr, "/v2/_catalog"); !slices.Equal(all, want) || next != "" {
				t.Errorf("/v2/_catalog: %v, next %q; want %v", all, next, want)
			}
			if all, _ := catalogPage(t, s.addr, "/v2/_catalog?n=100"); !slices.Equal(all, want) {
				t.Errorf("?n=100: %v, want %v", all, want)
			}
			first, next := catalogPage(t, s.addr, "/v2/_catalog?n=2")
			if !slices.Equal(first, want[:2]) || next == "" {
				t.Fatalf("?n=2: %v, Link next %q; want %v and a Link", first, next, want[:2])
			}
			if !strings.Contains(next, "last=") {
				t.Errorf("Link next %q has no last=", next)
			}
			if rest, after := catalogPage(t, s.addr, next); !slices.Equal(rest, want[2:]) || after != "" {
				t.Errorf("%s: %v, next %q; want %v and no Link", next, rest, after, want[2:])
			}
			if rest, _ := catalogPage(t, s.addr, "/v2/_catalog?n=2&last=cat/a"); !slices.Equal(rest, want[1:]) {
				t.Errorf("?n=2&last=cat/a: %v, want %v", rest, want[1:])
			}

			// A client library (crane's, paging as it likes) and the crane
			// program.
			if repos, err := crane.Catalog(s.addr); err != nil || !slices.Equal(repos, want) {
				t.Errorf("crane.Catalog: %v %v", repos, err)
			}
			t.Run("crane", func(t *testing.T) {
				out, err := exec.Command(craneTool(t), "catalog", "--insecure", s.addr).CombinedOutput()
				if got := strings.Fields(string(out)); err != nil || !slices.Equal(got, want) {
					t.Errorf("crane catalog: %v\n%s", err, out)
				}
			})
		})
	}
}

// craneTool finds the crane program: on PATH, or in the repository's
// .tools where .ci/run installs it; missing, the test is skipped (failed
// under FL_E2E=require).
func craneTool(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("crane"); err == nil {
		return p
	}
	_, here, _, _ := runtime.Caller(0)
	return testutil.NeedBinary(t, filepath.Join(filepath.Dir(here), "..", "..", ".tools", "crane"))
}

// HEAD and GET of a foreign blob, before and after it is cached, send the
// same headers.
func TestServeCatalogBlobHeaders(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			content := randomBytes(t, 100<<10)
			up := testutil.NewHostile(t, content)
			s := serve(t, append(loopbackOK, be.args(t)...)...)
			d := foreign(content, up.URL(testutil.HostileOK))
			pushForeign(t, s.addr, "hdr/app", "1", d)

			names := []string{"Content-Length", "Docker-Content-Digest", "Content-Type", "ETag", "Accept-Ranges"}
			var first http.Header
			for _, step := range []string{"HEAD uncached", "GET uncached", "HEAD cached", "GET cached"} {
				method, _, _ := strings.Cut(step, " ")
				resp, body, err := blob(t, method, s.addr, "hdr/app", d.Digest)
				if resp.StatusCode != 200 || err != nil || method == http.MethodGet && len(body) != len(content) {
					t.Fatalf("%s: %d, %d bytes, %v", step, resp.StatusCode, len(body), err)
				}
				for _, n := range names {
					if resp.Header.Get(n) == "" {
						t.Errorf("%s: no %s header", step, n)
					}
				}
				if first == nil {
					first = resp.Header
					if first.Get("Docker-Content-Digest") != d.Digest || first.Get("Content-Length") != "102400" {
						t.Errorf("%s: digest %q, length %q", step, first.Get("Docker-Content-Digest"), first.Get("Content-Length"))
					}
					continue
				}
				for _, n := range names {
					if resp.Header.Get(n) != first.Get(n) {
						t.Errorf("%s: %s %q, but HEAD uncached sent %q", step, n, resp.Header.Get(n), first.Get(n))
					}
				}
			}
			if n := up.Requests(testutil.HostileOK); n != 1 {
				t.Errorf("the layer was fetched %d times, want once", n)
			}
		})
	}
}
