package backend

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"

	"github.com/foreignlayers/fl/pkg/ocierr"
)

// Upstream returns a reverse proxy to an existing registry. Requests pass
// through with their credentials; token-auth challenges come back as the
// registry sent them. Absolute Location headers that point at the upstream
// are rewritten to point at the front, so uploads keep going through it.
func Upstream(target *url.URL, transport http.RoundTripper, log *slog.Logger) (http.Handler, error) {
	if target.Scheme != "http" && target.Scheme != "https" || target.Host == "" {
		return nil, fmt.Errorf("--upstream %q: expected http(s)://HOST[:PORT]", target)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
			pr.Out.Host = target.Host
		},
		ModifyResponse: func(resp *http.Response) error {
			rewriteLocation(resp, target)
			return nil
		},
		Transport:     transport,
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			log.Warn("upstream registry request failed", "method", r.Method, "path", r.URL.Path, "err", err)
			ocierr.WriteStatus(w, http.StatusBadGateway, ocierr.Unavailable, "upstream registry: "+err.Error(), nil)
		},
	}
	return rp, nil
}

func rewriteLocation(resp *http.Response, target *url.URL) {
	loc := resp.Header.Get("Location")
	if loc == "" {
		return
	}
	u, err := url.Parse(loc)
	if err != nil || !u.IsAbs() || u.Host != target.Host {
		return
	}
	in := resp.Request.Header
	host := in.Get("X-Forwarded-Host")
	if host == "" {
		return
	}
	u.Scheme = in.Get("X-Forwarded-Proto")
	if u.Scheme == "" {
		u.Scheme = "http"
	}
	u.Host = host
	resp.Header.Set("Location", u.String())
}
