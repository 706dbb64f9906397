package testutil

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Each hostile path misbehaves as documented, and is counted.
func TestHostile(t *testing.T) {
	t.Parallel()
	content := bytes.Repeat([]byte("0123456789"), 1000)
	h := NewHostile(t, content)
	get := func(path string, timeout time.Duration) (*http.Response, []byte, error) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.URL(path), nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp, b, err
	}

	if resp, b, err := get(HostileOK, 5*time.Second); err != nil || resp.StatusCode != 200 || !bytes.Equal(b, content) {
		t.Errorf("ok: %v %v %d bytes", err, resp, len(b))
	}
	if resp, _, err := get(HostileNotFound, 5*time.Second); err != nil || resp.StatusCode != 404 {
		t.Errorf("404: %v %v", err, resp)
	}
	if resp, b, err := get(HostileStall, 200*time.Millisecond); resp == nil || resp.StatusCode != 200 || len(b) != 0 || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("stall: %v, %d bytes, %v", resp, len(b), err)
	}
	if resp, _, err := get(HostileStallHeaders, 200*time.Millisecond); resp != nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("stall-headers: %v %v", resp, err)
	}
	if resp, b, err := get(HostileLong, 5*time.Second); resp == nil || resp.ContentLength != int64(len(content))+100 || !bytes.Equal(b, content) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("long: %v, %d bytes, %v", resp, len(b), err)
	}
	if resp, b, err := get(HostileShort, 5*time.Second); err != nil || resp.ContentLength != int64(len(content)/2) || !bytes.Equal(b, content[:len(content)/2]) {
		t.Errorf("short: %v, %d bytes, %v", resp, len(b), err)
	}
	if resp, b, err := get(HostileFlip, 5*time.Second); err != nil || len(b) != len(content) || bytes.Equal(b, content) || !bytes.Equal(b, h.Flipped()) {
		t.Errorf("flip: %v, %d bytes, %v", resp, len(b), err)
	}
	if resp, b, err := get(HostileErrorStall, 200*time.Millisecond); resp == nil || resp.StatusCode != 503 || !strings.HasPrefix(string(b), `{"errors"`) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error-stall: %v, %q, %v", resp, b, err)
	}
	// Endless: more than the content, and still going.
	resp, err := http.Get(h.URL(HostileEndless))
	if err != nil {
		t.Fatal(err)
	}
	n, _ := io.CopyN(io.Discard, resp.Body, int64(len(content))*10)
	resp.Body.Close()
	if resp.ContentLength != -1 || n != int64(len(content))*10 {
		t.Errorf("endless: length %d, read %d", resp.ContentLength, n)
	}
	// Trickle: 1000 bytes every 10ms, 10 kB: about 90ms.
	start := time.Now()
	if _, b, err := get(Trickle(1000, 10*time.Millisecond), 5*time.Second); err != nil || !bytes.Equal(b, content) || time.Since(start) < 80*time.Millisecond {
		t.Errorf("trickle: %d bytes in %v, %v", len(b), time.Since(start), err)
	}
	if _, err := http.Get(RefusedURL(t, "/x")); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("refused: %v", err)
	}
	for _, p := range []string{HostileOK, HostileStall, HostileLong, HostileEndless, Trickle(1000, 10*time.Millisecond)} {
		if h.Requests(p) != 1 {
			t.Errorf("%s: %d requests counted", p, h.Requests(p))
		}
	}
	if h.Total() != 10 {
		t.Errorf("%d requests in all, want 10", h.Total())
	}
}
