package server

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// Without --htpasswd, the admin endpoint on --metrics-addr answers only
// loopback peers, whatever address the listener is bound to.
func TestAdminLoopbackOnly(t *testing.T) {
	reached := 0
	s := &Server{admin: http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached++ })}
	for _, tc := range []struct {
		remote string
		want   int
	}{
		{"10.0.0.7:4000", http.StatusForbidden},
		{"192.168.1.2:4000", http.StatusForbidden},
		{"[fd00::1]:4000", http.StatusForbidden},
		{"bogus", http.StatusForbidden},
		{"127.0.0.1:4000", http.StatusOK},
		{"[::1]:4000", http.StatusOK},
		{"[::ffff:127.0.0.1]:4000", http.StatusOK},
	} {
		before := reached
		r := httptest.NewRequest(http.MethodDelete, "/_fl/cache/sha256:00", nil)
		r.RemoteAddr = tc.remote
		r.Host = "localhost:5001"
		w := httptest.NewRecorder()
		s.serveAdmin(w, r, true)
		if w.Code != tc.want || (reached > before) != (tc.want == http.StatusOK) {
			t.Errorf("%s: %d (reached %v), want %d", tc.remote, w.Code, reached > before, tc.want)
		}
	}
	// A loopback peer asking for another name (a page that rebound its
	// name to 127.0.0.1): refused.
	for _, host := range []string{"rebind.example:5001", "example.com", "10.0.0.1:5001"} {
		r := httptest.NewRequest(http.MethodGet, "/_fl/cache", nil)
		r.RemoteAddr, r.Host = "127.0.0.1:4000", host
		w := httptest.NewRecorder()
		s.serveAdmin(w, r, true)
		if w.Code != http.StatusForbidden {
			t.Errorf("Host %s from loopback: %d, want 403", host, w.Code)
		}
	}
	// On --addr without --htpasswd: off.
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/_fl/cache", nil)
	r.RemoteAddr = "127.0.0.1:4000"
	s.serveAdmin(w, r, false)
	if w.Code != http.StatusNotFound {
		t.Errorf("on --addr without --htpasswd: %d", w.Code)
	}
}
