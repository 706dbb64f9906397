package commands

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foreignlayers/fl/internal/testutil"
	"github.com/foreignlayers/fl/pkg/image"
)

// serving is an `fl serve` run as typed, in-process.
type serving struct {
	addr    string
	dataDir string
	stderr  *syncBuffer
	// stop stops the server (it also stops when the test ends).
	stop func()
}

// serve runs `fl serve ARGS` until the test ends (or stop is called) and
// returns once it answers /healthz. It gets a data dir of its own unless
// ARGS name one. A port another test took between FreeAddr and the
// listen is retried with another.
func serve(t testing.TB, args ...string) *serving {
	t.Helper()
	if !slices.Contains(args, "--data-dir") {
		args = append(args, "--data-dir", t.TempDir())
	}
	for attempt := 1; ; attempt++ {
		s, err := startServing(t, args)
		if err == nil {
			return s
		}
		if attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			t.Fatal(err)
		}
	}
}

func startServing(t testing.TB, args []string) (*serving, error) {
	t.Helper()
	s := &serving{addr: testutil.FreeAddr(t), stderr: &syncBuffer{}, dataDir: args[slices.Index(args, "--data-dir")+1]}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- Execute(ctx, append([]string{"serve", "--addr", s.addr}, args...), io.Discard, s.stderr)
	}()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("fl serve exited %d:\n%s", code, s.stderr.String())
		}
	}
	s.stop = stop
	scheme, probe := "http", http.DefaultClient
	if slices.Contains(args, "--tls-cert") {
		scheme = "https"
		probe = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := probe.Get(scheme + "://" + s.addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			t.Cleanup(stop)
			return s, nil
		}
		select {
		case code := <-done:
			stopped = true
			cancel()
			return nil, fmt.Errorf("fl serve exited %d before it answered:\n%s", code, s.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("fl serve did not answer: %v\n%s", err, s.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// buildTo pushes an image with fl build and returns its first layer.
func buildTo(t *testing.T, ref string, args ...string) image.LayerSummary {
	t.Helper()
	r := mustFL(t, append([]string{"build", "-q", "--json", "-t", ref}, args...)...)
	var s image.Summary
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		t.Fatalf("fl build --json: %v\n%s", err, r.stdout)
	}
	return s.Manifests[0].Layers[0]
}

// noRedirects is an HTTP client that shows redirects instead of following.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// blob GETs (or HEADs) a blob through a registry and returns the response
// with its whole body read; a body cut short, or no answer at all (status
// 0), shows as readErr.
func blob(t *testing.T, method, addr, repo, digest string, hdr ...string) (resp *http.Response, body []byte, readErr error) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+addr+"/v2/"+repo+"/blobs/"+digest, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		// The server cut the connection before any answer: a response
		// that never completed.
		return &http.Response{Status: err.Error(), Header: http.Header{}}, nil, err
	}
	defer resp.Body.Close()
	body, readErr = io.ReadAll(resp.Body)
	return resp, body, readErr
}

// cachedBlobs lists what the serve's cache holds.
func cachedBlobs(t *testing.T, dataDir string) []string {
	t.Helper()
	var out []string
	root := filepath.Join(dataDir, "cache", "blobs")
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, filepath.Base(p))
		}
		return nil
	})
	return out
}

// metric reads one sample from /metrics ("name{labels}" as printed).
func metric(t *testing.T, addr, series string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return v
		}
	}
	return "0"
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
