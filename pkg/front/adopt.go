package front

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/foreignlayers/fl/pkg/name"
)

// adopt uploads to the backend the cached bytes of foreign layers that a
// manifest now declares as ordinary layers (without urls). The front told
// the client those blobs exist in the repository (it serves them), so a
// client that pulled an image and pushes it again to the same repository
// (docker pull, docker tag, docker push) skips their upload; the backend
// would then refuse the manifest for want of them. Only this repository's
// own foreign layers, verified from its own URLs, are adopted, with the
// pushing client's credentials; a layer that is not cached is left for
// the backend to refuse.
func (h *Front) adopt(ctx context.Context, r *http.Request, repo name.Repository, ordinary []v1.Descriptor) {
	for _, d := range ordinary {
		desc, err := h.index.Lookup(ctx, repo, d.Digest)
		if err != nil || desc.Size != d.Size || h.backendHas(ctx, r, repo, d.Digest) {
			continue
		}
		// Concurrent pushes of the manifest share one upload; one that
		// comes later finds the blob in the backend.
		_, err, shared := h.adopting.Do(repo.String()+"@"+d.Digest.String(), func() (any, error) {
			if h.backendHas(ctx, r, repo, d.Digest) {
				return nil, nil
			}
			return nil, h.upload(ctx, r, repo, desc)
		})
		if err != nil {
			h.log.Warn("could not store a cached foreign layer as an ordinary blob", "repository", repo, "digest", d.Digest, "err", err)
			continue
		}
		if !shared {
			h.log.Info("stored a cached foreign layer as an ordinary blob: a manifest declares it without urls", "repository", repo, "digest", d.Digest, "size", d.Size)
		}
	}
}

// backendHas asks the backend whether repo holds the blob, as the client.
func (h *Front) backendHas(ctx context.Context, r *http.Request, repo name.Repository, d v1.Hash) bool {
	req := h.backendRequest(ctx, r, http.MethodHead, "/v2/"+repo.String()+"/blobs/"+d.String(), nil)
	rec := httptest.NewRecorder()
	h.backend.ServeHTTP(rec, req)
	return rec.Code != http.StatusNotFound
}

// upload stores the cached blob in the backend: POST, then one PUT of the
// whole blob.
func (h *Front) upload(ctx context.Context, r *http.Request, repo name.Repository, desc v1.Descriptor) error {
	b, err := h.cache.Open(ctx, desc.Digest)
	if err != nil {
		return fmt.Errorf("not cached: %w", err)
	}
	defer b.Close()
	if b.Size() != desc.Size || !vouched(b.Sources(), desc.URLs) {
		return fmt.Errorf("the cached copy was not fetched from this repository's URLs")
	}
	rec := httptest.NewRecorder()
	h.backend.ServeHTTP(rec, h.backendRequest(ctx, r, http.MethodPost, "/v2/"+repo.String()+"/blobs/uploads/", nil))
	loc, err := url.Parse(rec.Header().Get("Location"))
	if rec.Code != http.StatusAccepted || err != nil || loc.Path == "" {
		return fmt.Errorf("starting an upload: the backend answered %d: %s", rec.Code, rec.Body.String())
	}
	q := loc.Query()
	q.Set("digest", desc.Digest.String())
	req := h.backendRequest(ctx, r, http.MethodPut, loc.Path+"?"+q.Encode(), b)
	req.ContentLength = desc.Size
	req.Header.Set("Content-Length", strconv.FormatInt(desc.Size, 10))
	req.Header.Set("Content-Type", "application/octet-stream")
	rec = httptest.NewRecorder()
	h.backend.ServeHTTP(rec, req)
	if rec.Code != http.StatusCreated {
		return fmt.Errorf("uploading: the backend answered %d: %s", rec.Code, rec.Body.String())
	}
	return nil
}

// backendRequest is a request of the front's own to the backend, on
// behalf of the client of r: same host, same credentials.
func (h *Front) backendRequest(ctx context.Context, r *http.Request, method, target string, body io.Reader) *http.Request {
	req := httptest.NewRequestWithContext(ctx, method, target, body)
	req.Host = r.Host
	req.RemoteAddr = r.RemoteAddr
	if auth := r.Header.Get("Authorization"); auth != "" {
		req.Header.Set("Authorization", auth)
	}
	return req
}
