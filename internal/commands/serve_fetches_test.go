package commands

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/foreignlayers/fl/internal/testutil"
	"github.com/foreignlayers/fl/pkg/image"
)

// Invariant 7: fetches are bounded. A flight nobody reads any more gives
// its slot back after --fetch-grace; a URL that sends nothing fails over
// after --fetch-idle-timeout; a failed fetch is remembered for
// --fetch-failure-ttl, so retries do not each hit the upstream.

// Two clients start fetches of layers whose URLs stall, and give up; with
// --max-fetches 2 the abandoned flights hold both slots until
// --fetch-grace cancels them, so a third client's fetch gets its slot
// within --fetch-wait instead of a 429.
func TestServeFetchesGrace(t *testing.T) {
	t.Parallel()
	o := newOpsOrigin(t)
	stuck1, stuck2, good := randomBytes(t, 64<<10), randomBytes(t, 64<<10), randomBytes(t, 64<<10)
	l1 := opsLayer(stuck1, o.route("/stuck1", o.stallAfterHeaders(len(stuck1))))
	l2 := opsLayer(stuck2, o.route("/stuck2", o.stallAfterHeaders(len(stuck2))))
	l3 := opsLayer(good, o.route("/good", serveBytes(good)))
	s := serve(t, append([]string{"--max-fetches", "2", "--fetch-grace", "1s", "--fetch-wait", "3s"}, loopbackOK...)...)
	const repo = "fetches/grace"
	opsPush(t, s.addr, repo, "1", []v1.Descriptor{l1, l2, l3})

	ctx, giveUp := context.WithCancel(context.Background())
	defer giveUp()
	var wg sync.WaitGroup
	for _, l := range []v1.Descriptor{l1, l2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.addr+"/v2/"+repo+"/blobs/"+l.Digest.String(), nil)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	waitFor(t, 5*time.Second, "both stalled fetches in flight", func() bool {
		return metric(t, s.addr, "fl_upstream_fetches_in_flight") == "2"
	})
	time.Sleep(200 * time.Millisecond)
	giveUp() // both clients disconnect
	wg.Wait()

	start := time.Now()
	status, hdr, body, err := opsGet(t, s.addr, repo, l3)
	if status != http.StatusOK || err != nil || testutil.Sha256(body) != l3.Digest.String() {
		t.Fatalf("third client, %v after the others left: %d (Retry-After %q) %v %s; the abandoned flights kept their slots",
			time.Since(start).Round(time.Millisecond), status, hdr.Get("Retry-After"), err, snippet(body))
	}
	waitFor(t, 5*time.Second, "fl_upstream_fetches_in_flight back to 0", func() bool {
		return metric(t, s.addr, "fl_upstream_fetches_in_flight") == "0"
	})
	// The cancelled flights closed their upstream connections.
	waitFor(t, 5*time.Second, "the stalled upstream requests to end", func() bool { return o.running.Load() == 0 })
}

// A flight lives while anyone reads it: the first of two clients leaving
// does not cancel the other's. Once the last reader has left and the
// grace has passed, the flight is cancelled, caches nothing, and is not
// remembered as a failure: the next GET fetches afresh and gets the layer.
func TestServeFetchesGraceKeepsReaders(t *testing.T) {
	t.Parallel()
	o := newOpsOrigin(t)
	c1, c2 := randomBytes(t, 512<<10), randomBytes(t, 512<<10)
	l1 := opsLayer(c1, o.route("/slow1", o.slowBytes(c1))) // about 1 s each
	l2 := opsLayer(c2, o.route("/slow2", o.slowBytes(c2)))
	s := serve(t, append([]string{"--fetch-grace", "300ms"}, loopbackOK...)...)
	const repo = "fetches/readers"
	opsPush(t, s.addr, repo, "1", []v1.Descriptor{l1, l2})

	ctx, leave := context.WithCancel(context.Background())
	defer leave()
	left := make(chan struct{})
	go func() {
		defer close(left)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.addr+"/v2/"+repo+"/blobs/"+l1.Digest.String(), nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	waitFor(t, 5*time.Second, "the first client's fetch", func() bool { return metric(t, s.addr, "fl_upstream_fetches_in_flight") == "1" })
	type result struct {
		status int
		body   []byte
		err    error
	}
	stayed := make(chan result, 1)
	go func() {
		status, _, body, err := opsGet(t, s.addr, repo, l1)
		stayed <- result{status, body, err}
	}()
	waitFor(t, 5*time.Second, "the second client to join", func() bool { return metric(t, s.addr, "fl_singleflight_joins_total") == "1" })
	leave()
	<-left
	r := <-stayed
	if r.status != http.StatusOK || r.err != nil || testutil.Sha256(r.body) != l1.Digest.String() {
		t.Errorf("the client that stayed, after the other left: %d, %d bytes, %v", r.status, len(r.body), r.err)
	}
	if n := o.hits("/slow1"); n != 1 {
		t.Errorf("%d upstream GETs of the layer, want 1", n)
	}

	ctx2, leave2 := context.WithCancel(context.Background())
	defer leave2()
	left2 := make(chan struct{})
	go func() {
		defer close(left2)
		req, _ := http.NewRequestWithContext(ctx2, http.MethodGet, "http://"+s.addr+"/v2/"+repo+"/blobs/"+l2.Digest.String(), nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	waitFor(t, 5*time.Second, "the fetch of the second layer", func() bool { return metric(t, s.addr, "fl_upstream_fetches_in_flight") == "1" })
	leave2()
	<-left2
	waitFor(t, 5*time.Second, "the abandoned fetch to be cancelled", func() bool { return metric(t, s.addr, "fl_upstream_fetches_in_flight") == "0" })
	if got := cachedBlobs(t, s.dataDir); len(got) != 1 {
		t.Errorf("cached after the abandoned fetch: %v, want only the first layer", shortHexes(got))
	}
	wantServed(t, s.addr, repo, l2)
	if n := o.hits("/slow2"); n != 2 {
		t.Errorf("%d upstream GETs of the abandoned layer, want 2: the cancelled one and a fresh one", n)
	}
}

// A first URL that stalls fails over to the next after
// --fetch-idle-timeout, whether it stalls before its headers, after its
// headers, halfway through the body, or in the middle of an error body.
func TestServeFetchesStallFailover(t *testing.T) {
	cases := []struct {
		name  string
		stall func(o *opsOrigin, content []byte) http.HandlerFunc
	}{
		{"after headers", func(o *opsOrigin, c []byte) http.HandlerFunc { return o.stallAfterHeaders(len(c)) }},
		{"in the middle of the body", func(o *opsOrigin, c []byte) http.HandlerFunc { return o.stallHalfway(c) }},
		{"before headers", func(o *opsOrigin, _ []byte) http.HandlerFunc { return o.stallBeforeHeaders() }},
		{"in a 500 error body", func(o *opsOrigin, _ []byte) http.HandlerFunc { return o.errorThenStall(http.StatusInternalServerError) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := newOpsOrigin(t)
			content := randomBytes(t, 128<<10)
			l := opsLayer(content, o.route("/stalls", tc.stall(o, content)), o.route("/good", serveBytes(content)))
			s := serve(t, append([]string{"--fetch-idle-timeout", "1s"}, loopbackOK...)...)
			opsPush(t, s.addr, "fetches/stall", "1", []v1.Descriptor{l})

			start := time.Now()
			status, _, body, err := opsGet(t, s.addr, "fetches/stall", l)
			took := time.Since(start)
			if status != http.StatusOK || err != nil || testutil.Sha256(body) != l.Digest.String() {
				t.Fatalf("GET after %v: %d %v %s", took.Round(time.Millisecond), status, err, snippet(body))
			}
			if got := o.order(); len(got) < 2 || got[0] != "/stalls" {
				t.Errorf("upstream requests in order %v: the stalling URL was not tried first", got)
			}
			if n := o.hits("/stalls"); n != 1 {
				t.Errorf("the stalling URL got %d requests, want 1 then the next URL", n)
			}
			if took > 10*time.Second {
				t.Errorf("failing over took %v with --fetch-idle-timeout 1s", took)
			}
		})
	}
}

// A layer whose only URL fails: the error names the URL and the cause,
// and for --fetch-failure-ttl further requests get the same error without
// contacting the URL again.
func TestServeFetchesFailureMemory(t *testing.T) {
	type failing struct {
		url   string
		count func() int64
		cause []string // one of these words names the cause
	}
	kinds := []struct {
		name string
		make func(t *testing.T) failing
	}{
		{"connection closed", func(t *testing.T) failing {
			l := testutil.ListenCounting(t, "tcp", "127.0.0.1:0")
			return failing{"http://127.0.0.1:" + l.Port() + "/closes.tar.gz", l.Accepted, []string{"EOF", "reset", "refused", "closed", "connection"}}
		}},
		{"503", func(t *testing.T) failing {
			o := newOpsOrigin(t)
			u := o.route("/busy.tar.gz", statusOnly(http.StatusServiceUnavailable))
			return failing{u, func() int64 { return int64(o.hits("/busy.tar.gz")) }, []string{"503"}}
		}},
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			f := k.make(t)
			l := opsLayer([]byte("remembered "+k.name), f.url)
			s := serve(t, append([]string{"--fetch-failure-ttl", "30s"}, loopbackOK...)...)
			opsPush(t, s.addr, "fetches/memory", "1", []v1.Descriptor{l})

			first, _, body, _ := opsGet(t, s.addr, "fetches/memory", l)
			if first < 500 || !strings.Contains(string(body), f.url) || !containsAny(string(body), f.cause) {
				t.Errorf("first GET: %d %s; want 5xx naming %s and the cause (%s)", first, snippet(body), f.url, strings.Join(f.cause, "/"))
			}
			if n := f.count(); n != 1 {
				t.Errorf("the first GET contacted the URL %d times, want 1", n)
			}
			for i := range 5 {
				status, _, body, _ := opsGet(t, s.addr, "fetches/memory", l)
				if status != first || !strings.Contains(string(body), f.url) {
					t.Errorf("GET %d within the ttl: %d %s; want %d naming the URL as the first", i+2, status, snippet(body), first)
				}
			}
			if n := f.count(); n != 1 {
				t.Errorf("6 GETs within --fetch-failure-ttl contacted the URL %d times, want 1", n)
			}
		})
	}

	t.Run("ttl expires", func(t *testing.T) {
		t.Parallel()
		o := newOpsOrigin(t)
		l := opsLayer([]byte("retried after the ttl"), o.route("/busy.tar.gz", statusOnly(http.StatusServiceUnavailable)))
		s := serve(t, append([]string{"--fetch-failure-ttl", "1s"}, loopbackOK...)...)
		opsPush(t, s.addr, "fetches/ttl", "1", []v1.Descriptor{l})
		for range 2 {
			if status, _, body, _ := opsGet(t, s.addr, "fetches/ttl", l); status < 500 {
				t.Errorf("GET of a failing layer: %d %s", status, snippet(body))
			}
		}
		if n := o.hits("/busy.tar.gz"); n != 1 {
			t.Fatalf("two GETs within the ttl: %d upstream requests, want 1", n)
		}
		time.Sleep(1500 * time.Millisecond)
		if status, _, _, _ := opsGet(t, s.addr, "fetches/ttl", l); status < 500 {
			t.Errorf("GET after the ttl: %d", status)
		}
		if n := o.hits("/busy.tar.gz"); n != 2 {
			t.Errorf("after the ttl expired: %d upstream requests, want 2", n)
		}
	})
}

// The retry storm of the issue: docker retried one pull of a layer whose
// URL is down 13 times, and each retry fetched again. With the default
// --fetch-failure-ttl, 13 GETs make one upstream request, and every one
// of them gets an error that names the URL.
func TestServeFetchesRetryStorm(t *testing.T) {
	t.Parallel()
	o := newOpsOrigin(t)
	u := o.route("/down.tar.gz", statusOnly(http.StatusServiceUnavailable))
	l := opsLayer([]byte("storm"), u)
	s := serve(t, loopbackOK...)
	opsPush(t, s.addr, "fetches/storm", "1", []v1.Descriptor{l})
	for i := range 13 {
		status, _, body, _ := opsGet(t, s.addr, "fetches/storm", l)
		if status < 500 || !strings.Contains(string(body), u) {
			t.Errorf("GET %d: %d %s; want 5xx naming %s", i+1, status, snippet(body), u)
		}
	}
	if n := o.hits("/down.tar.gz"); n != 1 {
		t.Errorf("13 GETs made %d upstream requests, want 1", n)
	}
}

// --- helpers of the ops tests (serve_bounds, serve_fetches, serve_lifecycle) ---

// opsOrigin is an upstream of layer URLs where each path behaves as the
// test says: serves, stalls, fails or lies. It counts requests per path,
// keeps their order, and knows how many of its handlers are running.
// Stalled handlers end when their client goes away or the test ends.
type opsOrigin struct {
	srv     *httptest.Server
	release chan struct{}
	running atomic.Int64

	mu     sync.Mutex
	routes map[string]http.HandlerFunc
	count  map[string]int
	seen   []string
}

func newOpsOrigin(t *testing.T) *opsOrigin {
	o := &opsOrigin{release: make(chan struct{}), routes: map[string]http.HandlerFunc{}, count: map[string]int{}}
	o.srv = httptest.NewServer(http.HandlerFunc(o.serveHTTP))
	t.Cleanup(o.srv.Close)                 // runs second: waits for the handlers
	t.Cleanup(func() { close(o.release) }) // runs first: ends the stalls
	return o
}

func (o *opsOrigin) serveHTTP(w http.ResponseWriter, r *http.Request) {
	o.running.Add(1)
	defer o.running.Add(-1)
	o.mu.Lock()
	h := o.routes[r.URL.Path]
	o.count[r.URL.Path]++
	o.seen = append(o.seen, r.URL.Path)
	o.mu.Unlock()
	if h == nil {
		http.NotFound(w, r)
		return
	}
	h(w, r)
}

// route installs h at path and returns its URL.
func (o *opsOrigin) route(path string, h http.HandlerFunc) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.routes[path] = h
	return o.srv.URL + path
}

// hits is how many requests path has had.
func (o *opsOrigin) hits(path string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.count[path]
}

// order lists the paths requested, first first.
func (o *opsOrigin) order() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.seen...)
}

// hold blocks until the client goes away or the test ends.
func (o *opsOrigin) hold(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-o.release:
	}
}

func serveBytes(b []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "layer", time.Unix(1700000000, 0), strings.NewReader(string(b)))
	}
}

func statusOnly(code int) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, http.StatusText(code), code)
	}
}

// stallAfterHeaders answers 200 with the right Content-Length, then
// sends nothing.
func (o *opsOrigin) stallAfterHeaders(size int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(size))
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		o.hold(r)
	}
}

// stallHalfway sends the first half of content (with the whole length
// declared), then nothing.
func (o *opsOrigin) stallHalfway(content []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(content)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(content[:len(content)/2])
		w.(http.Flusher).Flush()
		o.hold(r)
	}
}

// slowBytes serves content 32 KiB every 60 ms, until the client goes away.
func (o *opsOrigin) slowBytes(content []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(content)))
		for b := content; len(b) > 0; b = b[min(len(b), 32<<10):] {
			if _, err := w.Write(b[:min(len(b), 32<<10)]); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-o.release:
				return
			case <-time.After(60 * time.Millisecond):
			}
		}
	}
}

// stallBeforeHeaders accepts the request and never answers.
func (o *opsOrigin) stallBeforeHeaders() http.HandlerFunc {
	return func(_ http.ResponseWriter, r *http.Request) { o.hold(r) }
}

// errorThenStall answers code, sends the start of an error body, then
// nothing.
func (o *opsOrigin) errorThenStall(code int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(code)
		_, _ = io.WriteString(w, "<html><body>Something went wr")
		w.(http.Flusher).Flush()
		o.hold(r)
	}
}

// opsConfig is the config blob every ops manifest names.
var opsConfig = static.NewLayer([]byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`), types.DockerConfigJSON)

// opsLayer is a Docker foreign layer descriptor of content, at urls.
func opsLayer(content []byte, urls ...string) v1.Descriptor {
	return v1.Descriptor{
		MediaType: image.DockerForeignLayer, Size: int64(len(content)),
		Digest: v1.Hash{Algorithm: "sha256", Hex: testutil.Hex(content)}, URLs: urls,
	}
}

// opsManifestOf is the raw manifest naming opsConfig and layers.
func opsManifestOf(t *testing.T, layers []v1.Descriptor) []byte {
	t.Helper()
	cd, _ := opsConfig.Digest()
	cs, _ := opsConfig.Size()
	raw, err := json.Marshal(v1.Manifest{SchemaVersion: 2, MediaType: types.DockerManifestSchema2,
		Config: v1.Descriptor{MediaType: types.DockerConfigJSON, Size: cs, Digest: cd}, Layers: layers})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// opsPush stores, through addr, a manifest with layers as repo:tag (its
// config blob first) and returns the manifest's digest.
func opsPush(t *testing.T, addr, repo, tag string, layers []v1.Descriptor, opts ...remote.Option) v1.Hash {
	t.Helper()
	ref, err := name.ParseReference(addr + "/" + repo + ":" + tag)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteLayer(ref.Context(), opsConfig, opts...); err != nil {
		t.Fatalf("pushing the config to %s: %v", ref, err)
	}
	raw := opsManifestOf(t, layers)
	if err := remote.Put(ref, opsManifest(raw), opts...); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
	return v1.Hash{Algorithm: "sha256", Hex: testutil.Hex(raw)}
}

type opsManifest []byte

func (m opsManifest) RawManifest() ([]byte, error)        { return m, nil }
func (m opsManifest) MediaType() (types.MediaType, error) { return types.DockerManifestSchema2, nil }

// opsGet GETs a blob of repo, bounded in time, and reads the whole body.
func opsGet(t *testing.T, addr, repo string, d v1.Descriptor) (int, http.Header, []byte, error) {
	t.Helper()
	return opsDo(t, http.MethodGet, "http://"+addr+"/v2/"+repo+"/blobs/"+d.Digest.String(), "", "")
}

// opsDo sends one request (with Basic credentials if user is set),
// bounded in time, and reads the whole answer; status 0 if there was none.
func opsDo(t *testing.T, method, url, user, pass string) (int, http.Header, []byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		return 0, http.Header{}, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, body, err
}

// wantServed checks that the front serves d to repo, whole and verified.
func wantServed(t *testing.T, addr, repo string, d v1.Descriptor) {
	t.Helper()
	status, _, body, err := opsGet(t, addr, repo, d)
	if status != http.StatusOK || err != nil || testutil.Sha256(body) != d.Digest.String() {
		t.Errorf("GET %s of %s: %d, %d bytes, %v %s", d.Digest.Hex[:12], repo, status, len(body), err, snippet(body))
	}
}

// waitFor polls cond every 10 ms until it holds, failing the test after d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func containsAny(s string, words []string) bool {
	for _, w := range words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// snippet is a response body fit for a test log: text up to 300 bytes,
// or the size of binary content.
func snippet(b []byte) string {
	if !utf8.Valid(b) || bytes.ContainsFunc(b, func(r rune) bool { return r < ' ' && r != '\n' && r != '\t' }) {
		return fmt.Sprintf("<%d bytes of binary>", len(b))
	}
	return string(b[:min(len(b), 300)])
}
