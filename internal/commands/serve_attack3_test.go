package commands

// Attacker tests of the third hostile review (C1 to C6): each one
// reproduces a finding and fails while the finding stands.

import (
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/crypto/bcrypt"

	"github.com/foreignlayers/fl/internal/testutil"
)

// C2. Two manifests of one repository that differ only in their layer
// URLs (a mirror moved and the image was pushed again) have one view V.
// The index keeps one V -> original record; deleting the older manifest
// (by digest, as any cleanup does) removes it, and RecordView never writes
// it again for the other (its _stripped record already matches, and the
// front's memo skips RecordView anyway). From then on the view's tag
// resolves to V, but GET flat/R/manifests/V is 404 MANIFEST_UNKNOWN, so
// every client that pulls the view by tag (resolve, then fetch by digest:
// containerd, docker, podman) fails, for good (a restart does not help).
func TestAttack3SharedViewForgotten(t *testing.T) {
	content := randomBytes(t, 2048)
	dataDir := t.TempDir()
	args := append([]string{"--data-dir", dataDir, "--strip-urls-prefix", "flat"}, loopbackOK...)
	s := serve(t, args...)
	repo := "attack3/shared"
	old := pushForeign(t, s.addr, repo, "old", foreign(content, "http://127.0.0.1:1/old-mirror/layer"))
	pushForeign(t, s.addr, repo, "new", foreign(content, "http://127.0.0.1:1/new-mirror/layer"))
	accept := []string{"Accept", string(types.DockerManifestSchema2)}

	// Pull the view of "new" first, then of "old": the one V -> original
	// record names the old manifest.
	st, hdr, _ := do(t, http.MethodGet, "http://"+s.addr+"/v2/flat/"+repo+"/manifests/new", nil, accept...)
	view := hdr.Get("Docker-Content-Digest")
	if st != http.StatusOK {
		t.Fatalf("view of new: %d", st)
	}
	if st, hdr, _ := do(t, http.MethodGet, "http://"+s.addr+"/v2/flat/"+repo+"/manifests/old", nil, accept...); st != http.StatusOK || hdr.Get("Docker-Content-Digest") != view {
		t.Fatalf("view of old: %d %s, want the same view %s", st, hdr.Get("Docker-Content-Digest"), view)
	}
	// The old image is deleted.
	if st, _, body := do(t, http.MethodDelete, "http://"+s.addr+"/v2/"+repo+"/manifests/"+old, nil); st != http.StatusAccepted {
		t.Fatalf("DELETE old: %d %s", st, body)
	}
	check := func(addr, when string) {
		st, hdr, _ := do(t, http.MethodHead, "http://"+addr+"/v2/flat/"+repo+"/manifests/new", nil, accept...)
		if st != http.StatusOK || hdr.Get("Docker-Content-Digest") != view {
			t.Fatalf("%s: view of new by tag: %d %s", when, st, hdr.Get("Docker-Content-Digest"))
		}
		if st, _, body := do(t, http.MethodGet, "http://"+addr+"/v2/flat/"+repo+"/manifests/"+view, nil, accept...); st != http.StatusOK {
			t.Errorf("%s: the view's tag resolves to %s, but GET by that digest: %d %s", when, view, st, strings.TrimSpace(body))
		}
	}
	check(s.addr, "after the old manifest was deleted")
	s.stop()
	s2 := serve(t, args...)
	check(s2.addr, "after a restart")
}

// attack3Htpasswd writes an htpasswd file of users whose password is
// their name followed by "pw", at htpasswd -B's default cost.
func attack3Htpasswd(t *testing.T, users ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "htpasswd")
	var lines []string
	for _, u := range users {
		h, err := bcrypt.GenerateFromPassword([]byte(u+"pw"), 10)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, u+":"+string(h))
	}
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// C1. The bcrypt gate is fair across user names, and the user name is the
// attacker's to choose: a flood whose every guess names another user
// (unknown users cost the same bcrypt, by design) puts a new name in the
// turn for each waiting check, and a good user's check waits behind every
// one of them, as in the FIFO queue that A6 replaced. Invariant 8: a flood
// of guesses delays any other user by about one bcrypt.
func TestAttack3GateFairnessRandomUserNames(t *testing.T) {
	if testing.Short() {
		t.Skip("floods for a few seconds")
	}
	s := serve(t, "--htpasswd", attack3Htpasswd(t, "alice", "bob"))
	flood := floodGuesses(s.addr, 64, func(guess string) (string, string) { return "u" + guess, "guess" })
	time.Sleep(2 * time.Second)
	one := bcryptTime(t)
	// bob logs in from another address (127.0.0.2): the gate takes turns
	// by address first, so what one address floods does not hold back
	// another's.
	other := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}).DialContext}}
	req, _ := http.NewRequest(http.MethodGet, "http://"+s.addr+"/auth/token?service=fl&scope=repository:app:pull,push", nil)
	req.SetBasicAuth("bob", "bobpw")
	start := time.Now()
	status := 0
	if resp, err := other.Do(req); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
		status = resp.StatusCode
	}
	took := time.Since(start)
	guesses := flood()
	if status != http.StatusOK || took > 10*one {
		t.Errorf("bob's login while 64 connections guess, each guess at another user name (%d guesses): %d after %v (one bcrypt is ~%v)", guesses, status, took.Round(time.Millisecond), one)
	}
}

// C3. A credential check waits for bcrypt with its whole request held: an
// Authorization header of up to Go's default 1 MiB (http.Server's
// MaxHeaderBytes is not set), decoded again into user and password, and
// the user name kept as the gate's queue key. bcrypt reads 72 bytes of a
// password and no user name is that long, yet 256 such checks may wait
// per client address and 4096 in all, for as long as the queue takes
// (about one bcrypt each): one address without credentials holds hundreds
// of MiB, sixteen hold gigabytes. Invariant 8: memory is bounded.
func TestAttack3WaitingChecksHoldHugeHeaders(t *testing.T) {
	if testing.Short() {
		t.Skip("holds a few hundred MiB for a few seconds")
	}
	s := serve(t, "--htpasswd", attack3Htpasswd(t, "alice"))
	const n = 96
	big := strings.Repeat("A", 700<<10) // user name; the header is ~0.9 MiB
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var wg sync.WaitGroup
	conns := make([]net.Conn, 0, n)
	for i := range n {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		cred := base64.StdEncoding.EncodeToString([]byte(big + fmt.Sprint(i) + ":x"))
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = fmt.Fprintf(c, "GET /v2/ HTTP/1.1\r\nHost: %s\r\nAuthorization: Basic %s\r\n\r\n", s.addr, cred)
		}()
	}
	wg.Wait()
	time.Sleep(time.Second) // headers read and parsed; most checks wait
	runtime.GC()
	var during runtime.MemStats
	runtime.ReadMemStats(&during)
	for _, c := range conns {
		c.Close()
	}
	grew := int64(during.HeapInuse) - int64(before.HeapInuse)
	if grew > 32<<20 {
		t.Errorf("%d credential checks from one address, each with a 0.9 MiB Authorization header, hold %d MiB of heap while they wait for bcrypt (256 per address and 4096 in all may wait: ~%d MiB per address, ~%d GiB in all)",
			n, grew>>20, grew*256/n>>20, grew*4096/n>>30)
	}
}

// C4. Without --htpasswd the cache admin endpoint trusts any peer on
// loopback and ignores the Host it was asked for. A web page open in a
// browser on the same machine can rebind its own name to 127.0.0.1 and
// then, same-origin, read GET /_fl/cache (every cached digest and the
// repositories that declare them) and send DELETE /_fl/cache/DIGEST; the
// requests carry Host: the page's name. (The same trust covers every
// connection a local reverse proxy or a service-mesh sidecar forwards:
// Envoy's inbound passthrough connects from 127.0.0.6.) SECURITY.md: the
// endpoint answers only clients on loopback.
func TestAttack3AdminDNSRebinding(t *testing.T) {
	content := randomBytes(t, 4096)
	up := testutil.NewHostile(t, content)
	maddr := testutil.FreeAddr(t)
	s := serve(t, append([]string{"--metrics-addr", maddr}, loopbackOK...)...)
	l := foreign(content, up.URL(testutil.HostileOK))
	pushForeign(t, s.addr, "secret-team/internal-app", "1", l)
	if resp, _, err := blob(t, http.MethodGet, s.addr, "secret-team/internal-app", l.Digest); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET the layer: %v", err)
	}
	_, port, _ := net.SplitHostPort(maddr)
	rebound := func(method, path string) (int, string) {
		req, _ := http.NewRequest(method, "http://"+maddr+path, nil)
		req.Host = "rebind.attacker.example:" + port // what the page's browser sends
		req.Header.Set("Origin", "http://rebind.attacker.example:"+port)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if st, body := rebound(http.MethodGet, "/_fl/cache"); st == http.StatusOK {
		t.Errorf("GET /_fl/cache with Host: rebind.attacker.example: %d, and the page reads %s", st, strings.TrimSpace(body))
	}
	if st, body := rebound(http.MethodDelete, "/_fl/cache/"+l.Digest); st == http.StatusNoContent {
		t.Errorf("DELETE /_fl/cache/DIGEST with Host: rebind.attacker.example: %d %s (the layer is gone from the cache)", st, body)
	}
	// fl cache, on the host, still reaches it.
	if st, _, _ := do(t, http.MethodGet, "http://"+maddr+"/_fl/cache", nil); st != http.StatusOK {
		t.Errorf("GET /_fl/cache from loopback, for 127.0.0.1: %d", st)
	}
}

// C5. The view decides that a manifest is an index when its body merely
// has a "manifests" member (isIndex: hasManifests), whatever its
// Content-Type and mediaType say, and then rewrites only the entries of
// "manifests". A schema 2 image manifest pushed with an extra
// "manifests":[] is stored by the backend (unknown members are ignored)
// and served through the view unchanged: foreign type, urls and all. So a
// pusher makes every node that pulls through the view (containerd,
// podman, skopeo: the clients the view exists for) fetch the URL itself,
// past fl's cache and its dial-time guard (the PUT checks names
// statically; the node resolves them). SERVE.md: PREFIX/R is R with no
// urls; each descriptor with urls loses them.
func TestAttack3ViewKeepsURLsOfManifestWithManifestsMember(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			content := randomBytes(t, 1024)
			s := serve(t, append(append([]string{"--strip-urls-prefix", "flat"}, loopbackOK...), be.args(t)...)...)
			repo := "attack3/members"
			if st := uploadBlob(t, s.addr, repo, testConfig); st != http.StatusCreated {
				t.Fatalf("config upload: %d", st)
			}
			m := manifestJSON(t, configDesc(), foreign(content, "http://127.0.0.1:1/layer"))
			m = []byte(strings.Replace(string(m), `{"schemaVersion":2,`, `{"schemaVersion":2,"manifests":[],`, 1))
			if st, body := putManifest(t, s.addr, repo, "1", string(types.DockerManifestSchema2), m); st != http.StatusCreated {
				t.Fatalf("PUT: %d %s", st, body)
			}
			st, hdr, view := do(t, http.MethodGet, "http://"+s.addr+"/v2/flat/"+repo+"/manifests/1", nil, "Accept", string(types.DockerManifestSchema2))
			if st != http.StatusOK || strings.Contains(view, `"urls"`) || strings.Contains(view, "foreign") {
				t.Errorf("the view of an image manifest (Content-Type %s) with an empty \"manifests\" member: %d, urls kept: %s", hdr.Get("Content-Type"), st, view)
			}
		})
	}
}

// C6. The access log names the wrong repository for every request under
// the view: ServeHTTP's deferred logAccess reads the route variable that
// inView rewrote to the original, so a GET of flat/R is logged as a GET
// of R, and a refused PUT to flat/R as a refused PUT to R (someone "tried
// to overwrite R"). An audit trail that cannot tell the view's clients
// from R's. DEPLOY.md: the line carries the request's repository.
func TestAttack3AccessLogViewRepository(t *testing.T) {
	s := serve(t, append([]string{"--strip-urls-prefix", "flat", "--access-log", "--log-format", "json"}, loopbackOK...)...)
	repo := "attack3/logged"
	pushForeign(t, s.addr, repo, "1", foreign(randomBytes(t, 512), "http://127.0.0.1:1/l"))
	do(t, http.MethodGet, "http://"+s.addr+"/v2/flat/"+repo+"/manifests/1", nil, "Accept", string(types.DockerManifestSchema2))
	do(t, http.MethodPut, "http://"+s.addr+"/v2/flat/"+repo+"/manifests/2", []byte("{}"), "Content-Type", string(types.DockerManifestSchema2))
	s.stop()
	seen := 0
	for _, a := range accessLines(t, s.stderr.String()) {
		if a.Ref == "1" && a.Method == http.MethodGet || a.Ref == "2" {
			seen++
			if a.Repository != "flat/"+repo {
				t.Errorf("%s of flat/%s:%s (%d) is logged with repository %q", a.Method, repo, a.Ref, a.Status, a.Repository)
			}
		}
	}
	if seen != 2 {
		t.Fatalf("found %d of the 2 access lines", seen)
	}
}
