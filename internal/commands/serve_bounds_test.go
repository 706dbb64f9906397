package commands

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/foreignlayers/fl/internal/testutil"
)

// Invariant 6: the foreign cache is bounded. A blob declared larger than
// --cache-max-size (or than the free space less --cache-min-free) is
// refused before a byte is read; least recently used blobs make room,
// never one being read; an upstream that lies about sizes never grows the
// cache beyond what the descriptor declared.

// A layer declared at 2 MiB with --cache-max-size 1MiB: 507 naming the
// flag, and nothing is read from its URL or written under cache/.
func TestServeBoundsTooLarge(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			o := newOpsOrigin(t)
			content := randomBytes(t, 2<<20)
			l := opsLayer(content, o.route("/big.tar.gz", serveBytes(content)))
			dataDir := t.TempDir()
			args := append(append([]string{"--data-dir", dataDir, "--max-blob-size", "4MiB"}, loopbackOK...), be.args(t)...)
			// Refused at PUT: it could never be served.
			small := serve(t, append([]string{"--cache-max-size", "1MiB"}, args...)...)
			if st := uploadBlob(t, small.addr, "bounds/big", testConfig); st != http.StatusCreated {
				t.Fatalf("config upload: %d", st)
			}
			m := manifestJSON(t, configDesc(), desc{MediaType: string(l.MediaType), Size: l.Size, Digest: l.Digest.String(), URLs: l.URLs})
			if status, body := putManifest(t, small.addr, "bounds/big", "1", string(types.DockerManifestSchema2), m); status != http.StatusBadRequest || !strings.Contains(body, "--cache-max-size") {
				t.Errorf("PUT of a layer larger than the cache: %d %s; want 400 naming --cache-max-size", status, body)
			}
			small.stop()
			// Pushed while the cache was larger; the server restarts with
			// a smaller one: refused at GET, before a byte is read.
			big := serve(t, append([]string{"--cache-max-size", "8MiB"}, args...)...)
			opsPush(t, big.addr, "bounds/big", "1", []v1.Descriptor{l})
			big.stop()
			s := serve(t, append([]string{"--cache-max-size", "1MiB"}, args...)...)
			for range 2 {
				status, _, body, _ := opsGet(t, s.addr, "bounds/big", l)
				if status != http.StatusInsufficientStorage || !strings.Contains(string(body), "SIZE_INVALID") || !strings.Contains(string(body), "--cache-max-size") {
					t.Errorf("GET of a layer larger than the cache: %d %s; want 507 SIZE_INVALID naming --cache-max-size", status, snippet(body))
				}
			}
			if n := o.hits("/big.tar.gz"); n != 0 {
				t.Errorf("the upstream got %d requests for a blob the cache cannot hold", n)
			}
			if n, files := cacheUsage(s.dataDir); len(files) != 0 {
				t.Errorf("%d bytes under cache/: %v", n, files)
			}
		})
	}
}

// --cache-min-free larger than the filesystem: no fetch fits, and the
// refusal names --cache-min-free.
func TestServeBoundsMinFree(t *testing.T) {
	t.Parallel()
	o := newOpsOrigin(t)
	content := randomBytes(t, 4<<10)
	l := opsLayer(content, o.route("/small.tar.gz", serveBytes(content)))
	s := serve(t, append([]string{"--cache-min-free", "1000TiB"}, loopbackOK...)...)
	opsPush(t, s.addr, "bounds/free", "1", []v1.Descriptor{l})
	status, _, body, _ := opsGet(t, s.addr, "bounds/free", l)
	if status != http.StatusInsufficientStorage || !strings.Contains(string(body), "--cache-min-free") {
		t.Errorf("GET with no free space to spare: %d %s; want 507 naming --cache-min-free", status, snippet(body))
	}
	if n := o.hits("/small.tar.gz"); n != 0 {
		t.Errorf("the upstream got %d requests", n)
	}
	if n, files := cacheUsage(s.dataDir); len(files) != 0 {
		t.Errorf("%d bytes under cache/: %v", n, files)
	}
}

// With room for three layers: cache three, read the first again, fetch a
// fourth: the second, least recently used, is evicted. An evicted layer is
// fetched again on its next GET and still verifies; the room for it comes
// from the next least recently used.
func TestServeBoundsLRU(t *testing.T) {
	t.Parallel()
	o := newOpsOrigin(t)
	const size = 256 << 10
	ls := make([]v1.Descriptor, 4)
	for i := range ls {
		c := randomBytes(t, size)
		ls[i] = opsLayer(c, o.route("/l"+string(rune('0'+i)), serveBytes(c)))
	}
	path := func(i int) string { return "/l" + string(rune('0'+i)) }
	s := serve(t, append([]string{"--cache-max-size", "868KiB"}, loopbackOK...)...) // three layers and 100 KiB
	const repo = "bounds/lru"
	opsPush(t, s.addr, repo, "1", ls)

	for i := range 3 {
		wantServed(t, s.addr, repo, ls[i])
	}
	wantCached(t, s.dataDir, ls[0], ls[1], ls[2])
	wantServed(t, s.addr, repo, ls[0]) // from the cache: now the most recently used
	if n := o.hits(path(0)); n != 1 {
		t.Fatalf("a cached layer was fetched again (%d upstream GETs)", n)
	}
	wantServed(t, s.addr, repo, ls[3])
	wantCached(t, s.dataDir, ls[0], ls[2], ls[3])

	wantServed(t, s.addr, repo, ls[1]) // evicted: fetched again
	if n := o.hits(path(1)); n != 2 {
		t.Errorf("the evicted layer: %d upstream GETs, want 2", n)
	}
	wantCached(t, s.dataDir, ls[0], ls[3], ls[1])
	if n, _ := cacheUsage(s.dataDir); n > 868<<10 {
		t.Errorf("the cache holds %d bytes, over --cache-max-size", n)
	}
}

// A blob being read is never evicted: with the cap full and that blob the
// least recently used, a new fetch evicts another; with every blob in use,
// it is refused with 503 and Retry-After, and nothing is read from its URL.
// The slow readers' bodies complete and verify.
func TestServeBoundsInUse(t *testing.T) {
	t.Parallel()
	o := newOpsOrigin(t)
	// Larger than what the kernel buffers for a reader that does not read
	// (a few MiB on loopback), so that the server keeps the blob open.
	const size = 5 << 20
	a, b, c := randomBytes(t, size), randomBytes(t, size), randomBytes(t, size)
	la := opsLayer(a, o.route("/a", serveBytes(a)))
	lb := opsLayer(b, o.route("/b", serveBytes(b)))
	lc := opsLayer(c, o.route("/c", serveBytes(c)))
	s := serve(t, append([]string{"--cache-max-size", "11MiB"}, loopbackOK...)...) // two layers
	const repo = "bounds/inuse"
	opsPush(t, s.addr, repo, "1", []v1.Descriptor{la, lb, lc})

	wantServed(t, s.addr, repo, la)
	wantServed(t, s.addr, repo, lb)
	readA := slowGet(t, s.addr, repo, la)
	if !holdsOpen(la.Digest.Hex) {
		t.Logf("no open file of a is seen in /proc/self/fd: is the slow reader holding the server's response?")
	}
	wantServed(t, s.addr, repo, lb) // a is now the least recently used, and open
	wantServed(t, s.addr, repo, lc)
	wantCached(t, s.dataDir, la, lc)

	readC := slowGet(t, s.addr, repo, lc)
	status, hdr, body, _ := opsGet(t, s.addr, repo, lb)
	if status != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" || !strings.Contains(string(body), "UNAVAILABLE") {
		t.Errorf("fetch with every cached blob in use: %d Retry-After %q %s; want 503 UNAVAILABLE", status, hdr.Get("Retry-After"), snippet(body))
	}
	if n := o.hits("/b"); n != 1 {
		t.Errorf("the refused fetch reached the upstream (%d GETs of b)", n)
	}
	wantCached(t, s.dataDir, la, lc)
	if got := readA.finish(t); got != la.Digest.String() {
		t.Errorf("the slow reader of a got %s", got)
	}
	if got := readC.finish(t); got != lc.Digest.String() {
		t.Errorf("the slow reader of c got %s", got)
	}
	// Nobody reads now: room can be made.
	wantServed(t, s.addr, repo, lb)
	if got := cachedBlobs(t, s.dataDir); len(got) != 2 || !slices.Contains(got, lb.Digest.Hex) {
		t.Errorf("cache after the readers left: %v, want b and one other", got)
	}
}

// An upstream that lies about the size never grows the cache beyond the
// declared size, while the fetch runs or after; the response never
// completes; the front stops reading.
func TestServeBoundsLyingUpstream(t *testing.T) {
	const declared = 256 << 10
	cases := []struct {
		name string
		lie  func(sent *atomic.Int64) http.HandlerFunc
	}{
		{"Content-Length larger than declared", func(sent *atomic.Int64) http.HandlerFunc {
			return trickle(declared+(1<<20), true, sent)
		}},
		{"endless body without Content-Length", func(sent *atomic.Int64) http.HandlerFunc {
			return trickle(-1, false, sent)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := newOpsOrigin(t)
			var sent atomic.Int64
			l := opsLayer(randomBytes(t, declared), o.route("/lies.tar.gz", tc.lie(&sent)))
			s := serve(t, loopbackOK...)
			opsPush(t, s.addr, "bounds/lies", "1", []v1.Descriptor{l})

			stop, peak := make(chan struct{}), make(chan int64)
			go func() {
				var most int64
				for {
					n, _ := cacheUsage(s.dataDir)
					most = max(most, n)
					select {
					case <-stop:
						peak <- most
						return
					case <-time.After(2 * time.Millisecond):
					}
				}
			}()
			status, _, body, err := opsGet(t, s.addr, "bounds/lies", l)
			close(stop)
			if err == nil && status == http.StatusOK {
				t.Errorf("a response from a lying upstream completed: %d bytes", len(body))
			}
			if len(body) >= declared {
				t.Errorf("the client got %d bytes of a %d-byte layer that never verified", len(body), declared)
			}
			if p := <-peak; p > declared {
				t.Errorf("cache/ grew to %d bytes during the fetch of a %d-byte layer", p, declared)
			}
			waitFor(t, 10*time.Second, "the front to stop reading the lying upstream", func() bool { return o.running.Load() == 0 })
			if n := sent.Load(); n > declared+(8<<20) {
				t.Errorf("the front read on: the upstream sent %d bytes for a %d-byte layer", n, declared)
			}
			waitFor(t, 3*time.Second, "cache/ to be emptied of the failed fetch", func() bool {
				n, _ := cacheUsage(s.dataDir)
				return n == 0
			})
			if got := cachedBlobs(t, s.dataDir); len(got) != 0 {
				t.Errorf("cached: %v", got)
			}
		})
	}
}

// trickle sends junk, 32 KiB every 5 ms, until it has sent n (or
// forever if n < 0) or the client goes away; with declare, Content-Length
// says n.
func trickle(n int64, declare bool, sent *atomic.Int64) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if declare {
			w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
		}
		w.WriteHeader(http.StatusOK)
		chunk := bytes.Repeat([]byte("lie!"), 8<<10)
		deadline := time.Now().Add(time.Minute)
		for (n < 0 || sent.Load() < n) && time.Now().Before(deadline) {
			m := int64(len(chunk))
			if n >= 0 {
				m = min(m, n-sent.Load())
			}
			if _, err := w.Write(chunk[:m]); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			sent.Add(m)
			select {
			case <-r.Context().Done():
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
}

// wantCached checks that the cache holds exactly these blobs.
func wantCached(t *testing.T, dataDir string, ds ...v1.Descriptor) {
	t.Helper()
	var want []string
	for _, d := range ds {
		want = append(want, d.Digest.Hex)
	}
	got := cachedBlobs(t, dataDir)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("cached %v, want %v", shortHexes(got), shortHexes(want))
	}
}

func shortHexes(hexes []string) []string {
	out := make([]string, len(hexes))
	for i, h := range hexes {
		out[i] = h[:min(len(h), 12)]
	}
	return out
}

// cacheUsage sums the sizes of the regular files under DATA/cache, blobs
// and spool alike, and lists them.
func cacheUsage(dataDir string) (int64, []string) {
	var n int64
	var files []string
	_ = filepath.WalkDir(filepath.Join(dataDir, "cache"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if fi, err := d.Info(); err == nil {
			n += fi.Size()
			files = append(files, strings.TrimPrefix(p, dataDir+string(os.PathSeparator)))
		}
		return nil
	})
	return n, files
}

// slowRead is a blob response that its client has barely started to
// read: a receive buffer of 1 KiB keeps the server writing, and the blob
// open.
type slowRead struct {
	resp *http.Response
	head []byte
}

func slowGet(t *testing.T, addr, repo string, d v1.Descriptor) *slowRead {
	t.Helper()
	dialer := &net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 1024)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	client := &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext, DisableKeepAlives: true}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/v2/"+repo+"/blobs/"+d.Digest.String(), nil)
	resp, err := client.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close(); cancel() })
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		t.Fatalf("slow GET of %s: %d %s", d.Digest.Hex[:12], resp.StatusCode, b)
	}
	r := &slowRead{resp: resp, head: make([]byte, 4096)}
	if _, err := io.ReadFull(resp.Body, r.head); err != nil {
		t.Fatalf("slow GET of %s: %v", d.Digest.Hex[:12], err)
	}
	return r
}

// holdsOpen reports whether this process (fl serve runs in it) has a
// file open whose path names hex.
func holdsOpen(hex string) bool {
	fds, _ := os.ReadDir("/proc/self/fd")
	for _, fd := range fds {
		if p, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); err == nil && strings.Contains(p, hex) {
			return true
		}
	}
	return false
}

// finish reads the rest and returns the digest of the whole body.
func (r *slowRead) finish(t *testing.T) string {
	t.Helper()
	rest, err := io.ReadAll(r.resp.Body)
	if err != nil {
		t.Errorf("the slow reader's body was cut after %d bytes: %v", len(r.head)+len(rest), err)
	}
	return testutil.Sha256(append(r.head, rest...))
}
