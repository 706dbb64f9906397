// Package front is fl serve's registry front: an http.Handler middleware
// over a backend registry (the embedded distribution, or a reverse proxy to
// another registry) that makes foreign layers pullable by every client.
//
// It reads every manifest that passes through, refuses URLs that break the
// URL policy at PUT, and remembers each foreign layer per repository. A
// blob GET or HEAD for such a layer is answered by the front itself:
// redirected to a URL, or fetched once, verified, cached and served, with
// concurrent requests sharing one upstream fetch. Everything else passes
// through to the backend.
package front

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/foreignlayers/fl/pkg/fetch"
	"github.com/foreignlayers/fl/pkg/policy"
	"github.com/foreignlayers/fl/pkg/store"
)

// Mode is what the front does with a foreign blob request.
type Mode string

// The modes.
const (
	ModeCache    Mode = "cache"    // fetch once, verify, cache and serve
	ModeRedirect Mode = "redirect" // 307 to the first allowed URL
	ModeOff      Mode = "off"      // pass to the backend, as a plain registry
)

// ParseMode reads a --foreign value.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case ModeCache, ModeRedirect, ModeOff:
		return m, nil
	}
	return "", fmt.Errorf("--foreign %q: use cache, redirect or off", s)
}

// Options configure a Front. Backend, Index, Cache and Policy are required.
type Options struct {
	Backend http.Handler
	Index   store.Index
	Cache   store.Cache
	Policy  *policy.Policy
	Mode    Mode
	// Fetch reads foreign URLs; New adds the policy's options to it.
	FetchOptions     []fetch.Option
	MaxManifestBytes int64
	MaxFetches       int
	// FetchWait is how long a request waits for a fetch slot when
	// MaxFetches are in flight, before 429.
	FetchWait    time.Duration
	FetchTimeout time.Duration
	Auth         *Auth
	// AuthorizeUpstream makes the front ask the backend whether a client
	// may pull a repository before serving its foreign layers (for
	// --upstream, whose registry does the auth).
	AuthorizeUpstream bool
	Registerer        prometheus.Registerer
	Logger            *slog.Logger
}

// Front is the middleware.
type Front struct {
	backend     http.Handler
	index       store.Index
	cache       store.Cache
	policy      *policy.Policy
	mode        Mode
	auth        *Auth
	authz       *upstreamAuthz
	maxManifest int64
	fetcher     *fetcher
	m           *metrics
	log         *slog.Logger
}

var _ http.Handler = (*Front)(nil)

// New returns a Front.
func New(o Options) (*Front, error) {
	if o.Backend == nil || o.Index == nil || o.Cache == nil || o.Policy == nil {
		return nil, errors.New("front: Backend, Index, Cache and Policy are required")
	}
	if o.Mode == "" {
		o.Mode = ModeCache
	}
	if o.MaxManifestBytes <= 0 {
		o.MaxManifestBytes = 4 << 20
	}
	if o.MaxFetches <= 0 {
		o.MaxFetches = 16
	}
	if o.FetchWait <= 0 {
		o.FetchWait = 10 * time.Second
	}
	if o.FetchTimeout <= 0 {
		o.FetchTimeout = time.Hour
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, fmt.Errorf("front metrics: %w", err)
	}
	fetchOpts := append(append([]fetch.Option{fetch.WithLogger(o.Logger), fetch.WithUserAgent("fl-serve")}, o.FetchOptions...), o.Policy.FetchOptions()...)
	h := &Front{
		backend: o.Backend, index: o.Index, cache: o.Cache, policy: o.Policy, mode: o.Mode,
		auth: o.Auth, maxManifest: o.MaxManifestBytes, m: m, log: o.Logger,
	}
	if o.AuthorizeUpstream {
		h.authz = newUpstreamAuthz(o.Backend)
	}
	h.fetcher = &fetcher{
		client: fetch.New(fetchOpts...), cache: o.Cache, sem: make(chan struct{}, o.MaxFetches),
		wait: o.FetchWait, timeout: o.FetchTimeout, log: o.Logger, m: m,
		flights: map[v1.Hash]*flight{}, bad: map[v1.Hash]map[string]time.Time{},
	}
	return h, nil
}

// ServeHTTP implements http.Handler.
func (h *Front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt := parseRoute(r.URL.Path)
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		h.m.requests.WithLabelValues(rt.kind, methodLabel(r.Method), strconv.Itoa(sw.code())).Inc()
	}()
	if !h.auth.allow(sw, r, rt) {
		return
	}
	switch {
	case rt.kind == "manifest" && r.Method == http.MethodPut:
		h.putManifest(sw, r, rt)
	case rt.kind == "manifest" && r.Method == http.MethodGet:
		h.getManifest(sw, r, rt)
	case rt.kind == "blob" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		if !h.serveForeign(sw, r, rt) {
			h.backend.ServeHTTP(sw, r)
		}
	default:
		h.backend.ServeHTTP(sw, r)
	}
}

// methodLabel keeps the metric's label set bounded.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodPost, http.MethodPatch, http.MethodDelete:
		return m
	}
	return "other"
}
