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
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/foreignlayers/fl/pkg/backend"
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
	MaxFetches       int
	FetchWait        time.Duration
	FetchTimeout     time.Duration
	Htpasswd         string
	AuthPulls        bool
	TLSCert, TLSKey  string
	ShutdownTimeout  time.Duration
	// FetchOptions are added to the client that reads foreign URLs
	// (tests use them for short timeouts).
	FetchOptions []fetch.Option
	Logger       *slog.Logger
}

// Server is a running fl serve.
type Server struct {
	cfg  Config
	srv  *http.Server
	ln   net.Listener
	tls  bool
	log  *slog.Logger
	done chan error
}

// Start builds the server and starts listening; it serves until ctx is
// done, then shuts down gracefully. Wait returns when it has stopped.
func Start(ctx context.Context, cfg Config) (*Server, error) {
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
	if cfg.Upstream != "" && cfg.Htpasswd != "" {
		return nil, errors.New("--htpasswd is for the embedded registry; with --upstream, the upstream registry does its own auth")
	}
	h, err := handler(ctx, cfg)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", cfg.Addr, err)
	}
	s := &Server{cfg: cfg, ln: ln, log: cfg.Logger, done: make(chan error, 1)}
	s.srv = &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug),
	}
	if cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		s.srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		s.ln = tls.NewListener(ln, s.srv.TLSConfig)
		s.tls = true
	}
	go s.serve(ctx)
	return s, nil
}

// handler builds backend, store, front and the small endpoints around them.
func handler(ctx context.Context, cfg Config) (http.Handler, error) {
	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("--data-dir: %w", err)
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
	} else if be, err = backend.Embedded(ctx, backend.EmbeddedOptions{RootDir: filepath.Join(dataDir, "registry"), Logger: cfg.Logger}); err != nil {
		return nil, err
	}
	idx, err := store.OpenFSIndex(filepath.Join(dataDir, "index"))
	if err != nil {
		return nil, err
	}
	cache, err := store.OpenFSCache(filepath.Join(dataDir, "cache"))
	if err != nil {
		return nil, err
	}
	var auth *front.Auth
	if cfg.Htpasswd != "" {
		if auth, err = front.LoadHtpasswd(cfg.Htpasswd); err != nil {
			return nil, err
		}
		auth.Pulls = cfg.AuthPulls
	} else if cfg.AuthPulls {
		return nil, errors.New("--auth-pulls needs --htpasswd")
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	f, err := front.New(front.Options{
		Backend: be, Index: idx, Cache: cache, Policy: cfg.Policy, Mode: cfg.Mode,
		FetchOptions: cfg.FetchOptions, MaxManifestBytes: cfg.MaxManifestBytes, MaxFetches: cfg.MaxFetches,
		FetchWait: cfg.FetchWait, FetchTimeout: cfg.FetchTimeout, Auth: auth, AuthorizeUpstream: cfg.Upstream != "", Registerer: reg, Logger: cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	metrics := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/metrics":
			metrics.ServeHTTP(w, r)
		case "/healthz":
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write([]byte("ok\n"))
		default:
			f.ServeHTTP(w, r)
		}
	}), nil
}

func (s *Server) serve(ctx context.Context) {
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	s.log.Info("fl serve listening", "addr", s.Addr(), "tls", s.tls, "foreign", s.cfg.Mode, "upstream", s.cfg.Upstream, "data_dir", s.cfg.DataDir)
	select {
	case err := <-errc:
		s.done <- err
		return
	case <-ctx.Done():
	}
	s.log.Info("shutting down: finishing responses in flight", "timeout", s.cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	err := s.srv.Shutdown(sctx)
	<-errc
	s.done <- err
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Wait blocks until the server has stopped, and returns why.
func (s *Server) Wait() error {
	err := <-s.done
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}
