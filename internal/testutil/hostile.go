package testutil

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Hostile is a real HTTP server on loopback whose paths misbehave on
// purpose, as a slow, broken or lying layer host would. Every path serves
// (or pretends to serve) one content, given at start, and every request is
// counted per path, whatever its method. Stalled handlers are released when
// the test ends.
//
//	/ok                 200, Content-Length, the content (with Range support)
//	/404                404
//	/stall              200 and Content-Length, then nothing, ever
//	/stall-headers      nothing at all: not even a status line
//	/long               Content-Length says 100 bytes more than are sent; then the connection closes
//	/short              Content-Length says half; the whole content follows anyway (raw, on a hijacked connection)
//	/endless            200 without Content-Length, the content and then zeros until the client goes
//	/flip               200, the right Content-Length, the content with one byte flipped (in the middle)
//	/error-stall        503 with Content-Length 1000 and a JSON error start; then nothing
//	/trickle/N/D        200, Content-Length, N bytes every D (Trickle builds the path)
//
// RefusedURL gives a URL whose port refuses connections.
type Hostile struct {
	*httptest.Server
	content []byte
	done    chan struct{}
	mu      sync.Mutex
	count   map[string]int
}

// Hostile paths.
const (
	HostileOK           = "/ok"
	HostileNotFound     = "/404"
	HostileStall        = "/stall"
	HostileStallHeaders = "/stall-headers"
	HostileLong         = "/long"
	HostileShort        = "/short"
	HostileEndless      = "/endless"
	HostileFlip         = "/flip"
	HostileErrorStall   = "/error-stall"
)

// NewHostile starts a hostile server for content; it stops when the test
// ends, releasing every stalled request first.
func NewHostile(t testing.TB, content []byte) *Hostile {
	h := &Hostile{content: bytes.Clone(content), done: make(chan struct{}), count: map[string]int{}}
	h.Server = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(func() {
		close(h.done)
		h.CloseClientConnections()
		h.Close()
	})
	return h
}

// URL is the address of path, with host name localhost (clients and fl's
// policy treat it as loopback; some clients refuse IP literals).
func (h *Hostile) URL(path string) string {
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(h.Server.URL, "http://"))
	return "http://localhost:" + port + path
}

// Trickle is the path that sends n bytes every d.
func Trickle(n int, d time.Duration) string {
	return fmt.Sprintf("/trickle/%d/%s", n, d)
}

// Requests is how many requests path has had (any method, any answer).
func (h *Hostile) Requests(path string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.count[path]
}

// Total is how many requests all paths have had.
func (h *Hostile) Total() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, c := range h.count {
		n += c
	}
	return n
}

// Flipped is the content /flip sends: one byte differs.
func (h *Hostile) Flipped() []byte {
	b := bytes.Clone(h.content)
	if len(b) > 0 {
		b[len(b)/2] ^= 0xff
	}
	return b
}

// RefusedURL is an http URL on loopback whose port was free a moment ago
// and is closed now: connections to it are refused.
func RefusedURL(t testing.TB, path string) string {
	t.Helper()
	_, port, _ := net.SplitHostPort(FreeAddr(t))
	return "http://localhost:" + port + path
}

func (h *Hostile) serve(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.count[r.URL.Path]++
	h.mu.Unlock()
	size := strconv.Itoa(len(h.content))
	switch p := r.URL.Path; {
	case p == HostileOK:
		http.ServeContent(w, r, p, time.Unix(1700000000, 0), bytes.NewReader(h.content))
	case p == HostileNotFound:
		http.NotFound(w, r)
	case p == HostileStall:
		w.Header().Set("Content-Length", size)
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		h.wait(r)
	case p == HostileStallHeaders:
		h.wait(r)
	case p == HostileLong:
		h.raw(w, r, len(h.content)+100, h.content)
	case p == HostileShort:
		h.raw(w, r, len(h.content)/2, h.content)
	case p == HostileEndless:
		w.WriteHeader(http.StatusOK)
		if _, err := w.Write(h.content); err != nil {
			return
		}
		zeros := make([]byte, 32<<10)
		for {
			if _, err := w.Write(zeros); err != nil {
				return
			}
			select {
			case <-h.done:
				return
			case <-r.Context().Done():
				return
			default:
			}
		}
	case p == HostileFlip:
		w.Header().Set("Content-Length", size)
		_, _ = w.Write(h.Flipped())
	case p == HostileErrorStall:
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "1000")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"errors":[{"code":"UNAVAILABLE","message":"`))
		w.(http.Flusher).Flush()
		h.wait(r)
	case strings.HasPrefix(p, "/trickle/"):
		h.trickle(w, r, strings.TrimPrefix(p, "/trickle/"))
	default:
		http.NotFound(w, r)
	}
}

// wait blocks until the client goes or the test ends.
func (h *Hostile) wait(r *http.Request) {
	select {
	case <-h.done:
	case <-r.Context().Done():
	}
}

// raw writes a response whose Content-Length is declared, whatever body
// follows, on the bare connection (net/http would not let a handler lie),
// and closes it.
func (h *Hostile) raw(w http.ResponseWriter, r *http.Request, declared int, body []byte) {
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", declared)
	if r.Method != http.MethodHead {
		_, _ = buf.Write(body)
	}
	_ = buf.Flush()
}

func (h *Hostile) trickle(w http.ResponseWriter, r *http.Request, spec string) {
	ns, ds, _ := strings.Cut(spec, "/")
	n, err1 := strconv.Atoi(ns)
	d, err2 := time.ParseDuration(ds)
	if err1 != nil || err2 != nil || n <= 0 {
		http.Error(w, "trickle path is /trickle/N/DURATION", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(h.content)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	b := h.content
	tick := time.NewTicker(d)
	defer tick.Stop()
	for len(b) > 0 {
		k := min(n, len(b))
		if _, err := w.Write(b[:k]); err != nil {
			return
		}
		w.(http.Flusher).Flush()
		b = b[k:]
		if len(b) == 0 {
			return
		}
		select {
		case <-tick.C:
		case <-h.done:
			return
		case <-r.Context().Done():
			return
		}
	}
}
