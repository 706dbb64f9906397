package testutil

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Upstream is a real HTTP server on loopback that serves layer files, as a
// distribution's download site would, with Range support. It counts GETs
// per path.
type Upstream struct {
	*httptest.Server
	mu       sync.Mutex
	files    map[string][]byte
	gets     map[string]int
	throttle time.Duration
	creds    int // requests that carried Authorization or Cookie
}

// Credentials is how many requests carried an Authorization or Cookie
// header: a layer URL's host must never see a registry's credentials.
func (u *Upstream) Credentials() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.creds
}

// Throttle makes whole-file GETs send 64 KiB every d, so that concurrent
// requests overlap.
func (u *Upstream) Throttle(d time.Duration) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.throttle = d
}

// NewUpstream starts an upstream; it stops when the test ends.
func NewUpstream(t testing.TB) *Upstream {
	u := &Upstream{files: map[string][]byte{}, gets: map[string]int{}}
	u.Server = httptest.NewServer(http.HandlerFunc(u.serve))
	t.Cleanup(u.Close)
	return u
}

// Put makes content available at path (which starts with "/").
func (u *Upstream) Put(path string, content []byte) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.files[path] = content
}

// Delete makes path answer 404.
func (u *Upstream) Delete(path string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.files, path)
}

// Get returns the content at path.
func (u *Upstream) Get(path string) []byte {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.files[path]
}

// URL is the address of path, with host name localhost (some clients
// refuse IP literals in layer URLs).
func (u *Upstream) URL(path string) string {
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(u.Server.URL, "http://"))
	return "http://localhost:" + port + path
}

// Gets is how many GETs path has had.
func (u *Upstream) Gets(path string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.gets[path]
}

func (u *Upstream) serve(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	b, ok := u.files[r.URL.Path]
	if r.Method == http.MethodGet {
		u.gets[r.URL.Path]++
	}
	if r.Header.Get("Authorization") != "" || r.Header.Get("Cookie") != "" {
		u.creds++
	}
	throttle := u.throttle
	u.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("ETag", `"`+Hex(b)[:16]+`"`)
	if throttle > 0 && r.Method == http.MethodGet && r.Header.Get("Range") == "" {
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		for len(b) > 0 {
			n := min(len(b), 64<<10)
			if _, err := w.Write(b[:n]); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			b = b[n:]
			time.Sleep(throttle)
		}
		return
	}
	http.ServeContent(w, r, r.URL.Path, time.Unix(1700000000, 0), bytes.NewReader(b))
}
