// Package verify checks the URLs of foreign layers for link rot: that each
// answers, with the right size, and, deeply, with the right content. A
// layer is healthy when at least one of its URLs is ok.
package verify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/foreignlayers/fl/pkg/fetch"
	"github.com/foreignlayers/fl/pkg/image"
)

// Status is the outcome for one URL.
type Status string

// The outcomes.
const (
	OK             Status = "ok"
	Moved          Status = "moved"
	SizeMismatch   Status = "size mismatch"
	DigestMismatch Status = "digest mismatch"
	HTTPStatus     Status = "http status"
	DNSError       Status = "dns error"
	TLSError       Status = "tls error"
	Timeout        Status = "timeout"
	ConnectError   Status = "connection error"
	Refused        Status = "refused"
)

// URLResult is one URL's check.
type URLResult struct {
	URL        string      `json:"url"`
	Status     Status      `json:"status"`
	HTTPStatus int         `json:"http_status,omitempty"`
	Size       int64       `json:"size"` // as the server says; -1 unknown
	Redirects  []fetch.Hop `json:"redirects,omitempty"`
	Detail     string      `json:"detail,omitempty"`
}

// LayerResult is one foreign layer's check.
type LayerResult struct {
	Platform  string      `json:"platform"`
	Digest    string      `json:"digest"`
	Size      int64       `json:"size"`
	MediaType string      `json:"mediaType"`
	Healthy   bool        `json:"healthy"`
	URLs      []URLResult `json:"urls"`
}

// Report is the check of one image or index.
type Report struct {
	Reference string        `json:"reference"`
	Digest    string        `json:"digest"`
	Healthy   bool          `json:"healthy"`
	Layers    []LayerResult `json:"layers"`
}

// Options configure a check.
type Options struct {
	Client *fetch.Client
	Deep   bool // download and verify the content
	Jobs   int  // URLs checked at once
}

// Check checks every URL of every foreign layer of s, concurrently. A
// layer that several platforms share is checked once.
func Check(ctx context.Context, s *image.Summary, o Options) Report {
	r := Report{Reference: s.Reference, Digest: s.Digest, Healthy: true}
	type job struct {
		layer, index int
		url          string
	}
	var jobs []job
	seen := map[string]bool{}
	for _, m := range s.Manifests {
		for _, l := range m.Layers {
			if !l.Foreign || seen[l.Digest] {
				continue
			}
			seen[l.Digest] = true
			for i, u := range l.URLs {
				jobs = append(jobs, job{len(r.Layers), i, u})
			}
			r.Layers = append(r.Layers, LayerResult{Platform: m.Platform, Digest: l.Digest, Size: l.Size, MediaType: string(l.MediaType), URLs: make([]URLResult, len(l.URLs))})
		}
	}
	sem := make(chan struct{}, max(o.Jobs, 1))
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			r.Layers[j.layer].URLs[j.index] = checkURL(ctx, o, j.url, r.Layers[j.layer])
		}()
	}
	wg.Wait()
	for i := range r.Layers {
		for _, u := range r.Layers[i].URLs {
			if u.Status == OK {
				r.Layers[i].Healthy = true
			}
		}
		if !r.Layers[i].Healthy {
			r.Healthy = false
		}
	}
	return r
}

func checkURL(ctx context.Context, o Options, u string, l LayerResult) URLResult {
	res := URLResult{URL: u, Size: -1}
	p, err := o.Client.Probe(ctx, u)
	if p != nil {
		res.Redirects, res.Size = p.Hops, p.Size
	}
	if err != nil {
		return failed(res, err)
	}
	if p.Size >= 0 && p.Size != l.Size {
		res.Status, res.Detail = SizeMismatch, fmt.Sprintf("the server says %d bytes, the descriptor %d", p.Size, l.Size)
		return res
	}
	if o.Deep {
		if res, done := deep(ctx, o, res, l); done {
			return res
		}
	}
	res.Status = OK
	if p.Moved() {
		res.Status, res.Detail = Moved, "permanently redirected to "+p.FinalURL
	}
	return res
}

// deep downloads the URL and checks size and digest; done means res is
// final (a failure).
func deep(ctx context.Context, o Options, res URLResult, l LayerResult) (URLResult, bool) {
	body, err := o.Client.Open(ctx, res.URL)
	if err != nil {
		return failed(res, err), true
	}
	defer body.Close()
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(body, l.Size+1))
	if err != nil {
		return failed(res, err), true
	}
	if n != l.Size {
		res.Status, res.Detail = SizeMismatch, fmt.Sprintf("downloaded %d bytes, the descriptor says %d", n, l.Size)
		return res, true
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != l.Digest {
		res.Status, res.Detail = DigestMismatch, "the content has digest "+got
		return res, true
	}
	return res, false
}

func failed(res URLResult, err error) URLResult {
	res.Detail = err.Error()
	var fe *fetch.Error
	if !errors.As(err, &fe) {
		res.Status = ConnectError
		return res
	}
	switch fe.Kind {
	case fetch.ErrStatus:
		res.Status, res.HTTPStatus = HTTPStatus, fe.StatusCode
	case fetch.ErrDNS:
		res.Status = DNSError
	case fetch.ErrTLS:
		res.Status = TLSError
	case fetch.ErrTimeout:
		res.Status = Timeout
	case fetch.ErrRefused, fetch.ErrBadURL, fetch.ErrRedirected:
		res.Status = Refused
	default:
		res.Status = ConnectError
	}
	return res
}
