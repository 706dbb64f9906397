// Package policy decides which foreign-layer URLs fl serve accepts and
// fetches. The same policy runs twice: statically on every URL of a
// manifest at PUT, and again when fetching, on every redirect hop and, after
// DNS resolution, on every address dialled (an SSRF guard from
// code.dny.dev/ssrf), so that a name that resolves to a private address, or
// an allowed host that redirects to one, is refused without a connection.
package policy

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"code.dny.dev/ssrf"
	"golang.org/x/net/idna"

	"github.com/foreignlayers/fl/pkg/fetch"
)

// ErrRefused is wrapped by every refusal.
var ErrRefused = errors.New("URL refused by policy")

// Policy is the URL policy. The zero value refuses plain http and private
// networks and allows every https URL.
type Policy struct {
	Allow, Deny []*regexp.Regexp
	// AllowHTTP allows plain http URLs.
	AllowHTTP bool
	// AllowPrivate turns the address guard off: loopback, private,
	// link-local, CGNAT, multicast and unspecified addresses are allowed.
	AllowPrivate bool
	// AllowNetworks are prefixes allowed even though private.
	AllowNetworks []netip.Prefix

	guardOnce sync.Once
	guard     *ssrf.Guardian
}

// New compiles a policy from flag values.
func New(allow, deny []string, allowHTTP, allowPrivate bool, networks []string) (*Policy, error) {
	p := &Policy{AllowHTTP: allowHTTP, AllowPrivate: allowPrivate}
	for _, s := range allow {
		re, err := regexp.Compile(s)
		if err != nil {
			return nil, fmt.Errorf("--allow-url %q: %w", s, err)
		}
		p.Allow = append(p.Allow, re)
	}
	for _, s := range deny {
		re, err := regexp.Compile(s)
		if err != nil {
			return nil, fmt.Errorf("--deny-url %q: %w", s, err)
		}
		p.Deny = append(p.Deny, re)
	}
	for _, s := range networks {
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("--allow-network %q: %w", s, err)
		}
		p.AllowNetworks = append(p.AllowNetworks, pfx.Masked())
	}
	return p, nil
}

func (p *Policy) guardian() *ssrf.Guardian {
	p.guardOnce.Do(func() {
		var v4, v6 []netip.Prefix
		for _, pfx := range p.AllowNetworks {
			if pfx.Addr().Is4() {
				v4 = append(v4, pfx)
			} else {
				v6 = append(v6, pfx)
			}
		}
		p.guard = ssrf.New(ssrf.WithAnyPort(), ssrf.WithAllowedV4Prefixes(v4...), ssrf.WithAllowedV6Prefixes(v6...))
	})
	return p.guard
}

// Check applies the static rules to one URL: scheme, credentials, allow
// and deny patterns, and (for IP literals) the address rules. The rules
// see the URL's canonical form (see Canonical).
func (p *Policy) Check(raw string) error {
	_, err := p.Canonical(raw)
	return err
}

// Canonical checks raw and returns the canonical form that the rules
// matched, which is the form to fetch or hand out.
func (p *Policy) Canonical(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("%w: %q is not a URL: %v", ErrRefused, raw, err)
	}
	c, err := canonicalize(u)
	if err != nil {
		return "", err
	}
	if err := p.check(c); err != nil {
		return "", err
	}
	return c.String(), nil
}

// Canonicalize returns the canonical form of u, the form the allow and deny
// patterns match: scheme and host lower-cased, a trailing dot of the host
// dropped, the port as a plain decimal number, the scheme's default port
// (443 for https, 80 for http) dropped. Path, query and fragment are kept
// as they are. A URL that has no canonical form (a port that is not a
// number up to 65535, a host that other software reads as an IPv4 address
// in another notation) is returned as it is: the rules refuse it.
func Canonicalize(u *url.URL) *url.URL {
	if c, err := canonicalize(u); err == nil {
		return c
	}
	return u
}

func canonicalize(u *url.URL) (*url.URL, error) {
	c := *u
	c.Scheme = strings.ToLower(c.Scheme)
	host, port := c.Hostname(), c.Port()
	if !ascii(host) {
		// What Go's HTTP client (fl's fetcher, docker, containerd, crane)
		// dials: full-width letters, other dots and the like mapped to
		// their ASCII forms, as IDNA's lookup profile maps them.
		a, err := idna.Lookup.ToASCII(host)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: host %q is not a valid international domain name: %v", ErrRefused, u.Redacted(), host, err)
		}
		host = a
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if port != "" {
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil || strings.Trim(port, "0123456789") != "" {
			return nil, fmt.Errorf("%w: %s: port %q is not a number from 0 to 65535", ErrRefused, u.Redacted(), port)
		}
		port = strconv.FormatUint(n, 10)
	} else if strings.HasSuffix(c.Host, ":") {
		port = "" // "host:" means the default port
	}
	if port == "443" && c.Scheme == "https" || port == "80" && c.Scheme == "http" {
		port = ""
	}
	if err := numericHost(host); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrRefused, u.Redacted(), err)
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	c.Host = host
	return &c, nil
}

// numericHost refuses a host whose last label is a number but which is not
// a dotted-decimal IPv4 address: browsers (the WHATWG URL standard),
// curl and the C library read "2130706433", "0x7f000001", "0177.0.0.1" or
// "127.1" as IPv4 addresses, loopback here, which the address rules could
// not see.
func numericHost(host string) error {
	if strings.Contains(host, ":") {
		return nil // IPv6, checked as an address
	}
	labels := strings.Split(host, ".")
	last := labels[len(labels)-1]
	if last == "" || !isNumber(last) {
		return nil
	}
	if a, err := netip.ParseAddr(host); err == nil && a.Is4() {
		return nil
	}
	return fmt.Errorf("host %q ends in a number but is not a dotted-decimal IPv4 address; clients would read it as an address in another notation", host)
}

// isNumber reports whether s is a decimal, octal or hex number as IPv4
// parsers read one.
func isNumber(s string) bool {
	if h, ok := strings.CutPrefix(s, "0x"); ok {
		return strings.Trim(h, "0123456789abcdef") == ""
	}
	return strings.Trim(s, "0123456789") == ""
}

// CheckURL is Check on a parsed URL; it is also the fetch client's check
// for every redirect hop.
func (p *Policy) CheckURL(u *url.URL) error {
	c, err := canonicalize(u)
	if err != nil {
		return err
	}
	return p.check(c)
}

func (p *Policy) check(u *url.URL) error {
	raw := u.String()
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && p.AllowHTTP:
	case u.Scheme == "http":
		return fmt.Errorf("%w: %s: plain http is not allowed (use https, or start fl serve with --allow-http)", ErrRefused, raw)
	default:
		return fmt.Errorf("%w: %s: scheme %q is not allowed (only https, and http with --allow-http)", ErrRefused, raw, u.Scheme)
	}
	if u.Host == "" {
		return fmt.Errorf("%w: %s: no host", ErrRefused, raw)
	}
	if u.User != nil {
		return fmt.Errorf("%w: %s: URLs with credentials are not allowed", ErrRefused, u.Redacted())
	}
	for _, re := range p.Deny {
		if re.MatchString(raw) {
			return fmt.Errorf("%w: %s matches --deny-url %s", ErrRefused, raw, re)
		}
	}
	if len(p.Allow) > 0 {
		ok := false
		for _, re := range p.Allow {
			if re.MatchString(raw) {
				ok = true
				break
			}
		}
		if !ok {
			return fmt.Errorf("%w: %s matches no --allow-url pattern", ErrRefused, raw)
		}
	}
	if p.AllowPrivate {
		return nil
	}
	host := strings.TrimSuffix(strings.TrimPrefix(u.Hostname(), "["), "]")
	if lh := strings.ToLower(strings.TrimSuffix(host, ".")); lh == "localhost" || strings.HasSuffix(lh, ".localhost") {
		// RFC 6761: these names are loopback, whatever DNS says; they are
		// allowed where loopback is (--allow-network 127.0.0.1/32).
		if !p.allowsLoopback() {
			return fmt.Errorf("%w: %s: %s is a loopback name (start fl serve with --allow-network 127.0.0.1/32, or --allow-private-networks)", ErrRefused, raw, host)
		}
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if err := p.guardian().SafeAddr(ip.Unmap()); err != nil {
			return fmt.Errorf("%w: %s: %s is not a public address (start fl serve with --allow-private-networks, or --allow-network CIDR): %v", ErrRefused, raw, ip, err)
		}
	}
	return nil
}

// dial is the guard run on every socket, after DNS resolution.
func (p *Policy) dial(network, address string, c syscall.RawConn) error {
	if err := p.guardian().Safe(network, address, c); err != nil {
		return fmt.Errorf("%w: %w: dialling %s: %v (start fl serve with --allow-private-networks, or --allow-network CIDR)", fetch.ErrRefused, ErrRefused, address, err)
	}
	return nil
}

// FetchOptions make a fetch client enforce the policy on every request,
// redirect hop and dialled address.
func (p *Policy) FetchOptions() []fetch.Option {
	opts := []fetch.Option{fetch.WithURLCheck(p.CheckURL)}
	if !p.AllowPrivate {
		opts = append(opts, fetch.WithDialControl(p.dial))
	}
	return opts
}

func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// allowsLoopback reports whether an allowed network holds 127.0.0.1.
func (p *Policy) allowsLoopback() bool {
	for _, pfx := range p.AllowNetworks {
		if pfx.Contains(netip.MustParseAddr("127.0.0.1")) {
			return true
		}
	}
	return false
}

// String describes the policy in a line, for logs.
func (p *Policy) String() string {
	var parts []string
	if p.AllowHTTP {
		parts = append(parts, "http and https")
	} else {
		parts = append(parts, "https only")
	}
	switch {
	case p.AllowPrivate:
		parts = append(parts, "any address")
	case len(p.AllowNetworks) > 0:
		nets := make([]string, len(p.AllowNetworks))
		for i, n := range p.AllowNetworks {
			nets[i] = n.String()
		}
		parts = append(parts, "public addresses and "+strings.Join(nets, ", "))
	default:
		parts = append(parts, "public addresses only")
	}
	if len(p.Allow) > 0 {
		parts = append(parts, fmt.Sprintf("%d --allow-url", len(p.Allow)))
	}
	if len(p.Deny) > 0 {
		parts = append(parts, fmt.Sprintf("%d --deny-url", len(p.Deny)))
	}
	return strings.Join(parts, "; ")
}
