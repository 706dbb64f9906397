package fetch

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"syscall"
	"time"
)

// Client fetches URLs with timeouts, retries and resumption.
// The zero value is not usable; call [New].
type Client struct {
	hc  *http.Client
	cfg config
}

type config struct {
	connectTimeout time.Duration
	headerTimeout  time.Duration
	readTimeout    time.Duration
	attempts       int // for a new request
	resumes        int // for resuming a body part way
	stallFailover  bool
	backoff        time.Duration
	maxRedirects   int
	userAgent      string
	tlsConfig      *tls.Config
	dialControl    func(network, address string, c syscall.RawConn) error
	checkURL       func(*url.URL) error
	proxy          func(*http.Request) (*url.URL, error)
	logger         *slog.Logger
}

// Option configures a Client.
type Option func(*config)

// WithTimeouts sets the connect, response-header and idle-read timeouts.
// A zero value keeps the default.
func WithTimeouts(connect, header, read time.Duration) Option {
	return func(c *config) {
		if connect > 0 {
			c.connectTimeout = connect
		}
		if header > 0 {
			c.headerTimeout = header
		}
		if read > 0 {
			c.readTimeout = read
		}
	}
}

// WithRetries sets how many attempts a request gets in all (at least 1),
// and the first backoff, which doubles after each failed attempt.
func WithRetries(attempts int, backoff time.Duration) Option {
	return func(c *config) {
		c.attempts = max(attempts, 1)
		c.resumes = c.attempts
		c.backoff = backoff
	}
}

// WithStallFailover makes a body that stalls part way (nothing for the
// read timeout) fail instead of resuming from the same URL, so that a
// caller with mirrors takes over from another; a broken connection still
// resumes.
func WithStallFailover() Option { return func(c *config) { c.stallFailover = true } }

// WithNoRetries makes a new request fail at its first failure, so that a
// caller with other URLs tries the next one at once; a body broken part
// way still resumes.
func WithNoRetries() Option { return func(c *config) { c.attempts = 1 } }

// WithMaxRedirects sets how many redirect hops a request may follow.
func WithMaxRedirects(n int) Option { return func(c *config) { c.maxRedirects = n } }

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option { return func(c *config) { c.userAgent = ua } }

// WithTLSConfig sets the TLS client configuration (for private CAs).
func WithTLSConfig(t *tls.Config) Option { return func(c *config) { c.tlsConfig = t } }

// WithDialControl installs a check that runs on every socket after DNS
// resolution and before connecting: the place for an SSRF guard.
func WithDialControl(f func(network, address string, c syscall.RawConn) error) Option {
	return func(c *config) { c.dialControl = f }
}

// WithURLCheck installs a check that runs on the URL of every request and
// every redirect hop. Return an error wrapping [ErrRefused] to refuse one.
func WithURLCheck(f func(*url.URL) error) Option { return func(c *config) { c.checkURL = f } }

// WithProxy sends requests through the proxy that proxy names for each
// one (nil: a direct connection). Dialling a proxy it named skips the dial
// control, which then guards only direct connections: proxy must check
// what it lets through (pkg/policy's proxy does, before naming one).
func WithProxy(proxy func(*http.Request) (*url.URL, error)) Option {
	return func(c *config) { c.proxy = proxy }
}

// WithLogger sets the logger for retries and resumptions.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// New returns a Client.
func New(opts ...Option) *Client {
	cfg := config{
		connectTimeout: 10 * time.Second,
		headerTimeout:  30 * time.Second,
		readTimeout:    60 * time.Second,
		attempts:       4,
		resumes:        4,
		backoff:        500 * time.Millisecond,
		maxRedirects:   5,
		userAgent:      "fl",
		logger:         slog.New(slog.DiscardHandler),
	}
	for _, o := range opts {
		o(&cfg)
	}
	dialer := &net.Dialer{Timeout: cfg.connectTimeout, KeepAlive: 30 * time.Second, Control: cfg.dialControl}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		TLSClientConfig:       cfg.tlsConfig,
		TLSHandshakeTimeout:   cfg.connectTimeout,
		ResponseHeaderTimeout: cfg.headerTimeout,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   8,
		ForceAttemptHTTP2:     true,
		// Layers are already compressed; never let the transport gunzip them.
		DisableCompression: true,
	}
	if cfg.dialControl != nil {
		// A proxy would dial on our behalf and dodge the guard.
		tr.Proxy = nil
	}
	if cfg.proxy != nil {
		tr.Proxy, tr.DialContext = proxyDialing(cfg.proxy, dialer)
	}
	return &Client{hc: &http.Client{Transport: tr}, cfg: cfg}
}

// Open starts a GET of rawURL and returns its body once the server has
// answered 200. The body resumes by itself after a broken connection.
func (c *Client) Open(ctx context.Context, rawURL string) (*Body, error) {
	u, err := c.parse(rawURL)
	if err != nil {
		return nil, err
	}
	b := &Body{c: c, ctx: ctx, url: u.String(), size: -1}
	if err := b.connect(0); err != nil {
		return nil, err
	}
	return b, nil
}

// OpenFrom starts a GET of rawURL from byte offset (a Range request), for
// taking over a download another mirror of the same content began. The
// server must answer 206 from exactly that byte.
func (c *Client) OpenFrom(ctx context.Context, rawURL string, offset int64) (*Body, error) {
	if offset <= 0 {
		return c.Open(ctx, rawURL)
	}
	u, err := c.parse(rawURL)
	if err != nil {
		return nil, err
	}
	b := &Body{c: c, ctx: ctx, url: u.String(), size: -1, offset: offset, ranges: true}
	if err := b.connect(offset); err != nil {
		return nil, err
	}
	return b, nil
}

// OpenAny opens the first URL of urls that answers, in order: mirrors of
// one piece of content. The error lists why each one failed.
func (c *Client) OpenAny(ctx context.Context, urls []string) (*Body, error) {
	if len(urls) == 0 {
		return nil, ErrNoURL
	}
	var errs []error
	for _, u := range urls {
		b, err := c.Open(ctx, u)
		if err == nil {
			return b, nil
		}
		if ctx.Err() != nil {
			return nil, err
		}
		if len(urls) > 1 {
			c.cfg.logger.WarnContext(ctx, "mirror failed, trying the next", "url", u, "err", err)
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

func (c *Client) parse(rawURL string) (*url.URL, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, &Error{URL: rawURL, Kind: ErrBadURL, Err: err}
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, &Error{URL: rawURL, Kind: ErrBadURL, Err: fmt.Errorf("scheme %q is not http or https", u.Scheme)}
	}
	if u.Host == "" {
		return nil, &Error{URL: rawURL, Kind: ErrBadURL, Err: errors.New("no host")}
	}
	if c.cfg.checkURL != nil {
		if err := c.cfg.checkURL(u); err != nil {
			return nil, &Error{URL: rawURL, Kind: ErrRefused, Err: err}
		}
	}
	return u, nil
}

// Hop is one redirect followed: the status that redirected, and where to.
type Hop struct {
	Status int    `json:"status"`
	URL    string `json:"url"`
}

// do sends one request, following redirects under the client's rules.
// It records the redirect chain in *hops.
func (c *Client) do(req *http.Request, hops *[]Hop) (*http.Response, error) {
	hc := *c.hc
	hc.CheckRedirect = func(r *http.Request, via []*http.Request) error {
		if len(via) > c.cfg.maxRedirects {
			return fmt.Errorf("%w: more than %d", ErrRedirected, c.cfg.maxRedirects)
		}
		if r.URL.Scheme != "http" && r.URL.Scheme != "https" {
			return fmt.Errorf("%w: redirect to scheme %q", ErrRefused, r.URL.Scheme)
		}
		if c.cfg.checkURL != nil {
			if err := c.cfg.checkURL(r.URL); err != nil {
				return fmt.Errorf("%w: redirect to %s: %w", ErrRefused, r.URL.Redacted(), err)
			}
		}
		// Never carry credentials across hops, whatever the host.
		r.Header.Del("Authorization")
		r.Header.Del("Cookie")
		status := 0
		if r.Response != nil {
			status = r.Response.StatusCode
		}
		*hops = append(*hops, Hop{Status: status, URL: r.URL.String()})
		return nil
	}
	req.Header.Set("User-Agent", c.cfg.userAgent)
	return hc.Do(req)
}

// drain reads and discards at most 64 KiB of an unwanted body, so the
// connection can be reused, then closes it.
func drain(rc io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(rc, 64<<10))
	_ = rc.Close()
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
