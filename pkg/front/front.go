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
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"

	"github.com/foreignlayers/fl/pkg/fetch"
	"github.com/foreignlayers/fl/pkg/name"
	"github.com/foreignlayers/fl/pkg/ocierr"
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
	Policy  *policy.Live
	Mode    Mode
	// FetchOptions are added to the client that reads foreign URLs.
	FetchOptions     []fetch.Option
	MaxManifestBytes int64
	// ManifestBudget bounds the manifest bytes held and parsed at once,
	// half for PUTs and half for GETs (default 8 × MaxManifestBytes).
	ManifestBudget int64
	// MaxBlobSize is the largest size a descriptor with urls may declare.
	MaxBlobSize int64
	MaxFetches  int
	// FetchWait is how long a request waits for a fetch slot when
	// MaxFetches are in flight, before 429.
	FetchWait    time.Duration
	FetchTimeout time.Duration
	// FetchGrace is how long a fetch that no client reads goes on.
	FetchGrace time.Duration
	// FetchIdleTimeout is how long a URL may send nothing (headers or
	// body) before the fetch fails over to the next URL.
	FetchIdleTimeout time.Duration
	// FailureTTL is how long a failed fetch is remembered.
	FailureTTL time.Duration
	// StripURLsPrefix, if set, makes PREFIX/R a read-only view of every
	// repository R with the urls of its manifests stripped.
	StripURLsPrefix string
	Auth            *Auth
	// AuthorizeUpstream makes the front ask the backend whether a client
	// may pull a repository before serving its foreign layers (for
	// --upstream, whose registry does the auth).
	AuthorizeUpstream bool
	Registerer        prometheus.Registerer
	Logger            *slog.Logger
	// AccessLog, if set, gets one line per request (accesslog.go).
	AccessLog *slog.Logger
}

// Front is the middleware.
type Front struct {
	backend     http.Handler
	index       store.Index
	cache       store.Cache
	policy      *policy.Live
	mode        Mode
	auth        *Auth
	authz       *upstreamAuthz
	maxManifest int64
	maxBlob     int64
	putBudget   *budget
	getBudget   *budget
	locks       *repoLocks
	adopting    singleflight.Group
	viewPrefix  string
	views       *memo[[]byte]   // repository@original digest -> its view's bytes
	recorded    *memo[struct{}] // repository@manifest digest recorded from a GET
	fetcher     *fetcher
	m           *metrics
	log         *slog.Logger
	access      *slog.Logger
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
	if o.StripURLsPrefix != "" {
		if _, err := name.ParseRepository(o.StripURLsPrefix); err != nil {
			return nil, fmt.Errorf("--strip-urls-prefix: %w", err)
		}
	}
	o.MaxManifestBytes = orDefault(o.MaxManifestBytes, 4<<20)
	o.ManifestBudget = orDefault(o.ManifestBudget, max(8*(o.MaxManifestBytes+1), 8<<20))
	o.MaxBlobSize = orDefault(o.MaxBlobSize, 16<<30)
	o.MaxFetches = orDefault(o.MaxFetches, 16)
	o.FetchWait = orDefault(o.FetchWait, 10*time.Second)
	o.FetchTimeout = orDefault(o.FetchTimeout, time.Hour)
	o.FetchGrace = orDefault(o.FetchGrace, 10*time.Second)
	o.FetchIdleTimeout = orDefault(o.FetchIdleTimeout, 30*time.Second)
	if o.FailureTTL < 0 {
		o.FailureTTL = 0
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(o.Registerer, o.Cache)
	if err != nil {
		return nil, fmt.Errorf("front metrics: %w", err)
	}
	fetchOpts := []fetch.Option{
		fetch.WithLogger(o.Logger), fetch.WithUserAgent("fl-serve"),
		// A URL that fails hands over to the next one at once; the
		// failure is remembered, and clients retry on their own.
		fetch.WithNoRetries(), fetch.WithStallFailover(),
		fetch.WithTimeouts(0, o.FetchIdleTimeout, o.FetchIdleTimeout),
	}
	fetchOpts = append(append(fetchOpts, o.FetchOptions...), o.Policy.FetchOptions()...)
	h := &Front{
		backend: o.Backend, index: o.Index, cache: o.Cache, policy: o.Policy, mode: o.Mode,
		auth: o.Auth, maxManifest: o.MaxManifestBytes, maxBlob: o.MaxBlobSize,
		putBudget: newBudget(o.ManifestBudget/2, o.MaxManifestBytes, manifestWait),
		getBudget: newBudget(o.ManifestBudget/2, o.MaxManifestBytes, manifestWait), locks: newRepoLocks(), viewPrefix: o.StripURLsPrefix, m: m,
		views: newMemo[[]byte](1024), recorded: newMemo[struct{}](16384), log: o.Logger, access: o.AccessLog,
	}
	if o.AuthorizeUpstream {
		h.authz = newUpstreamAuthz(o.Backend)
	}
	h.fetcher = &fetcher{
		client: fetch.New(fetchOpts...), cache: o.Cache, sem: make(chan struct{}, o.MaxFetches),
		wait: o.FetchWait, timeout: o.FetchTimeout, grace: o.FetchGrace,
		recall: newRecall(badFor, o.FailureTTL), log: o.Logger, m: m,
		flights: map[flightKey]*flight{},
	}
	return h, nil
}

func orDefault[T int | int64 | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// PolicyChanged forgets remembered fetch failures, which a new URL policy
// may have caused (SIGHUP).
func (h *Front) PolicyChanged() { h.fetcher.recall.forget() }

// ServeHTTP implements http.Handler.
func (h *Front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rt, err := parseRoute(r.URL.Path)
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		h.m.requests.WithLabelValues(rt.kind, methodLabel(r.Method), strconv.Itoa(sw.code())).Inc()
		h.logAccess(r, rt, sw, start)
	}()
	if err != nil {
		rt.kind = "invalid"
		writeRouteError(sw, err)
		return
	}
	// The backend routes on the decoded path the front validated, never on
	// an encoding of it.
	r.URL.RawPath = ""
	if rt.kind == "token" {
		if h.auth == nil {
			h.backend.ServeHTTP(sw, r)
			return
		}
		h.auth.ServeToken(sw, r)
		return
	}
	if rt.kind == "other" && !strings.HasPrefix(r.URL.Path, "/v2/") {
		h.backend.ServeHTTP(sw, r) // not the registry API: nothing of ours
		return
	}
	if !h.auth.Allow(sw, r, rt.access(r.Method)) {
		return
	}
	if vr := rt; h.inView(&vr) { // rt keeps the name asked for, for the log
		h.serveView(sw, r, vr)
		return
	}
	switch {
	case rt.kind == "manifest" && r.Method == http.MethodPut:
		h.putManifest(sw, r, rt)
	case rt.kind == "manifest" && r.Method == http.MethodGet:
		h.getManifest(sw, r, rt)
	case rt.kind == "manifest" && r.Method == http.MethodDelete:
		h.deleteManifest(sw, r, rt)
	case rt.kind == "blob" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		h.serveBlob(sw, r, rt, r)
	case rt.kind == "blob" && r.Method == http.MethodDelete:
		h.deleteBlob(sw, r, rt)
	case rt.kind == "other" && strings.HasPrefix(r.URL.Path, "/v2/"):
		// Not a route of the distribution API: the backend never sees a
		// name the front did not validate.
		ocierr.Write(sw, ocierr.NameUnknown, "not a route of the registry API: "+r.URL.Path, nil)
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
