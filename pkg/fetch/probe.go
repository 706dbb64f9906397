package fetch

import (
	"context"
	"net/http"
	"strconv"
	"strings"
)

// Probe is what a URL says about its content without sending it.
type Probe struct {
	URL      string `json:"url"`
	FinalURL string `json:"final_url"`
	Hops     []Hop  `json:"redirects,omitempty"`
	// Size is the content's length, or -1 if the server would not say.
	Size int64 `json:"size"`
}

// Moved reports whether a hop was a permanent redirect (301 or 308): the
// URL should be updated. Temporary redirects, to a CDN say, are normal.
func (p *Probe) Moved() bool {
	for _, h := range p.Hops {
		if h.Status == http.StatusMovedPermanently || h.Status == http.StatusPermanentRedirect {
			return true
		}
	}
	return false
}

// Probe asks for rawURL's size with HEAD, falling back to a GET of its
// first byte when HEAD is refused or says no length. It retries like Open.
func (c *Client) Probe(ctx context.Context, rawURL string) (*Probe, error) {
	u, err := c.parse(rawURL)
	if err != nil {
		return nil, err
	}
	p := &Probe{URL: u.String(), Size: -1}
	backoff := c.cfg.backoff
	for attempt := 1; ; attempt++ {
		err = c.probeOnce(ctx, p)
		if err == nil || !retryable(err) || attempt >= c.cfg.attempts {
			return p, err
		}
		if serr := sleep(ctx, backoff); serr != nil {
			return p, err
		}
		backoff *= 2
	}
}

func (c *Client) probeOnce(ctx context.Context, p *Probe) error {
	p.Hops = p.Hops[:0]
	resp, err := c.request(ctx, http.MethodHead, p, nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK && resp.ContentLength >= 0 {
		p.Size = resp.ContentLength
		return nil
	}
	if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone {
		return &Error{URL: p.URL, Kind: ErrStatus, StatusCode: resp.StatusCode}
	}
	// HEAD refused, or no length: ask for the first byte.
	p.Hops = p.Hops[:0]
	resp, err = c.request(ctx, http.MethodGet, p, http.Header{"Range": {"bytes=0-0"}})
	if err != nil {
		return err
	}
	defer drain(resp.Body)
	switch resp.StatusCode {
	case http.StatusPartialContent:
		if i := strings.LastIndex(resp.Header.Get("Content-Range"), "/"); i >= 0 {
			if n, err := strconv.ParseInt(resp.Header.Get("Content-Range")[i+1:], 10, 64); err == nil {
				p.Size = n
			}
		}
		return nil
	case http.StatusOK:
		p.Size = resp.ContentLength
		return nil
	}
	return &Error{URL: p.URL, Kind: ErrStatus, StatusCode: resp.StatusCode}
}

func (c *Client) request(ctx context.Context, method string, p *Probe, hdr http.Header) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, p.URL, nil)
	if err != nil {
		return nil, &Error{URL: p.URL, Kind: ErrBadURL, Err: err}
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := c.do(req, &p.Hops)
	if err != nil {
		return nil, classify(p.URL, err)
	}
	p.FinalURL = resp.Request.URL.String()
	return resp, nil
}
