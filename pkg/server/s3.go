package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/foreignlayers/fl/pkg/admin"
	"github.com/foreignlayers/fl/pkg/store"
)

// Coordination modes: how replicas sharing a bucket share fetches.
const (
	// CoordinationS3 is one fetch per digest across all replicas (leases
	// on S3, peers streaming from the owner): not built yet.
	CoordinationS3 = "s3"
	// CoordinationNone is one fetch per digest per replica.
	CoordinationNone = "none"
)

// minSecretBytes is the shortest --secret-file accepted.
const minSecretBytes = 16

// s3Stores are the index and cache of a server whose storage is on S3.
type s3Stores struct {
	index *store.S3Index
	cache *store.S3Cache
}

// checkCoordination accepts only what is built.
func checkCoordination(mode string, onS3 bool) error {
	switch mode {
	case "", CoordinationNone:
		return nil
	case CoordinationS3:
		if !onS3 {
			return nil // one process: nothing to coordinate
		}
		return errors.New("--coordination s3: not built yet; run with --coordination none: each replica then fetches a layer once")
	default:
		return fmt.Errorf("--coordination %q: want s3 or none", mode)
	}
}

// openS3 connects to the bucket, checks that its conditional writes are
// atomic (the index's record locks rely on them), opens the index and the
// cache (spooling under dataDir/spool, emptied first), and aborts the cache's multipart uploads
// older than twice the longest fetch, which only a dead writer leaves. It
// fills in cfg.S3.Region with the region the AWS chain resolved, for the
// embedded registry's driver.
func (s *Server) openS3(ctx context.Context, dataDir string) (*s3Stores, error) {
	cfg := &s.cfg
	loc, err := store.NewS3Location(ctx, cfg.S3)
	if err != nil {
		return nil, fmt.Errorf("--s3-bucket: %w", err)
	}
	cfg.S3.Region = loc.Client.Options().Region
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := store.CheckConditionalWrites(cctx, loc.Client, loc.Bucket, loc.Prefix); errors.Is(err, store.ErrNotAtomic) {
		return nil, fmt.Errorf("--s3-bucket %s: fl serve cannot share this store safely: %w", cfg.S3.Bucket, err)
	} else if err != nil {
		return nil, fmt.Errorf("--s3-bucket %s: checking conditional writes (is the bucket there, and are the credentials right?): %w", cfg.S3.Bucket, err)
	}
	idx, err := store.NewS3Index(loc, store.S3IndexOptions{})
	if err != nil {
		return nil, err
	}
	// The data dir's lock makes the spool this process's alone: what a
	// crash left there is nobody's.
	spool := filepath.Join(dataDir, "spool")
	if err := os.RemoveAll(spool); err != nil {
		return nil, fmt.Errorf("--data-dir: emptying the spool: %w", err)
	}
	cache, err := store.OpenS3Cache(ctx, loc, store.S3CacheOptions{MaxBytes: cfg.CacheMaxSize, SpoolDir: spool, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	age := sweepAge(cfg.FetchTimeout)
	n, err := cache.SweepUploads(ctx, age)
	if err != nil {
		return nil, err
	}
	if n > 0 {
		cfg.Logger.Info("aborted stale multipart uploads of the S3 cache", "uploads", n, "older_than", age)
	}
	return &s3Stores{index: idx, cache: cache}, nil
}

// sweepAge is how old a multipart upload of the cache must be for a
// starting replica to abort it: well above the longest fetch, since
// another replica's upload in progress looks the same.
func sweepAge(fetchTimeout time.Duration) time.Duration {
	if fetchTimeout <= 0 {
		fetchTimeout = time.Hour // the front's default
	}
	return 2*fetchTimeout + time.Hour
}

// readSecret reads --secret-file: its content, without surrounding
// white space; "" for no file.
func readSecret(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("--secret-file: %w", err)
	}
	secret := strings.TrimSpace(string(b))
	if len(secret) < minSecretBytes {
		return "", fmt.Errorf("--secret-file %s: the secret has %d bytes, want at least %d (for example: openssl rand -hex 32 > %s)", path, len(secret), minSecretBytes, path)
	}
	return secret, nil
}

// noAdmin answers the cache admin endpoint when the stores cannot list.
var noAdmin = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
	admin.WriteError(w, http.StatusNotImplemented, "the cache admin endpoint is not built for S3 stores yet")
})

// coordination is the mode in force, for the start log.
func (s *Server) coordination() string {
	if s.cfg.S3.Bucket == "" {
		return "" // one process, one data dir
	}
	return CoordinationNone
}
