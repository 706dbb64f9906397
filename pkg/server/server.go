// Package server assembles fl serve: a backend (embedded distribution or
// an upstream proxy), the front over it, metrics and health endpoints, TLS
// and graceful shutdown.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/foreignlayers/fl/pkg/admin"
	"github.com/foreignlayers/fl/pkg/backend"
	"github.com/foreignlayers/fl/pkg/datadir"
	"github.com/foreignlayers/fl/pkg/fetch"
	"github.com/foreignlayers/fl/pkg/front"
	"github.com/foreignlayers/fl/pkg/policy"
	"github.com/foreignlayers/fl/pkg/store"
)

// Config is everything fl serve can be told.
type Config struct {
	Addr             string
	DataDir          string
	Upstream         string
	Mode             front.Mode
	Policy           *policy.Policy
	MaxManifestBytes int64
	MaxBlobSize      int64
	CacheMaxSize     int64
	CacheMinFree     int64
	MaxFetches       int
	FetchWait        time.Duration
	FetchTimeout     time.Duration
	FetchGrace       time.Duration
	FetchIdleTimeout time.Duration
	FailureTTL       time.Duration
	Htpasswd         string
	AuthPulls        bool
	TLSCert, TLSKey  string
	// StripURLsPrefix, if set, serves PREFIX/R as R without layer urls.
	StripURLsPrefix string
	// MetricsAddr, if set, serves /metrics and /healthz on a listener of
	// their own, without auth, instead of on Addr.
	MetricsAddr     string
	ShutdownTimeout time.Duration
	// Proxy is an egress proxy for layer fetches; UseEnvProxy takes it
	// from HTTPS_PROXY, HTTP_PROXY and NO_PROXY instead.
	Proxy       string
	UseEnvProxy bool
	// Resolver resolves layer URLs' hosts before a proxy is asked
	// (net.DefaultResolver if nil; tests give names of their own).
	Resolver policy.Resolver
	// AccessLog, if set, gets one line per request.
	AccessLog *slog.Logger
	// S3, if its Bucket is set, keeps the embedded registry's storage,
	// the index and the cache in that bucket, so that replicas can share
	// them (docs/SCALE.md); --data-dir then holds only the spool of blobs
	// in flight.
	S3 store.S3Config
	// SecretFile holds the secret the embedded registry signs uploads in
	// progress with; replicas share it. Without it the secret is random.
	SecretFile string
	// Coordination is how replicas on S3 share fetches: CoordinationNone
	// (each fetches a layer once) is the one built.
	Coordination string
	// FetchOptions are added to the client that reads foreign URLs
	// (tests use them for short timeouts).
	FetchOptions []fetch.Option
	Logger       *slog.Logger
}

// Server is a running fl serve.
type Server struct {
	cfg    Config
	srv    *http.Server
	ln     net.Listener
	msrv   *http.Server // the metrics listener's, if any
	mln    net.Listener
	tls    bool
	lock   *datadir.Lock
	policy *policy.Live
	auth   *front.Auth
	front  *front.Front
	ops    http.Handler // /metrics and /healthz
	admin  http.Handler // the cache admin endpoint (admin.go)
	log    *slog.Logger
	done   chan error
}

// Start builds the server and starts listening; it serves until ctx is
// done, then shuts down gracefully. Wait returns when it has stopped.
func Start(ctx context.Context, cfg Config) (_ *Server, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Policy == nil {
		cfg.Policy = &policy.Policy{}
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 30 * time.Second
	}
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return nil, errors.New("--tls-cert and --tls-key go together")
	}
	if cfg.MetricsAddr != "" && cfg.MetricsAddr == cfg.Addr {
		return nil, errors.New("--metrics-addr must be another address than --addr: it serves /metrics and /healthz without auth")
	}
	if cfg.Upstream != "" && cfg.Htpasswd != "" {
		return nil, errors.New("--htpasswd is for the embedded registry; with --upstream, the upstream registry does its own auth")
	}
	if cfg.Upstream != "" && cfg.SecretFile != "" {
		return nil, errors.New("--secret-file is for the embedded registry's uploads; with --upstream, the upstream registry takes them")
	}
	if cfg.S3.Bucket == "" && (cfg.S3.Endpoint != "" || cfg.S3.Prefix != "" || cfg.S3.Region != "") {
		return nil, errors.New("--s3-endpoint, --s3-prefix and --s3-region need --s3-bucket")
	}
	if err := checkCoordination(cfg.Coordination, cfg.S3.Bucket != ""); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger, done: make(chan error, 1), policy: policy.NewLive(cfg.Policy)}
	defer func() {
		if err != nil {
			s.closeListeners()
			s.lock.Release()
		}
	}()
	h, err := s.handler(ctx)
	if err != nil {
		return nil, err
	}
	if s.ln, err = net.Listen("tcp", cfg.Addr); err != nil {
		return nil, fmt.Errorf("listening on %s: %w", cfg.Addr, err)
	}
	s.srv = &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 30 * time.Second,
		// Registry requests carry small headers; a credential check that
		// waits for bcrypt holds its request's.
		MaxHeaderBytes: 64 << 10,
		IdleTimeout:    2 * time.Minute,
		ErrorLog:       slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug),
	}
	if cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		s.srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		s.ln = tls.NewListener(s.ln, s.srv.TLSConfig)
		s.tls = true
	}
	if cfg.MetricsAddr != "" {
		if s.mln, err = net.Listen("tcp", cfg.MetricsAddr); err != nil {
			return nil, fmt.Errorf("--metrics-addr %s: %w", cfg.MetricsAddr, err)
		}
	}
	go s.serve(ctx)
	return s, nil
}

// handler takes the data dir, and builds backend, store, front and the
// small endpoints around them.
func (s *Server) handler(ctx context.Context) (http.Handler, error) {
	cfg := s.cfg
	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("--data-dir: %w", err)
	}
	if s.lock, err = datadir.Acquire(dataDir); errors.Is(err, datadir.ErrInUse) {
		return nil, fmt.Errorf("--data-dir %w by another fl serve or fl gc; stop it, or give this one a --data-dir of its own", err)
	} else if err != nil {
		return nil, fmt.Errorf("--data-dir: %w", err)
	}
	secret, err := readSecret(cfg.SecretFile)
	if err != nil {
		return nil, err
	}
	var (
		idx   store.Index
		cache store.Cache
		adm   http.Handler
		onS3  *store.S3Config
	)
	if cfg.S3.Bucket != "" {
		st, err := s.openS3(ctx, dataDir)
		if err != nil {
			return nil, err
		}
		idx, cache, adm = st.index, st.cache, noAdmin
		cfg, onS3 = s.cfg, &s.cfg.S3
	} else {
		fsIdx, err := store.OpenFSIndex(filepath.Join(dataDir, "index"))
		if err != nil {
			return nil, err
		}
		fsCache, err := store.OpenFSCache(filepath.Join(dataDir, "cache"), store.FSCacheOptions{MaxBytes: cfg.CacheMaxSize, MinFree: cfg.CacheMinFree, Logger: cfg.Logger})
		if err != nil {
			return nil, err
		}
		idx, cache, adm = fsIdx, fsCache, &admin.Handler{Cache: fsCache, Index: fsIdx, Logger: cfg.Logger}
	}
	var be http.Handler
	if cfg.Upstream != "" {
		u, err := url.Parse(cfg.Upstream)
		if err != nil {
			return nil, fmt.Errorf("--upstream %q: %w", cfg.Upstream, err)
		}
		if be, err = backend.Upstream(u, nil, cfg.Logger); err != nil {
			return nil, err
		}
	} else if be, err = backend.Embedded(ctx, backend.EmbeddedOptions{RootDir: filepath.Join(dataDir, "registry"), S3: onS3, Secret: secret, Logger: cfg.Logger}); err != nil {
		return nil, err
	}
	if cfg.Htpasswd != "" {
		if s.auth, err = front.LoadHtpasswd(cfg.Htpasswd, front.AuthOptions{Pulls: cfg.AuthPulls, Logger: cfg.Logger}); err != nil {
			return nil, err
		}
	} else if cfg.AuthPulls {
		return nil, errors.New("--auth-pulls needs --htpasswd")
	}
	proxyOpts, err := s.policy.ProxyOptions(policy.ProxyConfig{URL: cfg.Proxy, FromEnv: cfg.UseEnvProxy, Resolver: cfg.Resolver})
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.front, err = front.New(front.Options{
		Backend: be, Index: idx, Cache: cache, Policy: s.policy, Mode: cfg.Mode,
		FetchOptions: append(slices.Clone(cfg.FetchOptions), proxyOpts...), MaxManifestBytes: cfg.MaxManifestBytes, MaxBlobSize: cfg.MaxBlobSize,
		MaxFetches: cfg.MaxFetches, FetchWait: cfg.FetchWait, FetchTimeout: cfg.FetchTimeout,
		FetchGrace: cfg.FetchGrace, FetchIdleTimeout: cfg.FetchIdleTimeout, FailureTTL: cfg.FailureTTL,
		StripURLsPrefix: cfg.StripURLsPrefix, AccessLog: cfg.AccessLog,
		Auth: s.auth, AuthorizeUpstream: cfg.Upstream != "", Registerer: reg, Logger: cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	s.ops = opsHandler(reg)
	s.admin = adm
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, admin.Prefix) {
			s.serveAdmin(w, r, false)
			return
		}
		switch r.URL.Path {
		case "/metrics", "/healthz":
			if cfg.MetricsAddr == "" {
				if cfg.AuthPulls && !s.auth.Authenticated(r) {
					w.Header().Set("WWW-Authenticate", `Basic realm="fl"`)
					http.Error(w, "credentials required (--auth-pulls); or serve /metrics and /healthz on --metrics-addr", http.StatusUnauthorized)
					return
				}
				s.ops.ServeHTTP(w, r)
				return
			}
		}
		s.front.ServeHTTP(w, r)
	}), nil
}

// opsHandler serves /metrics and /healthz.
func opsHandler(reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	})
	return mux
}

// Reload puts a new URL policy in force and re-reads the htpasswd file
// (SIGHUP). On an error the old users stay.
func (s *Server) Reload(p *policy.Policy) error {
	s.policy.Store(p)
	s.front.PolicyChanged()
	if err := s.auth.Reload(); err != nil {
		return fmt.Errorf("%w (the previous users stay)", err)
	}
	return nil
}

func (s *Server) serve(ctx context.Context) {
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	if s.mln != nil {
		s.msrv = &http.Server{Handler: s.metricsHandler(), ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 16 << 10}
		go func() {
			if err := s.msrv.Serve(s.mln); !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("the metrics listener stopped", "addr", s.cfg.MetricsAddr, "err", err)
			}
		}()
	}
	auth := "none: anyone who can reach this address can push and delete (set --htpasswd)"
	switch {
	case s.cfg.Upstream != "":
		auth = "the upstream's"
	case s.cfg.Htpasswd != "" && s.cfg.AuthPulls:
		auth = "htpasswd, pushes and pulls"
	case s.cfg.Htpasswd != "":
		auth = "htpasswd, pushes; anonymous pulls"
	}
	s.log.Info("fl serve listening", "addr", s.Addr(), "tls", s.tls, "foreign", s.cfg.Mode, "upstream", s.cfg.Upstream, "data_dir", s.cfg.DataDir,
		"auth", auth, "cache_max_size", s.cfg.CacheMaxSize, "url_policy", s.cfg.Policy.String(), "metrics_addr", s.cfg.MetricsAddr, "strip_urls_prefix", s.cfg.StripURLsPrefix,
		"s3_bucket", s.cfg.S3.Bucket, "s3_prefix", s.cfg.S3.Prefix, "coordination", s.coordination())
	if s.cfg.S3.Bucket != "" && s.cfg.Upstream == "" && s.cfg.SecretFile == "" {
		s.log.Warn("--s3-bucket without --secret-file: an upload must stay on the replica that started it; give every replica the same --secret-file")
	}
	if s.cfg.Upstream == "" && s.cfg.Htpasswd == "" {
		s.log.Warn("no --htpasswd: anyone who can reach " + s.Addr() + " can push and delete")
	}
	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
		s.log.Info("shutting down: finishing responses in flight", "timeout", s.cfg.ShutdownTimeout)
		sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
		defer cancel()
		err = s.srv.Shutdown(sctx)
		<-errc
	}
	if s.msrv != nil {
		_ = s.msrv.Close()
	}
	s.closeListeners()
	s.lock.Release()
	s.done <- err
}

func (s *Server) closeListeners() {
	for _, ln := range []net.Listener{s.ln, s.mln} {
		if ln != nil {
			_ = ln.Close()
		}
	}
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// MetricsAddr is the address of the metrics listener, or "".
func (s *Server) MetricsAddr() string {
	if s.mln == nil {
		return ""
	}
	return s.mln.Addr().String()
}

// Wait blocks until the server has stopped, and returns why.
func (s *Server) Wait() error {
	err := <-s.done
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}
