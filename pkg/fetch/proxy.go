package fetch

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"sync"
)

// proxyDialing returns a transport's Proxy and DialContext for WithProxy:
// the addresses of the proxies that proxy named are dialled without the
// dial control (the operator chose them, often on a private network);
// every other address, a direct connection, goes through guarded.
func proxyDialing(proxy func(*http.Request) (*url.URL, error), guarded *net.Dialer) (func(*http.Request) (*url.URL, error), func(context.Context, string, string) (net.Conn, error)) {
	var proxies sync.Map // host:port of a proxy named → true
	plain := *guarded
	plain.Control = nil
	named := func(req *http.Request) (*url.URL, error) {
		u, err := proxy(req)
		if err == nil && u != nil {
			proxies.Store(proxyAddr(u), true)
		}
		return u, err
	}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		if _, ok := proxies.Load(addr); ok {
			return plain.DialContext(ctx, network, addr)
		}
		return guarded.DialContext(ctx, network, addr)
	}
	return named, dial
}

// proxyAddr is the host:port the transport dials for proxy u.
func proxyAddr(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443", "socks5": "1080", "socks5h": "1080"}[u.Scheme]
	}
	return net.JoinHostPort(u.Hostname(), port)
}
