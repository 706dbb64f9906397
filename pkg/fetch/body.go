package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Body is the content of one URL, read as a stream. When the connection
// breaks part way, Read reconnects with a Range request from the byte it
// had reached, at most as many times as the client allows attempts.
type Body struct {
	c    *Client
	ctx  context.Context
	url  string
	size int64 // from Content-Length; -1 if unknown

	resp      *http.Response
	cancel    context.CancelFunc
	timer     *time.Timer
	timedOut  atomic.Bool
	validator string // ETag or Last-Modified, for If-Range
	ranges    bool   // server advertised Accept-Ranges: bytes
	hops      []Hop
	finalURL  string

	offset  int64
	resumes int
}

// URL is the URL that was asked for.
func (b *Body) URL() string { return b.url }

// FinalURL is the URL that answered, after redirects.
func (b *Body) FinalURL() string { return b.finalURL }

// Redirects is the chain of redirects followed, in order.
func (b *Body) Redirects() []Hop { return b.hops }

// Size is the Content-Length of the whole body, or -1 if the server did
// not say.
func (b *Body) Size() int64 { return b.size }

// Resumes is how many times the body was resumed after a broken read.
func (b *Body) Resumes() int { return b.resumes }

// Read implements io.Reader.
func (b *Body) Read(p []byte) (int, error) {
	for {
		b.timer.Reset(b.c.cfg.readTimeout)
		n, err := b.resp.Body.Read(p)
		b.offset += int64(n)
		if err == nil || n > 0 && err != io.EOF {
			return n, nil
		}
		if err == io.EOF {
			if b.size >= 0 && b.offset < b.size {
				err = io.ErrUnexpectedEOF
			} else {
				return n, io.EOF
			}
		}
		rerr := b.readError(err)
		if !b.resumable() || b.ctx.Err() != nil || b.c.cfg.stallFailover && b.timedOut.Load() {
			return n, rerr
		}
		b.c.cfg.logger.WarnContext(b.ctx, "download interrupted, resuming", "url", b.url, "offset", b.offset, "err", rerr)
		b.resumes++
		if cerr := b.connect(b.offset); cerr != nil {
			return n, fmt.Errorf("resuming after %w: %w", rerr, cerr)
		}
		if n > 0 {
			return n, nil
		}
	}
}

// Close releases the connection.
func (b *Body) Close() error {
	b.release()
	return nil
}

func (b *Body) release() {
	if b.timer != nil {
		b.timer.Stop()
	}
	if b.resp != nil {
		_ = b.resp.Body.Close()
	}
	if b.cancel != nil {
		b.cancel()
	}
}

func (b *Body) resumable() bool {
	return b.resumes+1 < b.c.cfg.resumes && b.ranges && b.offset > 0
}

func (b *Body) readError(err error) error {
	if b.timedOut.Load() {
		return &Error{URL: b.url, Kind: ErrTimeout, Err: fmt.Errorf("no data for %v", b.c.cfg.readTimeout)}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return &Error{URL: b.url, Kind: ErrConnect, Err: fmt.Errorf("connection closed after %d of %d bytes", b.offset, b.size)}
	}
	return classify(b.url, err)
}

// connect (re)opens the URL from offset, retrying transient failures.
func (b *Body) connect(offset int64) error {
	cfg := b.c.cfg
	backoff := cfg.backoff
	var last error
	attempts := cfg.attempts
	if offset > 0 {
		attempts = cfg.resumes
	}
	for attempt := 1; attempt <= attempts; attempt++ {
		if attempt > 1 {
			cfg.logger.WarnContext(b.ctx, "fetch failed, retrying", "url", b.url, "attempt", attempt, "err", last)
			if err := sleep(b.ctx, backoff); err != nil {
				return last
			}
			backoff *= 2
		}
		last = b.attempt(offset)
		if last == nil || !retryable(last) {
			return last
		}
	}
	return last
}

func (b *Body) attempt(offset int64) error {
	b.release()
	ctx, cancel := context.WithCancel(b.ctx)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.url, nil)
	if err != nil {
		cancel()
		return &Error{URL: b.url, Kind: ErrBadURL, Err: err}
	}
	if offset > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(offset, 10)+"-")
		if b.validator != "" {
			req.Header.Set("If-Range", b.validator)
		}
	}
	b.hops = b.hops[:0]
	resp, err := b.c.do(req, &b.hops)
	if err != nil {
		cancel()
		return classify(b.url, err)
	}
	want := http.StatusOK
	if offset > 0 {
		want = http.StatusPartialContent
	}
	if resp.StatusCode != want {
		// Not drained: an error body that stalls must not hold the fetch.
		cancel()
		_ = resp.Body.Close()
		if offset > 0 && resp.StatusCode == http.StatusOK {
			return &Error{URL: b.url, Kind: ErrChanged, Err: errors.New("the server no longer honours the Range request")}
		}
		return &Error{URL: b.url, Kind: ErrStatus, StatusCode: resp.StatusCode}
	}
	if offset > 0 {
		if start, ok := contentRangeStart(resp.Header.Get("Content-Range")); !ok || start != offset {
			cancel()
			_ = resp.Body.Close()
			return &Error{URL: b.url, Kind: ErrChanged, Err: fmt.Errorf("asked for bytes from %d, got Content-Range %q", offset, resp.Header.Get("Content-Range"))}
		}
	} else {
		b.size = resp.ContentLength
		b.validator = resp.Header.Get("ETag")
		if b.validator == "" || strings.HasPrefix(b.validator, "W/") {
			b.validator = resp.Header.Get("Last-Modified")
		}
		b.ranges = strings.EqualFold(resp.Header.Get("Accept-Ranges"), "bytes")
		b.finalURL = resp.Request.URL.String()
	}
	b.resp, b.cancel = resp, cancel
	b.timedOut.Store(false)
	b.timer = time.AfterFunc(b.c.cfg.readTimeout, func() {
		b.timedOut.Store(true)
		cancel()
	})
	return nil
}

// contentRangeStart parses the first byte position of "bytes START-END/SIZE".
func contentRangeStart(h string) (int64, bool) {
	rest, ok := strings.CutPrefix(h, "bytes ")
	if !ok {
		return 0, false
	}
	start, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(start, 10, 64)
	return n, err == nil
}
