// Package admin is fl serve's cache administration: an HTTP endpoint that
// lists the cached foreign layers (with the repositories that declare
// them) and removes one, and the client that fl cache uses. Who may reach
// the endpoint is pkg/server's decision.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/foreignlayers/fl/pkg/name"
	"github.com/foreignlayers/fl/pkg/store"
)

// Prefix is where the endpoint answers:
//
//	GET    /_fl/cache                the cached blobs (CacheListing)
//	DELETE /_fl/cache/sha256:HEX     remove one: 204, 404, or 409 while it is being read or written
const Prefix = "/_fl/"

const cachePath = Prefix + "cache"

// MaxIndexLayers bounds the index records one listing visits to find the
// repositories of the cached blobs; beyond it, RepositoriesComplete is
// false.
const MaxIndexLayers = 1_000_000

// Cache is what the endpoint needs of the cache.
type Cache interface {
	List() []store.CacheEntry
	Remove(ctx context.Context, digest v1.Hash) error
}

// Index is what the endpoint needs of the index.
type Index interface {
	Walk(ctx context.Context, fn func(store.IndexRepository) error) error
}

// CachedBlob is one cached foreign layer.
type CachedBlob struct {
	Digest  string    `json:"digest"`
	Size    int64     `json:"size"`
	LastUse time.Time `json:"lastUse"`
	InUse   bool      `json:"inUse"`
	// Repositories are those whose manifests declare the digest with
	// urls; the cache serves a repository only from its own URLs.
	Repositories []string `json:"repositories"`
}

// CacheListing is the answer to GET /_fl/cache.
type CacheListing struct {
	Blobs []CachedBlob `json:"blobs"`
	Bytes int64        `json:"bytes"`
	// RepositoriesComplete is false when the index was larger than
	// MaxIndexLayers records, and some repositories may be missing.
	RepositoriesComplete bool `json:"repositoriesComplete"`
}

// Handler serves the endpoint.
type Handler struct {
	Cache     Cache
	Index     Index
	Logger    *slog.Logger
	MaxLayers int // MaxIndexLayers if 0
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == cachePath && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		h.list(w, r)
	case strings.HasPrefix(r.URL.Path, cachePath+"/") && r.Method == http.MethodDelete:
		h.remove(w, r, strings.TrimPrefix(r.URL.Path, cachePath+"/"))
	case r.URL.Path == cachePath || strings.HasPrefix(r.URL.Path, cachePath+"/"):
		w.Header().Set("Allow", "GET, HEAD, DELETE")
		writeError(w, http.StatusMethodNotAllowed, r.Method+" is not allowed here")
	default:
		writeError(w, http.StatusNotFound, "not an admin route: "+r.URL.Path)
	}
}

func (h *Handler) list(w http.ResponseWriter, r *http.Request) {
	entries := h.Cache.List()
	out := CacheListing{Blobs: make([]CachedBlob, 0, len(entries)), RepositoriesComplete: true}
	repos := make(map[v1.Hash][]string, len(entries))
	for _, e := range entries {
		repos[e.Digest] = nil
	}
	limit := h.MaxLayers
	if limit <= 0 {
		limit = MaxIndexLayers
	}
	visited := 0
	err := h.Index.Walk(r.Context(), func(ir store.IndexRepository) error {
		for _, l := range ir.Layers {
			if visited++; visited > limit {
				out.RepositoriesComplete = false
				return store.ErrStop
			}
			if rs, ok := repos[l]; ok {
				repos[l] = append(rs, ir.Repo.String())
			}
		}
		return nil
	})
	if err != nil {
		h.log().Error("admin: walking the index", "err", err)
		writeError(w, http.StatusInternalServerError, "reading the index: "+err.Error())
		return
	}
	for _, e := range entries {
		rs := repos[e.Digest]
		slices.Sort(rs)
		if rs == nil {
			rs = []string{}
		}
		out.Blobs = append(out.Blobs, CachedBlob{Digest: e.Digest.String(), Size: e.Size, LastUse: e.LastUse.UTC(), InUse: e.InUse, Repositories: rs})
		out.Bytes += e.Size
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) remove(w http.ResponseWriter, r *http.Request, s string) {
	if err := name.CheckDigest(s); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	d, err := v1.NewHash(s)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	switch err := h.Cache.Remove(r.Context(), d); {
	case err == nil:
		h.log().Info("admin: removed from the cache", "digest", s)
		w.WriteHeader(http.StatusNoContent)
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, s+" is not cached")
	case errors.Is(err, store.ErrInUse):
		writeError(w, http.StatusConflict, s+" is being read or written; try again when it is not")
	default:
		h.log().Error("admin: removing from the cache", "digest", s, "err", err)
		writeError(w, http.StatusInternalServerError, err.Error())
	}
}

func (h *Handler) log() *slog.Logger {
	if h.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Logger
}

// Error is the body of every error answer.
type Error struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, Error{msg})
}

// WriteError answers status with msg in the endpoint's error body, for the
// server's access checks.
func WriteError(w http.ResponseWriter, status int, msg string) { writeError(w, status, msg) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
