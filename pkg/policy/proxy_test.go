package policy_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/foreignlayers/fl/internal/testutil"
	"github.com/foreignlayers/fl/pkg/fetch"
	"github.com/foreignlayers/fl/pkg/policy"
)

// fakeDNS answers names from a table.
type fakeDNS map[string][]string

func (f fakeDNS) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, s := range f[host] {
		out = append(out, netip.MustParseAddr(s))
	}
	if len(out) == 0 {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return out, nil
}

// Through an egress proxy: a host that resolves to public addresses is
// fetched through one CONNECT; hosts that resolve to a private address
// (or to a public and a private one), and URLs the static rules refuse,
// are refused before the proxy sees anything.
func TestProxyRefusesPrivateBeforeConnect(t *testing.T) {
	t.Parallel()
	site := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "https://internal.example.com/layer", http.StatusFound)
			return
		}
		_, _ = io.WriteString(w, "layer bytes")
	}))
	t.Cleanup(site.Close)
	// Every name the proxy is asked for is the test site.
	proxy := testutil.NewProxy(t, func(string) string { return site.Listener.Addr().String() })
	dns := fakeDNS{
		"example.com":          {"93.184.215.14"},
		"internal.example.com": {"10.1.2.3"},
		"mixed.example.com":    {"93.184.215.14", "127.0.0.1"},
		"meta.example.com":     {"169.254.169.254"},
		"v6.example.com":       {"fd00::7"},
	}
	pool := x509.NewCertPool()
	pool.AddCert(site.Certificate())

	client := func(t *testing.T, p *policy.Policy) *fetch.Client {
		live := policy.NewLive(p)
		popts, err := live.ProxyOptions(policy.ProxyConfig{URL: proxy.URL, Resolver: dns})
		if err != nil {
			t.Fatal(err)
		}
		opts := append([]fetch.Option{fetch.WithNoRetries(), fetch.WithTLSConfig(&tls.Config{RootCAs: pool})}, live.FetchOptions()...)
		return fetch.New(append(opts, popts...)...)
	}
	get := func(c *fetch.Client, url string) (string, error) {
		b, err := c.Open(context.Background(), url)
		if err != nil {
			return "", err
		}
		defer b.Close()
		out, err := io.ReadAll(b)
		return string(out), err
	}

	deny, err := policy.New(nil, []string{`^https://example\.com/denied`}, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := client(t, deny)
	if body, err := get(c, "https://example.com/layer"); err != nil || body != "layer bytes" {
		t.Fatalf("a public host through the proxy: %q %v", body, err)
	}
	if n := proxy.Connects("example.com:443"); n != 1 {
		t.Fatalf("%d CONNECTs for example.com:443, want 1", n)
	}
	for _, u := range []string{
		"https://internal.example.com/layer",
		"https://mixed.example.com/layer",
		"https://meta.example.com/latest",
		"https://v6.example.com/layer",
		"https://10.0.0.1/layer",        // static: a private literal
		"https://example.com/denied/x",  // static: --deny-url
		"http://example.com/layer",      // static: plain http
		"https://unknown.example.com/x", // does not resolve
		"https://example.com/redirect",  // a public host redirecting to a private one
	} {
		_, err := get(c, u)
		if !errors.Is(err, fetch.ErrRefused) {
			t.Errorf("%s: %v, want refused", u, err)
		}
	}
	// The redirect's first hop may reuse the tunnel to example.com.
	if n, public := proxy.Connects(""), proxy.Connects("example.com:443"); n != public {
		t.Errorf("the proxy saw %d CONNECTs in all, %d of them to example.com: want none elsewhere", n, public)
	}
	if n := proxy.Forwards(""); n != 0 {
		t.Errorf("the proxy saw %d forwarded requests", n)
	}

	// --allow-network opens one range, through the proxy too.
	open, err := policy.New(nil, nil, false, false, []string{"10.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	if body, err := get(client(t, open), "https://internal.example.com/layer"); err != nil || body != "layer bytes" {
		t.Errorf("an allowed network through the proxy: %q %v", body, err)
	}
	if n := proxy.Connects("internal.example.com:443"); n != 1 {
		t.Errorf("%d CONNECTs for internal.example.com:443, want 1", n)
	}
}

// HTTPS_PROXY is used only when asked for, and NO_PROXY hosts connect
// directly, under the dial guard.
func TestProxyFromEnvironment(t *testing.T) {
	proxy := testutil.NewProxy(t, nil)
	t.Setenv("HTTPS_PROXY", proxy.URL)
	t.Setenv("NO_PROXY", "direct.example.com")
	live := policy.NewLive(&policy.Policy{})
	dns := fakeDNS{"direct.example.com": {"127.0.0.1"}, "internal.example.com": {"10.9.9.9"}}
	popts, err := live.ProxyOptions(policy.ProxyConfig{FromEnv: true, Resolver: dns})
	if err != nil {
		t.Fatal(err)
	}
	c := fetch.New(append(append([]fetch.Option{fetch.WithNoRetries()}, live.FetchOptions()...), popts...)...)
	if _, err := c.Open(context.Background(), "https://internal.example.com/x"); !errors.Is(err, fetch.ErrRefused) {
		t.Errorf("a private host via HTTPS_PROXY: %v", err)
	}
	// Direct (NO_PROXY): the system resolver, then the dial guard. The
	// name does not resolve here, or resolves and is refused at dial;
	// either way, never through the proxy.
	_, _ = c.Open(context.Background(), "https://direct.example.com/x")
	if n := proxy.Connects(""); n != 0 {
		t.Errorf("the proxy saw %d CONNECTs", n)
	}
	if _, err := live.ProxyOptions(policy.ProxyConfig{URL: proxy.URL, FromEnv: true}); err == nil || !strings.Contains(err.Error(), "choose one") {
		t.Errorf("--proxy with --use-env-proxy: %v", err)
	}
	for _, bad := range []string{"ftp://proxy:21", "proxy:3128", "http://"} {
		if _, err := live.ProxyOptions(policy.ProxyConfig{URL: bad}); err == nil {
			t.Errorf("--proxy %q accepted", bad)
		}
	}
}
