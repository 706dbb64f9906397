package commands

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foreignlayers/fl/internal/testutil"
)

// Invariant 3: a repository's foreign blob responses are decided by its
// own descriptor. Another repository that declares the same digest (with
// another size, other URLs) cannot make it receive wrong bytes, cannot
// deny it the layer, and cannot read its cached bytes; repositories whose
// descriptors agree still share one fetch.

// got is one blob response, whole.
type got struct {
	status int
	body   []byte
	err    error
}

// complete reports whether the client received a whole 200 body.
func (g got) complete() bool { return g.status == http.StatusOK && g.err == nil }

func getBlob(t *testing.T, addr, repo, digest string) got {
	resp, body, err := blob(t, http.MethodGet, addr, repo, digest)
	return got{resp.StatusCode, body, err}
}

// waitRequests waits (at most 5 s) until path of h has had n requests.
func waitRequests(t *testing.T, h *testutil.Hostile, path string, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for h.Requests(path) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d requests after 5 s, want %d", path, h.Requests(path), n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// (a) good/app declares D at a URL that serves D; evil/app declares D with
// 100 bytes more, at a URL that trickles other bytes. Whoever asks first,
// and however often both ask at once, good/app's complete bodies verify,
// and evil/app never completes with bytes other than D's.
func TestServeIsolationWrongBytes(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			const size = 256 << 10
			content := randomBytes(t, size)
			wrong := randomBytes(t, size+100)
			good := testutil.NewHostile(t, content)
			evil := testutil.NewHostile(t, wrong)
			trickle := testutil.Trickle(16<<10, 30*time.Millisecond) // about half a second
			s := serve(t, append(loopbackOK, be.args(t)...)...)
			gd := foreign(content, good.URL(trickle))
			ed := gd
			ed.Size, ed.URLs = size+100, []string{evil.URL(trickle)}
			pushForeign(t, s.addr, "good/app", "1", gd)
			pushForeign(t, s.addr, "evil/app", "1", ed)

			var mu sync.Mutex
			check := func(repo string, g got) {
				mu.Lock()
				defer mu.Unlock()
				switch {
				case repo == "good/app" && g.complete() && testutil.Sha256(g.body) != gd.Digest:
					t.Errorf("good/app received a complete 200 body of %d bytes that is not %s", len(g.body), gd.Digest)
				case repo == "evil/app" && g.complete() && !bytes.Equal(g.body, content):
					t.Errorf("evil/app received a complete 200 body of %d bytes that is not %s", len(g.body), gd.Digest)
				}
			}
			// Evil first: its fetch is in flight when good/app asks.
			done := make(chan got)
			go func() { done <- getBlob(t, s.addr, "evil/app", gd.Digest) }()
			waitRequests(t, evil, trickle, 1)
			g := getBlob(t, s.addr, "good/app", gd.Digest)
			check("good/app", g)
			check("evil/app", <-done)
			if !g.complete() {
				t.Errorf("good/app, asking while evil/app's fetch was in flight: %d, %d bytes, %v", g.status, len(g.body), g.err)
			}

			// Then both at once, a few times; good/app may or may not be
			// cached by now.
			var wg sync.WaitGroup
			for range 8 {
				for _, repo := range []string{"evil/app", "good/app"} {
					wg.Add(1)
					go func() {
						defer wg.Done()
						check(repo, getBlob(t, s.addr, repo, gd.Digest))
					}()
				}
			}
			wg.Wait()
			if g := getBlob(t, s.addr, "good/app", gd.Digest); !g.complete() || !bytes.Equal(g.body, content) {
				t.Errorf("good/app after the storm: %d, %d bytes, %v", g.status, len(g.body), g.err)
			}
		})
	}
}

// (a'), good first: evil/app asks while good/app's fetch is in flight and
// must not complete (its descriptor promises 100 bytes more than D has).
func TestServeIsolationJoinLarger(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			const size = 256 << 10
			content := randomBytes(t, size)
			good := testutil.NewHostile(t, content)
			evil := testutil.NewHostile(t, append(bytes.Clone(content), randomBytes(t, 100)...))
			trickle := testutil.Trickle(16<<10, 30*time.Millisecond)
			s := serve(t, append(loopbackOK, be.args(t)...)...)
			gd := foreign(content, good.URL(trickle))
			ed := gd
			ed.Size, ed.URLs = size+100, []string{evil.URL(testutil.HostileOK)}
			pushForeign(t, s.addr, "good/app", "1", gd)
			pushForeign(t, s.addr, "evil/app", "1", ed)

			done := make(chan got)
			go func() { done <- getBlob(t, s.addr, "good/app", gd.Digest) }()
			waitRequests(t, good, trickle, 1)
			e := getBlob(t, s.addr, "evil/app", gd.Digest)
			if e.complete() && !bytes.Equal(e.body, content) {
				t.Errorf("evil/app completed with %d bytes that are not %s", len(e.body), gd.Digest)
			}
			if g := <-done; !g.complete() || !bytes.Equal(g.body, content) {
				t.Errorf("good/app: %d, %d bytes, %v", g.status, len(g.body), g.err)
			}
			// D is cached now, at its own size: evil/app's size is not D's.
			if e := getBlob(t, s.addr, "evil/app", gd.Digest); e.complete() && !bytes.Equal(e.body, content) {
				t.Errorf("evil/app from the cache: complete with %d bytes that are not %s", len(e.body), gd.Digest)
			}
		})
	}
}

// (b) evil/app declares good/app's digest with a wrong size at good/app's
// own URL: evil/app's pull fails, and good/app's pull right after still
// succeeds (what was learnt about the URL under evil/app's descriptor does
// not apply to good/app's). Three rounds, a fresh layer each, sizes one
// byte over and under.
func TestServeIsolationBadURLMemory(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			s := serve(t, append(loopbackOK, be.args(t)...)...)
			for i, delta := range []int64{+1, -1, +1000} {
				content := randomBytes(t, 32<<10)
				up := testutil.NewHostile(t, content)
				gd := foreign(content, up.URL(testutil.HostileOK))
				ed := gd
				ed.Size += delta
				tag := fmt.Sprint(i)
				pushForeign(t, s.addr, "good/app", tag, gd)
				pushForeign(t, s.addr, "evil/app", tag, ed)

				if e := getBlob(t, s.addr, "evil/app", gd.Digest); e.complete() {
					t.Errorf("round %d: evil/app, declaring size %d for %d bytes, got a complete 200 (%d bytes)", i, ed.Size, gd.Size, len(e.body))
				}
				g := getBlob(t, s.addr, "good/app", gd.Digest)
				if !g.complete() || !bytes.Equal(g.body, content) {
					t.Errorf("round %d: good/app right after evil/app's failure: %d %.200s %v", i, g.status, g.body, g.err)
				}
			}
		})
	}
}

// (c) good/app's layer is cached. evil/app declares the same digest and
// size with URLs that do not serve it (404, connection refused): it does
// not get the cached bytes. evil/ok declares it with a URL that does serve
// those bytes: it does (the rule is about proof, not about sharing).
func TestServeIsolationCachedBytes(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			content := randomBytes(t, 64<<10)
			good := testutil.NewHostile(t, content)
			other := testutil.NewHostile(t, content)
			s := serve(t, append(loopbackOK, be.args(t)...)...)
			gd := foreign(content, good.URL(testutil.HostileOK))
			pushForeign(t, s.addr, "good/app", "1", gd)
			if g := getBlob(t, s.addr, "good/app", gd.Digest); !g.complete() || !bytes.Equal(g.body, content) {
				t.Fatalf("good/app: %d %v", g.status, g.err)
			}
			for repo, url := range map[string]string{
				"evil/notfound": other.URL(testutil.HostileNotFound),
				"evil/refused":  testutil.RefusedURL(t, "/layer"),
			} {
				ed := gd
				ed.URLs = []string{url}
				pushForeign(t, s.addr, repo, "1", ed)
				e := getBlob(t, s.addr, repo, gd.Digest)
				if e.status == http.StatusOK && bytes.Equal(e.body, content) {
					t.Errorf("%s, whose URL %s never served %s, received the cached bytes", repo, url, gd.Digest)
				}
				if e.status == http.StatusOK && e.err == nil {
					t.Errorf("%s: a complete 200 of %d bytes", repo, len(e.body))
				}
			}
			od := gd
			od.URLs = []string{other.URL(testutil.HostileOK)}
			pushForeign(t, s.addr, "evil/ok", "1", od)
			if e := getBlob(t, s.addr, "evil/ok", gd.Digest); !e.complete() || !bytes.Equal(e.body, content) {
				t.Errorf("evil/ok, whose own URL serves %s: %d, %d bytes, %v", gd.Digest, e.status, len(e.body), e.err)
			}
			if g := getBlob(t, s.addr, "good/app", gd.Digest); !g.complete() || !bytes.Equal(g.body, content) {
				t.Errorf("good/app afterwards: %d %v", g.status, g.err)
			}
			if n := good.Requests(testutil.HostileOK); n != 1 {
				t.Errorf("good/app's URL was fetched %d times, want once (then the cache)", n)
			}
		})
	}
}

// (d) Two repositories with identical descriptors share one fetch, and a
// third, asking afterwards, is served from the cache.
func TestServeIsolationSharing(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			content := randomBytes(t, 256<<10)
			up := testutil.NewHostile(t, content)
			trickle := testutil.Trickle(16<<10, 30*time.Millisecond)
			s := serve(t, append(loopbackOK, be.args(t)...)...)
			d := foreign(content, up.URL(trickle))
			for _, repo := range []string{"share/a", "share/b", "share/c"} {
				pushForeign(t, s.addr, repo, "1", d)
			}
			done := make(chan got)
			go func() { done <- getBlob(t, s.addr, "share/a", d.Digest) }()
			waitRequests(t, up, trickle, 1)
			b := getBlob(t, s.addr, "share/b", d.Digest)
			a := <-done
			c := getBlob(t, s.addr, "share/c", d.Digest)
			for repo, g := range map[string]got{"share/a": a, "share/b": b, "share/c": c} {
				if !g.complete() || !bytes.Equal(g.body, content) {
					t.Errorf("%s: %d, %d bytes, %v", repo, g.status, len(g.body), g.err)
				}
			}
			if n := up.Requests(trickle); n != 1 {
				t.Errorf("the URL was fetched %d times for three repositories with one descriptor, want once", n)
			}
		})
	}
}

// getBlobWithin is getBlob with a deadline: a response that neither
// completes nor fails within d shows as an error.
func getBlobWithin(t *testing.T, addr, repo, digest string, d time.Duration) got {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/v2/"+repo+"/blobs/"+digest, nil)
	resp, err := noRedirects.Do(req)
	if err != nil {
		return got{err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return got{resp.StatusCode, body, err}
}

// Hosts that lie about the length, never end, or flip a byte: no client
// completes with bytes other than its descriptor's, nothing wrong is
// cached, and every request ends.
func TestServeIsolationLyingHosts(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			s := serve(t, append(loopbackOK, be.args(t)...)...)
			for i, path := range []string{testutil.HostileLong, testutil.HostileShort, testutil.HostileEndless, testutil.HostileFlip} {
				content := randomBytes(t, 64<<10)
				h := testutil.NewHostile(t, content)
				d := foreign(content, h.URL(path))
				repo := "lying/" + strings.TrimPrefix(path, "/")
				pushForeign(t, s.addr, repo, "1", d)
				for try := range 2 {
					g := getBlobWithin(t, s.addr, repo, d.Digest, 10*time.Second)
					if g.complete() && !bytes.Equal(g.body, content) {
						t.Errorf("%s, try %d: a complete 200 of %d bytes that are not %s", path, try, len(g.body), d.Digest)
					}
					if errors.Is(g.err, context.DeadlineExceeded) {
						t.Errorf("%s, try %d: no end after 10 s", path, try)
					}
				}
				if (i == 1 || i == 3) && slices.Contains(cachedBlobs(t, s.dataDir), strings.TrimPrefix(d.Digest, "sha256:")) {
					t.Errorf("%s: the blob is cached, though its only URL never served it", path)
				}
			}
		})
	}
}

// A URL that stalls (before its headers, after them, or in the middle of an
// error body) hands over to the next URL after --fetch-idle-timeout: the
// client gets the blob from the next URL, in about that time.
func TestServeIsolationStallFailover(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			s := serve(t, append(append([]string{"--fetch-idle-timeout", "1s"}, loopbackOK...), be.args(t)...)...)
			for _, path := range []string{testutil.HostileStallHeaders, testutil.HostileStall, testutil.HostileErrorStall} {
				content := randomBytes(t, 32<<10)
				h := testutil.NewHostile(t, content)
				d := foreign(content, h.URL(path), h.URL(testutil.HostileOK))
				repo := "stall/" + strings.TrimPrefix(path, "/")
				pushForeign(t, s.addr, repo, "1", d)
				start := time.Now()
				g := getBlobWithin(t, s.addr, repo, d.Digest, 10*time.Second)
				if !g.complete() || !bytes.Equal(g.body, content) {
					t.Errorf("%s then ok: %d, %d bytes, %v after %v", path, g.status, len(g.body), g.err, time.Since(start).Round(time.Millisecond))
				}
				if took := time.Since(start); took > 5*time.Second {
					t.Errorf("%s then ok: took %v with --fetch-idle-timeout 1s", path, took)
				}
				if h.Requests(path) == 0 {
					t.Errorf("%s then ok: the stalling URL was never tried", path)
				}
			}
		})
	}
}
