package policy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"golang.org/x/net/http/httpproxy"

	"github.com/foreignlayers/fl/pkg/fetch"
)

// Resolver resolves host names; net.DefaultResolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// ProxyConfig is an egress proxy for layer fetches.
type ProxyConfig struct {
	// URL is the proxy (http or https); empty with FromEnv.
	URL string
	// FromEnv takes the proxy from HTTPS_PROXY, HTTP_PROXY and NO_PROXY
	// (read once, now) instead.
	FromEnv bool
	// Resolver resolves layer URLs' hosts (net.DefaultResolver if nil).
	Resolver Resolver
}

// ProxyOptions make a fetch client send layer fetches through the proxy.
// The static rules still run on every URL and redirect hop. Before a
// request is handed to the proxy, fl resolves the URL's host itself and
// refuses it if any of its addresses breaks the policy's address rules,
// so the proxy is never asked to connect to one. This is weaker than the
// dial guard of direct connections: the proxy resolves the name again,
// and DNS may answer differently (rebinding). A request that the
// environment sends direct (NO_PROXY) keeps the dial guard.
func (l *Live) ProxyOptions(pc ProxyConfig) ([]fetch.Option, error) {
	var which func(*url.URL) (*url.URL, error)
	switch {
	case pc.URL != "" && pc.FromEnv:
		return nil, errors.New("--proxy and --use-env-proxy: choose one")
	case pc.FromEnv:
		which = httpproxy.FromEnvironment().ProxyFunc()
	case pc.URL != "":
		u, err := url.Parse(pc.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("--proxy %q: want http(s)://HOST:PORT", redact(pc.URL))
		}
		which = func(*url.URL) (*url.URL, error) { return u, nil }
	default:
		return nil, nil
	}
	res := pc.Resolver
	if res == nil {
		res = net.DefaultResolver
	}
	proxy := func(req *http.Request) (*url.URL, error) {
		pu, err := which(req.URL)
		if err != nil || pu == nil {
			return pu, err
		}
		if err := l.Load().checkHost(req.Context(), res, req.URL.Hostname()); err != nil {
			return nil, err
		}
		return pu, nil
	}
	return []fetch.Option{fetch.WithProxy(proxy)}, nil
}

// checkHost resolves host and refuses it unless every address it has
// passes the address rules.
func (p *Policy) checkHost(ctx context.Context, res Resolver, host string) error {
	if p.AllowPrivate {
		return nil
	}
	host = strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"), ".")
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else if addrs, err = res.LookupNetIP(ctx, "ip", host); err != nil {
		return fmt.Errorf("%w: resolving %s before asking the proxy: %w", fetch.ErrRefused, host, err)
	}
	if len(addrs) == 0 {
		return fmt.Errorf("%w: %s has no address", fetch.ErrRefused, host)
	}
	for _, a := range addrs {
		if err := p.guardian().SafeAddr(a.Unmap()); err != nil {
			return fmt.Errorf("%w: %w: %s resolves to %s: %v; not asking the proxy (start fl serve with --allow-private-networks, or --allow-network CIDR)", fetch.ErrRefused, ErrRefused, host, a, err)
		}
	}
	return nil
}

// redact hides a proxy URL's password.
func redact(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	return "(unparsable)"
}
