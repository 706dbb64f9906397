package commands

// Attacker tests of the second hostile review (B1 to B5): each one
// reproduces a finding, and failed while the finding stood. The comment
// above each says what was found and which invariant it broke.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/crypto/bcrypt"

	"github.com/foreignlayers/fl/internal/testutil"
)

// B1. The canonical form leaves non-ASCII hosts as they are, but every Go
// HTTP client (fl's own fetcher, docker, containerd, crane, skopeo) maps
// them through IDNA (UTS #46) before it dials: "ｌｏｃａｌｈｏｓｔ"
// (fullwidth), "ⓛocalhost", "127。0。0。1" (ideographic full stops) and
// "１２７.０.０.１" are dialled as localhost and 127.0.0.1. So
//   - a --deny-url written for the canonical form is bypassed in cache
//     mode: the denied host is fetched from;
//   - in redirect mode, without --allow-private-networks, the static rules
//     hand out loopback URLs (the A3 fix covers ASCII notations only).
//
// Invariant 5: rules match one canonical form, and that form is what fl
// fetches or hands out; loopback literals and names are refused at PUT.
func TestAttack2UnicodeHostBypassesDeny(t *testing.T) {
	content := randomBytes(t, 4096)
	up := testutil.NewHostile(t, content)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(up.Server.URL, "http://"))
	s := serve(t, append(loopbackOK, "--deny-url", `^http://localhost:`+port+`/`, "--deny-url", `^http://127\.0\.0\.1:`+port+`/`)...)
	repo := "attack2/idna"
	if st := uploadBlob(t, s.addr, repo, testConfig); st != http.StatusCreated {
		t.Fatalf("config upload: %d", st)
	}
	for i, host := range []string{"ｌｏｃａｌｈｏｓｔ", "ⓛocalhost", "１２７.０.０.１", "127。0。0。1"} {
		u := "http://" + host + ":" + port + testutil.HostileOK
		m := manifestJSON(t, configDesc(), foreign(content, u))
		status, body := putManifest(t, s.addr, repo, fmt.Sprint("t", i), string(types.DockerManifestSchema2), m)
		if status != http.StatusBadRequest {
			t.Errorf("PUT with %s under --deny-url ^http://localhost:%s/ and ^http://127\\.0\\.0\\.1:%s/: %d %s, want 400", u, port, port, status, body)
		}
	}
	before := up.Requests(testutil.HostileOK)
	resp, body, _ := blob(t, http.MethodGet, s.addr, repo, testutil.Sha256(content))
	if n := up.Requests(testutil.HostileOK); n > before || resp.StatusCode == http.StatusOK {
		t.Errorf("blob GET: %d (%d bytes); the denied host served %d requests", resp.StatusCode, len(body), n-before)
	}
}

// B2. Mid-body failover blames the wrong URL. A repository declares the
// right digest and size at [evil, honest]: evil sends half the size of
// wrong bytes and drops the connection; the fetch goes on at honest with a
// Range request; the whole does not verify, and the mismatch is recorded
// against honest, the URL that served only the (correct) tail. The bad-URL
// memory is keyed by digest, size and that one URL, so for 10 minutes
// every other repository that declares the same layer at honest is refused
// it without a fetch. Invariant 3: "one repository's wrong descriptor
// cannot deny another's layer".
func TestAttack2FailoverBlamesHonestURL(t *testing.T) {
	content := randomBytes(t, 256<<10)
	honest := testutil.NewHostile(t, content)
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(content)))
		w.WriteHeader(http.StatusOK)
		half := bytes.Clone(content[:len(content)/2])
		for i := range half {
			half[i] ^= 0xff
		}
		_, _ = w.Write(half)
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // the connection drops part way
	}))
	t.Cleanup(evil.Close)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(evil.URL, "http://"))
	evilURL := "http://localhost:" + port + "/layer"

	s := serve(t, append([]string{"--fetch-idle-timeout", "2s"}, loopbackOK...)...)
	attacker := foreign(content, evilURL, honest.URL(testutil.HostileOK))
	victim := foreign(content, honest.URL(testutil.HostileOK))
	pushForeign(t, s.addr, "attacker/app", "1", attacker)
	pushForeign(t, s.addr, "victim/app", "1", victim)

	if g := getBlob(t, s.addr, "attacker/app", attacker.Digest); g.complete() {
		t.Fatalf("the attacker's spliced fetch completed")
	}
	g := getBlob(t, s.addr, "victim/app", victim.Digest)
	if !g.complete() || !bytes.Equal(g.body, content) {
		t.Errorf("victim/app, whose only URL serves the right bytes, after attacker/app's spliced fetch: %d, %d bytes, %v; body %q",
			g.status, len(g.body), g.err, snippet(g.body))
	}
}

// B3. Adoption is not single-flight: concurrent PUTs of one small
// manifest that declares a cached foreign layer without urls each find
// the backend without the blob and each upload the whole cached blob into
// it. A client sends a few hundred bytes per PUT; the server copies (and
// hashes, and writes under the registry's _uploads) up to --max-blob-size
// (16 GiB) per PUT. The manifest PUT itself need not succeed: adoption
// happens before the backend sees it. Invariant 8 (bounded resources) and
// SECURITY.md's "a bound on every resource".
func TestAttack2AdoptAmplification(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			const size = 8 << 20
			content := randomBytes(t, size)
			up := testutil.NewHostile(t, content)
			s := serve(t, append(append([]string{}, loopbackOK...), be.args(t)...)...)
			layer := foreign(content, up.URL(testutil.HostileOK))
			repo := "attack2/adopt"
			pushForeign(t, s.addr, repo, "1", layer)
			if g := getBlob(t, s.addr, repo, layer.Digest); !g.complete() {
				t.Fatalf("pull: %d %v", g.status, g.err)
			}
			plain := desc{MediaType: string(types.DockerLayer), Size: layer.Size, Digest: layer.Digest}
			// The config is not uploaded: every PUT is refused by the
			// backend after the adoption, and can be sent again.
			missing := desc{MediaType: string(types.DockerConfigJSON), Size: 3, Digest: testutil.Sha256([]byte("nop"))}
			m := manifestJSON(t, missing, plain)
			const n = 16
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					putManifest(t, s.addr, repo, fmt.Sprint("x", i), string(types.DockerManifestSchema2), m)
				}()
			}
			close(start)
			wg.Wait()
			uploads := strings.Count(s.stderr.String(), "stored a cached foreign layer as an ordinary blob")
			if uploads > 1 {
				t.Errorf("%d concurrent PUTs of one %d-byte manifest made the server upload the %d MiB cached layer into the backend %d times (%d MiB copied for %d bytes sent)",
					n, len(m), size>>20, uploads, uploads*size>>20, n*len(m))
			}
		})
	}
}

// B4. The GET budget's size hint is keyed by repository@reference only,
// and any 200 GET rewrites it: distribution answers a tag of a Docker
// manifest list, asked for with an Accept header that lacks the list's
// media type, with the linux/amd64 image manifest instead (a few hundred
// bytes). One such anonymous GET makes every later GET of that tag, which
// returns the whole list (up to --max-manifest-size), take a few hundred
// bytes of the budget: the "four manifests of that size fetched at once"
// bound is gone, and clients that read slowly hold a whole manifest each.
// Invariant 8.
func TestAttack2ManifestHintPoisoning(t *testing.T) {
	const maxManifest = 4 << 20 // the default, and the embedded registry's own limit
	s := serve(t)
	repo := "attack2/list"
	child := pushForeign(t, s.addr, repo, "child")
	childBody := manifestJSON(t, configDesc())
	list, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     string(types.DockerManifestList),
		"manifests": []map[string]any{{
			"mediaType": string(types.DockerManifestSchema2), "size": len(childBody), "digest": child,
			"platform": map[string]string{"architecture": "amd64", "os": "linux"},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Whitespace pads the list to most of the limit; both parsers accept it.
	list = append(list[:len(list)-1], append(bytes.Repeat([]byte(" "), maxManifest-len(list)-1024), '}')...)
	if status, body := putManifest(t, s.addr, repo, "big", string(types.DockerManifestList), list); status != http.StatusCreated {
		t.Fatalf("list PUT: %d %s", status, body)
	}
	listDigest := testutil.Sha256(list)

	// The poisoning GET: anonymous, one request.
	status, _, body := do(t, http.MethodGet, "http://"+s.addr+"/v2/"+repo+"/manifests/big", nil, "Accept", string(types.DockerManifestSchema2))
	if status != http.StatusOK || len(body) > 4096 {
		t.Fatalf("GET with Accept: schema 2 only: %d, %d bytes (want the small linux/amd64 manifest)", status, len(body))
	}

	// Readers that never read: each GET of the tag holds the whole list.
	var heapBefore runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&heapBefore)
	const stuck = 8
	for range stuck {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		_ = c.(*net.TCPConn).SetReadBuffer(4096)
		fmt.Fprintf(c, "GET /v2/%s/manifests/big HTTP/1.1\r\nHost: x\r\nAccept: %s\r\n\r\n", repo, types.DockerManifestList)
	}
	time.Sleep(2 * time.Second)
	var heapAfter runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&heapAfter)
	t.Logf("heap in use: %d MiB before the %d stuck GETs, %d MiB with them (the GET budget is 4 × %d MiB)",
		heapBefore.HeapInuse>>20, stuck, heapAfter.HeapInuse>>20, maxManifest>>20)

	// A GET of the same list by digest takes its true size: with 8 GETs of
	// the list held at once, the budget (4 such lists) must be full.
	done := make(chan int, 1)
	go func() {
		cl := &http.Client{Timeout: 5 * time.Second}
		req, _ := http.NewRequest(http.MethodGet, "http://"+s.addr+"/v2/"+repo+"/manifests/"+listDigest, nil)
		req.Header.Set("Accept", string(types.DockerManifestList))
		resp, err := cl.Do(req)
		if err != nil {
			done <- 0
			return
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK && n == int64(len(list)) {
			done <- 200
			return
		}
		done <- resp.StatusCode
	}()
	if st := <-done; st == http.StatusOK {
		t.Errorf("%d GETs of a %.1f MiB list are held at once and a ninth got through at once: the budget allows 4 (one anonymous GET with another Accept header set the tag's size hint to %d bytes)",
			stuck, float64(len(list))/(1<<20), len(body))
	}
}

// B5. At most 2 credential checks per user name wait for bcrypt, and the
// third is answered 429 at once: an attacker who keeps 2 wrong guesses at
// "admin" in flight (2 to 4 connections, one address, no credentials)
// makes every fresh login of the real admin fail with 429 for as long as
// the flood lasts (docker login: "toomanyrequests"). Invariant 8 says
// floods of guesses cannot starve other users; the user under attack is
// locked out entirely.
func TestAttack2AdmissionLocksOutUser(t *testing.T) {
	if testing.Short() {
		t.Skip("floods for a few seconds")
	}
	p := filepath.Join(t.TempDir(), "htpasswd")
	h, err := bcrypt.GenerateFromPassword([]byte("adminpw"), 10)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("admin:"+string(h)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := serve(t, "--htpasswd", p)
	flood := floodGuesses(s.addr, 4, func(guess string) (string, string) { return "admin", guess })
	time.Sleep(time.Second)
	var statuses []int
	ok := false
	for range 10 {
		st, _, _ := do(t, http.MethodGet, "http://"+s.addr+"/auth/token?service=fl&scope=repository:app:push,pull", nil, "Authorization", basicAuth("admin", "adminpw"))
		statuses = append(statuses, st)
		if st == http.StatusOK {
			ok = true
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	guesses := flood()
	// docker login tries once: its first try must not be refused.
	if !ok || statuses[0] == http.StatusTooManyRequests {
		t.Errorf("the admin's login (token request with the right password, tried up to 10 times over 2 s) while 4 connections guess at \"admin\" (%d guesses): %v", guesses, statuses)
	}
}
