package backend

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	repomw "github.com/distribution/distribution/v3/registry/middleware/repository"

	"github.com/foreignlayers/fl/pkg/ocierr"
	"github.com/foreignlayers/fl/pkg/store"
)

// EmbeddedOptions configure the embedded registry.
type EmbeddedOptions struct {
	// RootDir is the filesystem storage root. Empty means in-memory
	// storage (for tests), unless S3 is set.
	RootDir string
	// S3, if set, is the bucket the registry keeps its storage in, under
	// PREFIX/registry/, through distribution's s3-aws driver (s3.go).
	S3 *store.S3Config
	// Secret signs the state of uploads in progress. Replicas that share
	// storage share it, so that an upload started on one can go on on
	// another; empty takes a random secret for this process.
	Secret string
	Logger *slog.Logger
}

var registerOnce sync.Once
var registerErr error

// Embedded returns distribution v3 as an http.Handler, configured in code.
// It accepts manifests whose layers carry urls (the front enforces the URL
// policy), and its panics become errors.
func Embedded(ctx context.Context, o EmbeddedOptions) (http.Handler, error) {
	registerOnce.Do(func() { registerErr = repomw.Register(foreignMiddleware, initForeign) })
	if registerErr != nil {
		return nil, fmt.Errorf("embedded registry: %w", registerErr)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	bridgeLogrus(o.Logger)
	secret := o.Secret
	if secret == "" {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		secret = hex.EncodeToString(b)
	}
	cfg := &configuration.Configuration{Version: "0.1"}
	cfg.Log.AccessLog.Disabled = true
	cfg.HTTP.Secret = secret
	cfg.Storage = configuration.Storage{
		"delete":      configuration.Parameters{"enabled": true},
		"cache":       configuration.Parameters{"blobdescriptor": "inmemory"},
		"maintenance": configuration.Parameters{"uploadpurging": map[any]any{"enabled": false}},
	}
	switch {
	case o.S3 != nil:
		cfg.Storage["s3"] = s3Parameters(*o.S3)
		// Clients get blobs from fl, never a presigned URL to the bucket.
		cfg.Storage["redirect"] = configuration.Parameters{"disable": true}
	case o.RootDir == "":
		cfg.Storage["inmemory"] = configuration.Parameters{}
	default:
		cfg.Storage["filesystem"] = filesystemParameters(o.RootDir)
	}
	cfg.Validation.Manifests.URLs.Allow = []string{"^https?://"}
	// configuration.Parse fills these defaults; a configuration built in
	// code must set them, or the catalog answers nothing and refuses ?n=.
	cfg.Catalog.MaxEntries = 1000
	cfg.Tags.MaxTags = 1000
	cfg.Middleware = map[string][]configuration.Middleware{
		"repository": {{Name: foreignMiddleware}},
	}
	app, err := newApp(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return recoverer{app, o.Logger}, nil
}

// newApp calls handlers.NewApp, which panics on a bad configuration.
func newApp(ctx context.Context, cfg *configuration.Configuration) (h http.Handler, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("embedded registry: %v", r)
		}
	}()
	return handlers.NewApp(ctx, cfg), nil
}

// recoverer turns a panic in the registry into a 500 with an OCI error,
// instead of a dropped connection.
type recoverer struct {
	h   http.Handler
	log *slog.Logger
}

func (rc recoverer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if p := recover(); p != nil {
			if err, ok := p.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(p)
			}
			rc.log.Error("embedded registry panicked", "method", r.Method, "path", r.URL.Path, "panic", p)
			ocierr.WriteStatus(w, http.StatusInternalServerError, ocierr.Unavailable, "internal error in the embedded registry", nil)
		}
	}()
	rc.h.ServeHTTP(w, r)
}
