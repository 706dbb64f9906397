package testutil

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// Proxy is a forward proxy on loopback, as an egress proxy would be: it
// tunnels CONNECT requests and forwards absolute-form requests (plain
// http), and counts both per target host:port.
type Proxy struct {
	*httptest.Server
	mu       sync.Mutex
	connects map[string]int
	forwards map[string]int
	route    func(hostport string) string
}

// NewProxy starts a proxy; it stops when the test ends. route maps a
// target host:port to the address the proxy dials (nil: the target
// itself), so tests can give loopback servers public-looking names.
func NewProxy(t testing.TB, route func(hostport string) string) *Proxy {
	p := &Proxy{connects: map[string]int{}, forwards: map[string]int{}, route: route}
	p.Server = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.Close)
	return p
}

// Connects is how many CONNECT requests the proxy received for
// hostport, or in all for "".
func (p *Proxy) Connects(hostport string) int { return p.count(p.connects, hostport) }

// Forwards is how many absolute-form requests the proxy received for
// hostport, or in all for "".
func (p *Proxy) Forwards(hostport string) int { return p.count(p.forwards, hostport) }

func (p *Proxy) count(m map[string]int, hostport string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if hostport != "" {
		return m[hostport]
	}
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func (p *Proxy) target(hostport string) string {
	if p.route != nil {
		return p.route(hostport)
	}
	return hostport
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodConnect {
		p.mu.Lock()
		p.connects[r.Host]++
		p.mu.Unlock()
		p.tunnel(w, r)
		return
	}
	if !r.URL.IsAbs() {
		http.Error(w, "not a proxy request", http.StatusBadRequest)
		return
	}
	p.mu.Lock()
	p.forwards[r.URL.Host]++
	p.mu.Unlock()
	out := r.Clone(r.Context())
	out.RequestURI = ""
	addr := p.target(r.URL.Host)
	client := &http.Client{
		Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			d := net.Dialer{Timeout: 5 * time.Second}
			return d.DialContext(ctx, network, addr)
		}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

func (p *Proxy) tunnel(w http.ResponseWriter, r *http.Request) {
	up, err := net.DialTimeout("tcp", p.target(r.Host), 5*time.Second)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		up.Close()
		http.Error(w, "no hijacking", http.StatusInternalServerError)
		return
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		up.Close()
		return
	}
	if _, err := conn.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n")); err != nil {
		conn.Close()
		up.Close()
		return
	}
	go func() {
		_, _ = io.Copy(up, buf)
		_ = up.(*net.TCPConn).CloseWrite()
	}()
	_, _ = io.Copy(conn, up)
	conn.Close()
	up.Close()
}
