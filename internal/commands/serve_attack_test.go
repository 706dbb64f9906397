package commands

// Attacker tests: each one reproduces a finding (A1 to A8) of the first
// hostile review of fl serve, and failed while the finding stood. The
// comment above each says what was found and which invariant it broke.

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/crypto/bcrypt"

	"github.com/foreignlayers/fl/internal/testutil"
)

// A1. A manifest whose JSON has a type mismatch in a field the front reads
// but the backend ignores ("blobs" in an image manifest, "subject" as a
// number) is not parsed by the front, so none of its descriptors is vetted:
// a file:// URL, a negative size and an unverifiable digest are stored.
// Invariant 5: every descriptor with urls is checked; refused at PUT
// with 400.
func TestAttackUnparsableManifestSkipsVet(t *testing.T) {
	s := serve(t, "--allow-http", "--deny-url", `^https?://evil\.example/`)
	repo := "attack/vet"
	if st := uploadBlob(t, s.addr, repo, testConfig); st != http.StatusCreated {
		t.Fatalf("config upload: %d", st)
	}
	bad := []desc{
		{MediaType: "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", Size: -5, Digest: testutil.Sha256([]byte("x")), URLs: []string{"file:///etc/passwd"}},
		{MediaType: "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", Size: 1, Digest: "sha512:" + strings.Repeat("ab", 64), URLs: []string{"http://evil.example/x"}},
	}
	for _, trick := range []string{`"blobs":"x"`, `"subject":7`} {
		m := manifestJSON(t, configDesc(), bad...)
		m = append(m[:len(m)-1], []byte(","+trick+"}")...)
		status, body := putManifest(t, s.addr, repo, "t", string(types.DockerManifestSchema2), m)
		if status != http.StatusBadRequest {
			t.Errorf("manifest with %s, a file:// URL, a negative size and a sha512 digest with urls: PUT %d %s, want 400 MANIFEST_INVALID", trick, status, body)
		}
	}
}

// A2. The canonical form keeps a port with leading zeros ("080",
// "015002"), which every HTTP client dials as the plain port: a
// --deny-url written for the canonical form is bypassed, and the URL is
// fetched. Invariant 5: rules match a canonical URL form, default port
// dropped.
func TestAttackLeadingZeroPortBypassesDeny(t *testing.T) {
	content := randomBytes(t, 4096)
	up := testutil.NewHostile(t, content)
	ok := up.URL(testutil.HostileOK) // http://localhost:PORT/ok
	_, port, _ := net.SplitHostPort(strings.TrimSuffix(strings.TrimPrefix(ok, "http://"), testutil.HostileOK))
	s := serve(t, append(loopbackOK, "--deny-url", `^http://localhost:`+port+`/`)...)
	repo := "attack/port"
	if st := uploadBlob(t, s.addr, repo, testConfig); st != http.StatusCreated {
		t.Fatalf("config upload: %d", st)
	}
	for _, u := range []string{ok, "http://localhost:0" + port + testutil.HostileOK} {
		m := manifestJSON(t, configDesc(), foreign(content, u))
		status, body := putManifest(t, s.addr, repo, "t", string(types.DockerManifestSchema2), m)
		if status != http.StatusBadRequest {
			t.Errorf("PUT with %s under --deny-url ^http://localhost:%s/: %d %s, want 400", u, port, status, body)
		}
	}
	if n := up.Requests(testutil.HostileOK); n != 0 {
		t.Fatalf("denied host already contacted %d times", n)
	}
	resp, body, _ := blob(t, http.MethodGet, s.addr, repo, testutil.Sha256(content))
	if n := up.Requests(testutil.HostileOK); n != 0 || resp.StatusCode == http.StatusOK {
		t.Errorf("blob GET: %d (%d bytes); the denied host served %d requests", resp.StatusCode, len(body), n)
	}
}

// A3. Without --allow-private-networks, the static rules miss IPv4
// literals in the forms every libc accepts (2130706433, 0x7f000001,
// 0177.0.0.1, 127.1, 0): redirect mode hands them out, and the client
// (curl, or any getaddrinfo user) connects to its own loopback.
// Invariant 5 / SERVE.md: the static rules decide which URL is handed
// out; loopback literals are refused at PUT.
func TestAttackRedirectLoopbackIPv4Forms(t *testing.T) {
	s := serve(t, "--allow-http", "--foreign", "redirect")
	repo := "attack/literal"
	if st := uploadBlob(t, s.addr, repo, testConfig); st != http.StatusCreated {
		t.Fatalf("config upload: %d", st)
	}
	// Other IPv4 notations, and (B1 of the second review) hosts every Go
	// client maps to loopback: full-width letters and digits, other dots.
	for _, host := range []string{"2130706433", "0x7f000001", "0177.0.0.1", "127.1", "0", "ｌｏｃａｌｈｏｓｔ", "１２７.０.０.１", "127。0。0。1", "ⓛocalhost"} {
		content := []byte("literal " + host)
		u := "http://" + host + ":9/blob"
		m := manifestJSON(t, configDesc(), foreign(content, u))
		status, _ := putManifest(t, s.addr, repo, "t", string(types.DockerManifestSchema2), m)
		if status != http.StatusBadRequest {
			resp, _, _ := blob(t, http.MethodGet, s.addr, repo, testutil.Sha256(content))
			t.Errorf("%s (loopback) accepted at PUT (%d); blob GET answers %d Location %q", u, status, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
}

// A4. A manifest PUT without Content-Length is charged the whole
// --max-manifest-size for as long as its body takes (up to a minute): 8
// connections that trickle a byte now and then fill the budget, and every
// manifest GET of every client gets 429. Invariant 8 bounds manifest
// memory; it must not turn into a pull outage any client can cause.
func TestAttackSlowManifestPutsStarvePulls(t *testing.T) {
	s := serve(t, "--fetch-wait", "2s")
	repo := "attack/slow"
	pushForeign(t, s.addr, repo, "1") // no layers: an ordinary manifest
	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer func() { close(stop); wg.Wait() }()
	for i := 0; i < 8; i++ {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer c.Close()
			fmt.Fprintf(c, "PUT /v2/%s/manifests/slow%d HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n", repo, i)
			tk := time.NewTicker(time.Second)
			defer tk.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tk.C:
					fmt.Fprint(c, "1\r\n \r\n")
				}
			}
		}(i)
	}
	time.Sleep(500 * time.Millisecond)
	status, _, body := do(t, http.MethodGet, "http://"+s.addr+"/v2/"+repo+"/manifests/1", nil, "Accept", string(types.DockerManifestSchema2))
	if status != http.StatusOK {
		t.Errorf("manifest GET while 8 connections trickle manifest bodies: %d %s, want 200", status, body)
	}
}

// A5. Room for a fetch is made (by evicting whole blobs) when the fetch
// is reserved, before its URL has answered: a descriptor of
// --cache-max-size bytes at a URL that answers 404 empties the cache of
// every other repository's layers, though nothing was fetched. Invariant
// 6: LRU eviction to make room for a blob; a fetch that cannot fit is
// refused before a byte is read (here nothing is ever read).
func TestAttackFailedFetchEmptiesCache(t *testing.T) {
	content := randomBytes(t, 64<<10)
	up := testutil.NewHostile(t, content)
	s := serve(t, append(loopbackOK, "--cache-max-size", "1MiB", "--max-blob-size", "1MiB")...)
	victim := foreign(content, up.URL(testutil.HostileOK))
	pushForeign(t, s.addr, "victim/app", "1", victim)
	if g := getBlob(t, s.addr, "victim/app", victim.Digest); !g.complete() {
		t.Fatalf("victim pull: %d %v", g.status, g.err)
	}
	if n := len(cachedBlobs(t, s.dataDir)); n != 1 {
		t.Fatalf("%d cached blobs, want 1", n)
	}
	huge := desc{MediaType: victim.MediaType, Size: 1 << 20, Digest: testutil.Sha256([]byte("never served")), URLs: []string{up.URL(testutil.HostileNotFound)}}
	pushForeign(t, s.addr, "attacker/x", "1", huge)
	if g := getBlob(t, s.addr, "attacker/x", huge.Digest); g.status != http.StatusNotFound {
		t.Fatalf("attacker pull: %d, want 404", g.status)
	}
	if n := len(cachedBlobs(t, s.dataDir)); n != 1 {
		t.Errorf("after a fetch that read nothing (404), the cache holds %d blobs: the victim's layer was evicted for it", n)
	}
}

// B6. A URL that answers with the declared size and then sends other
// bytes: the fetch fails verification, and the layers that would have
// made its room were only marked, never evicted.
func TestAttackUnverifiedFetchEvictsNothing(t *testing.T) {
	content := randomBytes(t, 64<<10)
	up := testutil.NewHostile(t, content)
	s := serve(t, append(loopbackOK, "--cache-max-size", "1MiB", "--max-blob-size", "1MiB")...)
	victim := foreign(content, up.URL(testutil.HostileOK))
	pushForeign(t, s.addr, "victim/app", "1", victim)
	if g := getBlob(t, s.addr, "victim/app", victim.Digest); !g.complete() {
		t.Fatalf("victim pull: %d %v", g.status, g.err)
	}
	big := randomBytes(t, 1<<20)
	bad := testutil.NewHostile(t, big)
	huge := foreign(big, bad.URL(testutil.HostileFlip))
	pushForeign(t, s.addr, "attacker/x", "1", huge)
	if g := getBlob(t, s.addr, "attacker/x", huge.Digest); g.complete() {
		t.Fatal("attacker pull completed with bytes that do not verify")
	}
	if n := len(cachedBlobs(t, s.dataDir)); n != 1 {
		t.Errorf("after a fetch that failed verification, the cache holds %d blobs: the victim's layer was evicted for it", n)
	}
}

// A6. Bad credentials wait in one FIFO queue for bcrypt slots
// (GOMAXPROCS/2), and so does a good user's first check: the good user
// waits behind every flooding connection. Invariant 8: bad-credential
// floods do not starve good users.
func TestAttackCredentialFloodStarvesGoodUser(t *testing.T) {
	if testing.Short() {
		t.Skip("floods for a few seconds")
	}
	p := filepath.Join(t.TempDir(), "htpasswd")
	var lines []string
	for _, u := range []string{"alice", "bob"} {
		h, err := bcrypt.GenerateFromPassword([]byte(u+"pw"), 10) // htpasswd -B's default cost
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, u+":"+string(h))
	}
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := serve(t, "--htpasswd", p)
	flood := floodGuesses(s.addr, 100, func(guess string) (string, string) { return "alice", guess })
	time.Sleep(2 * time.Second)
	// One bcrypt now, under the flood's load (and -race): without bounds
	// the good check waits behind about 100 of them; with them, a few.
	one := bcryptTime(t)
	start := time.Now()
	status, _, _ := do(t, http.MethodGet, "http://"+s.addr+"/v2/", nil, "Authorization", basicAuth("bob", "bobpw"))
	took := time.Since(start)
	guesses := flood()
	if status != http.StatusOK || took > 10*one {
		t.Errorf("good user's first request during a flood of 100 connections with bad passwords (%d guesses): %d after %v (one bcrypt is ~%v)", guesses, status, took.Round(time.Millisecond), one)
	}
}

func bcryptTime(t *testing.T) time.Duration {
	h, _ := bcrypt.GenerateFromPassword([]byte("x"), 10)
	start := time.Now()
	_ = bcrypt.CompareHashAndPassword(h, []byte("y"))
	return time.Since(start).Round(time.Millisecond)
}

// A7. Two manifests of one repository that declare one digest with two
// sizes, PUT at once, both pass the consistency check (the index has
// neither yet) and both are stored by the backend; one client is then told
// 500 "stored, but not recorded; push it again", and the backend serves a
// manifest whose size the front refused. SERVE.md: a size that disagrees
// with other manifests of the repository makes the PUT 400, and it leaves
// nothing behind.
func TestAttackConcurrentSizeConflictStored(t *testing.T) {
	s := serve(t, loopbackOK...)
	repo := "attack/race"
	if st := uploadBlob(t, s.addr, repo, testConfig); st != http.StatusCreated {
		t.Fatalf("config upload: %d", st)
	}
	for i := 0; i < 5; i++ {
		d := testutil.Sha256([]byte(fmt.Sprint("race", i)))
		var status [2]int
		var wg sync.WaitGroup
		for j, size := range []int64{100, 200} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				m := manifestJSON(t, configDesc(), desc{MediaType: string(types.DockerForeignLayer), Size: size, Digest: d, URLs: []string{fmt.Sprintf("http://localhost:9/%d", size)}})
				status[j], _ = putManifest(t, s.addr, repo, fmt.Sprintf("r%d-%d", i, j), string(types.DockerManifestSchema2), m)
			}()
		}
		wg.Wait()
		stored := 0
		for j := range 2 {
			if getManifest(t, s.addr, repo, fmt.Sprintf("r%d-%d", i, j)) == http.StatusOK {
				stored++
			}
		}
		if stored == 2 {
			t.Errorf("round %d: both manifests stored (PUTs answered %v) though they declare %s with sizes 100 and 200", i, status, d)
		}
	}
}

// floodGuesses sends, on conns connections reused back to back, GET /v2/
// with Basic credentials cred makes from a fresh random guess, until the
// returned stop is called; stop returns how many were sent.
func floodGuesses(addr string, conns int, cred func(guess string) (user, pass string)) (stop func() int64) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	var sent atomic.Int64
	cl := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: conns}}
	for range conns {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				b := make([]byte, 8)
				_, _ = rand.Read(b)
				req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/v2/", nil)
				req.SetBasicAuth(cred(hex.EncodeToString(b)))
				if resp, err := cl.Do(req); err == nil {
					resp.Body.Close()
					if resp.StatusCode == http.StatusTooManyRequests {
						time.Sleep(200 * time.Microsecond)
					}
				}
				sent.Add(1)
			}
		})
	}
	return func() int64 {
		close(done)
		wg.Wait()
		return sent.Load()
	}
}
