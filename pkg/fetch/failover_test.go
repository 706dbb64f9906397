package fetch

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// withNoSuchHost makes host fail as a DNS lookup does ("no such host"),
// without asking any DNS server: tests stay on loopback.
func withNoSuchHost(c *Client, host string) *Client {
	tr := c.hc.Transport.(*http.Transport)
	dial := tr.DialContext
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if h, _, _ := net.SplitHostPort(addr); h == host {
			return nil, &net.OpError{Op: "dial", Net: network, Err: &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}}
		}
		return dial(ctx, network, addr)
	}
	return c
}

// TestFailoverIsImmediate: with the default retries (four attempts, 0.5 s
// backoff doubling, 3.5 s in all), a mirror that refuses connections or
// whose name does not resolve hands over to the next URL at once.
func TestFailoverIsImmediate(t *testing.T) {
	good := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("mirror")) }))
	defer good.Close()
	refused := "http://" + closedAddr(t) + "/x"
	for _, tc := range []struct {
		name, url string
		kind      error
	}{
		{"connection refused", refused, ErrConnect},
		{"no such host", "http://mirror.invalid/x", ErrDNS},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := withNoSuchHost(New(), "mirror.invalid")
			start := time.Now()
			b, err := c.OpenAny(context.Background(), []string{tc.url, good.URL + "/a"})
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(b)
			if string(got) != "mirror" {
				t.Errorf("got %q", got)
			}
			if d := time.Since(start); d > 400*time.Millisecond {
				t.Errorf("failover took %v: retried instead of handing over", d)
			}
			_, err = c.Open(context.Background(), tc.url)
			if !errors.Is(err, tc.kind) {
				t.Errorf("err = %v, want %v", err, tc.kind)
			}
		})
	}
}

// TestRetriesAreForTimeoutsAnd5xx: a 503 and a header timeout are retried
// with backoff; a 404 is not.
func TestRetriesAreForTimeoutsAnd5xx(t *testing.T) {
	var gets atomic.Int32
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := gets.Add(1)
		switch {
		case strings.HasSuffix(r.URL.Path, "/503") && n < 3:
			w.WriteHeader(http.StatusServiceUnavailable)
		case strings.HasSuffix(r.URL.Path, "/slow") && n < 3:
			time.Sleep(400 * time.Millisecond)
		case strings.HasSuffix(r.URL.Path, "/404"):
			http.NotFound(w, r)
		default:
			_, _ = w.Write([]byte("ok"))
		}
	}))
	defer s.Close()
	c := New(WithRetries(4, time.Millisecond), WithTimeouts(time.Second, 200*time.Millisecond, time.Second))
	for _, tc := range []struct {
		path string
		gets int32
		ok   bool
	}{{"/503", 3, true}, {"/slow", 3, true}, {"/404", 1, false}} {
		gets.Store(0)
		b, err := c.Open(context.Background(), s.URL+tc.path)
		if (err == nil) != tc.ok || gets.Load() != tc.gets {
			t.Errorf("%s: err %v after %d GETs, want ok=%v after %d", tc.path, err, gets.Load(), tc.ok, tc.gets)
		}
		if b != nil {
			b.Close()
		}
	}
}

func closedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
