package fetch

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func fast(opts ...Option) *Client {
	return New(append([]Option{WithRetries(3, time.Millisecond), WithTimeouts(time.Second, time.Second, 300*time.Millisecond)}, opts...)...)
}

func content(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// flaky serves data, but the first `cuts` GETs close the connection after
// half the body. Range requests are honoured; etag can be changed.
type flaky struct {
	data []byte
	cuts atomic.Int32
	gets atomic.Int32
	etag atomic.Value

	mu     sync.Mutex
	ranges []string
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.gets.Add(1)
	etag := f.etag.Load().(string)
	w.Header().Set("ETag", etag)
	w.Header().Set("Accept-Ranges", "bytes")
	start := 0
	if rg := r.Header.Get("Range"); rg != "" {
		f.mu.Lock()
		f.ranges = append(f.ranges, rg)
		f.mu.Unlock()
		if ir := r.Header.Get("If-Range"); ir != "" && ir != etag {
			// Content changed: a full 200, as RFC 9110 says.
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(f.data)
			return
		}
		start, _ = strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(rg, "bytes="), "-"))
		w.Header().Set("Content-Range", "bytes "+strconv.Itoa(start)+"-"+strconv.Itoa(len(f.data)-1)+"/"+strconv.Itoa(len(f.data)))
		w.Header().Set("Content-Length", strconv.Itoa(len(f.data)-start))
		w.WriteHeader(http.StatusPartialContent)
	} else {
		w.Header().Set("Content-Length", strconv.Itoa(len(f.data)))
	}
	body := f.data[start:]
	if f.cuts.Add(-1) >= 0 {
		_, _ = w.Write(body[:len(body)/2])
		w.(http.Flusher).Flush()
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close()
		return
	}
	_, _ = w.Write(body)
}

func newFlaky(t *testing.T, data []byte, cuts int32) (*flaky, *httptest.Server) {
	f := &flaky{data: data}
	f.cuts.Store(cuts)
	f.etag.Store(`"v1"`)
	s := httptest.NewServer(f)
	t.Cleanup(s.Close)
	return f, s
}

func TestResumeAfterBrokenConnection(t *testing.T) {
	data := content(t, 1<<20)
	f, s := newFlaky(t, data, 2)
	b, err := fast().Open(context.Background(), s.URL+"/blob")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("got %d bytes, not the content", len(got))
	}
	if b.Resumes() != 2 || len(f.ranges) != 2 {
		t.Errorf("resumes = %d, ranges = %v; want 2", b.Resumes(), f.ranges)
	}
	if f.ranges[0] != "bytes=524288-" {
		t.Errorf("first resume asked %q", f.ranges[0])
	}
}

func TestResumeGivesUpAfterAttempts(t *testing.T) {
	_, s := newFlaky(t, content(t, 1<<20), 100)
	b, err := fast().Open(context.Background(), s.URL+"/blob")
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(b)
	if !errors.Is(err, ErrConnect) || !strings.Contains(err.Error(), s.URL) {
		t.Errorf("err = %v, want a connection error naming the URL", err)
	}
}

func TestResumeRefusesChangedContent(t *testing.T) {
	f, s := newFlaky(t, content(t, 1<<20), 1)
	b, err := fast().Open(context.Background(), s.URL+"/blob")
	if err != nil {
		t.Fatal(err)
	}
	f.etag.Store(`"v2"`)
	_, err = io.ReadAll(b)
	if !errors.Is(err, ErrChanged) {
		t.Errorf("err = %v, want ErrChanged", err)
	}
}

func TestErrors(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/404", http.NotFound)
	var fails atomic.Int32
	mux.HandleFunc("/503", func(w http.ResponseWriter, r *http.Request) {
		fails.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) })
	mux.HandleFunc("/to-ftp", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "ftp://example.com/x", http.StatusFound)
	})
	mux.HandleFunc("/stall", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		_, _ = w.Write([]byte("x"))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	s := httptest.NewServer(mux)
	defer s.Close()
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := "http://" + l.Addr().String() + "/x"
	l.Close()

	cases := []struct {
		url  string
		kind error
		text string
	}{
		{s.URL + "/404", ErrStatus, "HTTP 404 Not Found"},
		{s.URL + "/503", ErrStatus, "HTTP 503"},
		{s.URL + "/loop", ErrRedirected, "too many redirects"},
		{s.URL + "/to-ftp", ErrRefused, `scheme "ftp"`},
		{closed, ErrConnect, "connection refused"},
		{"file:///etc/passwd", ErrBadURL, `scheme "file"`},
		{"http:///nohost", ErrBadURL, "no host"},
	}
	for _, tc := range cases {
		_, err := fast().Open(context.Background(), tc.url)
		if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.text) {
			t.Errorf("%s: err = %v, want %v with %q", tc.url, err, tc.kind, tc.text)
		}
	}
	if n := fails.Load(); n != 3 {
		t.Errorf("503 was tried %d times, want 3 attempts", n)
	}

	// An idle body times out, resumes, and gives up.
	b, err := fast().Open(context.Background(), s.URL+"/stall")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(b); !errors.Is(err, ErrTimeout) {
		t.Errorf("stalled body: err = %v, want ErrTimeout", err)
	}
}

func TestRedirectsDropCredentialsAndAreChecked(t *testing.T) {
	var sawAuth atomic.Bool
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" || r.Header.Get("Cookie") != "" {
			sawAuth.Store(true)
		}
		_, _ = w.Write([]byte("ok"))
	}))
	defer target.Close()
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/blob", http.StatusTemporaryRedirect)
	}))
	defer front.Close()

	b, err := fast().Open(context.Background(), front.URL+"/x")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(b)
	if string(got) != "ok" || sawAuth.Load() {
		t.Errorf("got %q, credentials forwarded: %v", got, sawAuth.Load())
	}
	if len(b.Redirects()) != 1 || b.Redirects()[0].Status != http.StatusTemporaryRedirect || b.FinalURL() != target.URL+"/blob" {
		t.Errorf("redirects %v final %s", b.Redirects(), b.FinalURL())
	}

	// A URL check sees every hop.
	deny := WithURLCheck(func(u *url.URL) error {
		if strings.HasSuffix(u.Path, "/blob") {
			return errors.New("no blobs")
		}
		return nil
	})
	if _, err := fast(deny).Open(context.Background(), front.URL+"/x"); !errors.Is(err, ErrRefused) {
		t.Errorf("redirect past the URL check: err = %v", err)
	}
}

func TestOpenAnyFailsOver(t *testing.T) {
	good := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("mirror")) }))
	defer good.Close()
	bad := httptest.NewServer(http.NotFoundHandler())
	defer bad.Close()
	b, err := fast().OpenAny(context.Background(), []string{bad.URL + "/a", good.URL + "/a"})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(b)
	if string(got) != "mirror" || b.URL() != good.URL+"/a" {
		t.Errorf("got %q from %s", got, b.URL())
	}
	_, err = fast().OpenAny(context.Background(), []string{bad.URL + "/a", bad.URL + "/b"})
	if err == nil || !strings.Contains(err.Error(), "/a") || !strings.Contains(err.Error(), "/b") {
		t.Errorf("err = %v, want both URLs named", err)
	}
}
