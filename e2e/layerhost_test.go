package e2e

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/foreignlayers/fl/internal/testutil"
)

// layerHost is where the images' layer URLs point: a testutil.Upstream
// behind a proxy that counts every request, whatever its method, and
// tells fl serve's own fetches (User-Agent fl-serve) from the client's.
type layerHost struct {
	*testutil.Upstream
	proxy *httptest.Server

	mu   sync.Mutex
	seen urlRequests
}

// urlRequests counts requests at the layer URLs.
type urlRequests struct {
	client int // by the client pulling (its own, or following a 307)
	fl     int // by fl serve, fetching for its cache
}

func (a urlRequests) minus(b urlRequests) urlRequests {
	return urlRequests{client: a.client - b.client, fl: a.fl - b.fl}
}

func newLayerHost(t *testing.T) *layerHost {
	h := &layerHost{Upstream: testutil.NewUpstream(t)}
	target, err := url.Parse(h.Upstream.URL("/"))
	if err != nil {
		t.Fatal(err)
	}
	target.Path = ""
	rp := httputil.NewSingleHostReverseProxy(target)
	h.proxy = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		if strings.HasPrefix(r.UserAgent(), "fl-serve") {
			h.seen.fl++
		} else {
			h.seen.client++
		}
		h.mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(h.proxy.Close)
	return h
}

// URL is the address of path through the counting proxy, with host name
// localhost (some clients refuse IP literals in layer URLs).
func (h *layerHost) URL(path string) string {
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(h.proxy.URL, "http://"))
	return "http://localhost:" + port + path
}

// Close stops the proxy and the upstream: connections to the layer URLs
// are refused.
func (h *layerHost) Close() {
	h.proxy.Close()
	h.Upstream.Close()
}

// requests is how many requests the layer URLs have had so far.
func (h *layerHost) requests() urlRequests {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.seen
}
