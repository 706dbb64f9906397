package commands

import (
	"context"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/foreignlayers/fl/internal/testutil"
)

// privateHostname is this machine's name, if it resolves (through
// /etc/hosts, as on most machines and containers) only to loopback or
// private addresses: a real name that the static rules cannot see is
// private. The test is skipped otherwise.
func privateHostname(t *testing.T) string {
	t.Helper()
	h, err := os.Hostname()
	if err != nil || h == "" || strings.EqualFold(h, "localhost") {
		t.Skipf("no host name to use: %q %v", h, err)
	}
	addrs, err := net.DefaultResolver.LookupNetIP(context.Background(), "ip", h)
	if err != nil || len(addrs) == 0 {
		t.Skipf("the host name %q does not resolve: %v", h, err)
	}
	for _, a := range addrs {
		if !a.Unmap().IsLoopback() {
			t.Skipf("the host name %q resolves to %v, not only loopback", h, addrs)
		}
	}
	return h
}

// fl serve --proxy: a layer whose host fl resolves to an allowed address
// is fetched through the proxy; without --allow-network, the same host
// (a name that resolves to loopback) is refused before the proxy, or the
// upstream, sees anything.
func TestServeProxy(t *testing.T) {
	t.Parallel()
	host := privateHostname(t)
	up := testutil.NewUpstream(t)
	gz := testutil.Gzip(t, randomBytesTar(t, 64<<10))
	up.Put("/l.tar.gz", gz)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(up.Server.URL, "http://"))
	layerURL := "http://" + host + ":" + port + "/l.tar.gz"
	proxy := testutil.NewProxy(t, nil)

	refusing := serve(t, "--proxy", proxy.URL, "--allow-http")
	l := buildTo(t, refusing.addr+"/proxy/x:1", "--layer", layerURL)
	builds := up.Gets("/l.tar.gz") // fl build read it once
	resp, body, _ := blob(t, http.MethodGet, refusing.addr, "proxy/x", l.Digest)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "not asking the proxy") {
		t.Errorf("a host resolving to loopback, through the proxy: %d %s", resp.StatusCode, body)
	}
	if n := proxy.Forwards("") + proxy.Connects(""); n != 0 || up.Gets("/l.tar.gz") != builds {
		t.Errorf("the proxy saw %d requests, the upstream %d GETs: want none", n, up.Gets("/l.tar.gz")-builds)
	}

	allowing := serve(t, "--proxy", proxy.URL, "--allow-http", "--allow-network", "127.0.0.0/8")
	buildTo(t, allowing.addr+"/proxy/x:1", "--layer", layerURL)
	builds = up.Gets("/l.tar.gz")
	resp, body, err := blob(t, http.MethodGet, allowing.addr, "proxy/x", l.Digest)
	if resp.StatusCode != 200 || err != nil || string(body) != string(gz) {
		t.Fatalf("an allowed host through the proxy: %d %v (%d bytes)", resp.StatusCode, err, len(body))
	}
	if n := proxy.Forwards(host + ":" + port); n != 1 || up.Gets("/l.tar.gz") != builds+1 {
		t.Errorf("the proxy forwarded %d requests, the upstream saw %d GETs: want 1 each", n, up.Gets("/l.tar.gz")-builds)
	}

	if r := fl(t, "serve", "--proxy", "socks5://x:1", "--data-dir", t.TempDir()); r.code == 0 || !strings.Contains(r.stderr, "--proxy") {
		t.Errorf("fl serve --proxy socks5: exit %d\n%s", r.code, r.stderr)
	}
}
