package front

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/foreignlayers/fl/pkg/name"
	"github.com/foreignlayers/fl/pkg/ocierr"
	"github.com/foreignlayers/fl/pkg/store"
)

// manifestReadTimeout bounds how long a client may take to send a
// manifest body.
const manifestReadTimeout = time.Minute

// manifestWait is how long a manifest waits for room in its budget
// before 429.
const manifestWait = time.Minute

// putManifest checks every descriptor with urls, passes the manifest to
// the backend, and records its foreign layers only once the backend has
// stored it: a refused manifest leaves no trace in the index.
func (h *Front) putManifest(w http.ResponseWriter, r *http.Request, rt route) {
	weight := h.maxManifest + 1
	if r.ContentLength >= 0 && r.ContentLength < weight {
		weight = r.ContentLength
	}
	release, err := h.putBudget.acquire(r.Context(), weight)
	if err != nil {
		w.Header().Set("Retry-After", "5")
		ocierr.Write(w, ocierr.TooManyRequests, "too many large manifests are being pushed at once; retry shortly", nil)
		return
	}
	defer release()
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(manifestReadTimeout))
	body, err := io.ReadAll(io.LimitReader(r.Body, h.maxManifest+1))
	if err != nil {
		ocierr.Write(w, ocierr.ManifestInvalid, "reading manifest: "+err.Error(), nil)
		return
	}
	if int64(len(body)) > h.maxManifest {
		ocierr.Write(w, ocierr.SizeInvalid, fmt.Sprintf("manifest is larger than %d bytes (the server's --max-manifest-size)", h.maxManifest), nil)
		return
	}
	var foreign []v1.Descriptor
	d, err := parseDeclared(body)
	if err == nil {
		foreign, err = vet(d, h.policy.Load(), h.maxBlob)
	}
	if err == nil && h.mode == ModeCache {
		err = h.fitsCache(foreign)
	}
	if err != nil {
		h.refuseManifest(w, rt, err)
		return
	}
	if h.mode == ModeCache {
		h.adopt(r.Context(), r, rt.repo, d.ordinary)
	}
	if len(foreign) > 0 {
		// The size check, the store and the record, as one step.
		defer h.locks.lock(rt.repo)()
		if err := h.consistent(r.Context(), rt.repo, foreign); err != nil {
			h.refuseManifest(w, rt, err)
			return
		}
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	r.Header.Set("Content-Length", strconv.Itoa(len(body)))
	hw := &holdWriter{w: w, max: 64 << 10}
	h.backend.ServeHTTP(hw, r)
	if hw.ok() {
		digest := manifestDigest(hw, body)
		h.getBudget.remember(rt.repo.String()+"@"+rt.ref, int64(len(body)))
		h.getBudget.remember(rt.repo.String()+"@"+digest.String(), int64(len(body)))
		if len(foreign) > 0 {
			if err := h.index.Record(r.Context(), rt.repo, digest, foreign); err != nil {
				h.log.Error("recording foreign layers of a stored manifest", "repository", rt.repo, "reference", rt.ref, "err", err)
				hw.replace(http.StatusInternalServerError, ocierr.Unavailable, "the manifest was stored, but fl serve could not record its foreign layers; push it again")
			}
		}
	}
	hw.release()
}

// fitsCache refuses, in cache mode, a foreign layer the cache could never
// hold: it could be pushed, but never pulled.
func (h *Front) fitsCache(foreign []v1.Descriptor) error {
	max := h.cache.Stats().Max
	for _, d := range foreign {
		if d.Size > max {
			return &vetError{fmt.Sprintf("layer %s declares %d bytes, more than this server's cache holds (--cache-max-size %d): it could never be served", d.Digest, d.Size, max)}
		}
	}
	return nil
}

// refuseManifest answers for a manifest the front will not pass on.
func (h *Front) refuseManifest(w http.ResponseWriter, rt route, err error) {
	var pe *policyError
	if errors.As(err, &pe) {
		h.m.refusals.WithLabelValues("put").Inc()
		h.log.Warn("manifest refused by URL policy", "repository", rt.repo, "reference", rt.ref, "digest", pe.digest, "err", pe.err)
		ocierr.Write(w, ocierr.ManifestInvalid, err.Error(), map[string]string{"digest": pe.digest, "url": pe.url})
		return
	}
	h.log.Warn("manifest refused", "repository", rt.repo, "reference", rt.ref, "err", err)
	ocierr.Write(w, ocierr.ManifestInvalid, err.Error(), nil)
}

// consistent refuses a manifest that declares a digest its repository
// already knows with another size.
func (h *Front) consistent(ctx context.Context, repo name.Repository, foreign []v1.Descriptor) error {
	for _, d := range foreign {
		have, err := h.index.Lookup(ctx, repo, d.Digest)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("checking layer %s against the index: %w", d.Digest, err)
		}
		if have.Size != d.Size {
			return &vetError{fmt.Sprintf("layer %s is declared with size %d, but this repository already declares it with size %d; one of them is wrong", d.Digest, d.Size, have.Size)}
		}
	}
	return nil
}

// manifestDigest is the digest the backend stored the manifest under.
func manifestDigest(hw *holdWriter, body []byte) v1.Hash {
	if h, err := v1.NewHash(hw.Header().Get("Docker-Content-Digest")); err == nil {
		return h
	}
	return sha256Hash(body)
}

// getManifest passes the request to the backend and records the foreign
// layers of what it answers with 200, so manifests pushed straight to an
// upstream registry (or stored before a crash) are known too. The answer
// is held until they are recorded: a client that goes on to fetch a layer
// on another connection must find it known.
func (h *Front) getManifest(w http.ResponseWriter, r *http.Request, rt route) {
	key := rt.repo.String() + "@" + rt.ref
	release, err := h.getBudget.acquire(r.Context(), h.getBudget.hint(key))
	if err != nil {
		w.Header().Set("Retry-After", "5")
		ocierr.Write(w, ocierr.TooManyRequests, "too many large manifests are being handled at once; retry shortly", nil)
		return
	}
	defer release()
	hw := &holdWriter{w: w, max: h.maxManifest}
	h.backend.ServeHTTP(hw, r)
	defer hw.release()
	body, held := hw.held()
	if !held || hw.status != http.StatusOK || w.Header().Get("Content-Encoding") != "" {
		return
	}
	h.getBudget.remember(key, int64(len(body)))
	h.recordServed(r.Context(), rt, manifestDigest(hw, body), body)
}

// recordable keeps the descriptors of a served manifest the front can
// serve: a digest it can verify and a size within bounds. The URL policy
// runs again when a URL is fetched.
func (h *Front) recordable(rt route, blobs []v1.Descriptor) []v1.Descriptor {
	out := blobs[:0:0]
	for _, b := range canonical(blobs) {
		if !name.Verifiable(b.Digest.Algorithm) || b.Size < 0 || b.Size > h.maxBlob || len(b.URLs) == 0 {
			h.log.Warn("not serving a foreign layer of a manifest from the backend", "repository", rt.repo, "digest", b.Digest, "size", b.Size)
			continue
		}
		out = append(out, b)
	}
	return out
}

// deleteManifest passes a manifest DELETE by digest to the backend, and
// the index forgets what the manifest declared. With the embedded
// registry, whose auth is the front's (already checked), it forgets first,
// so a crash in between leaves the index short of a manifest the backend
// still holds (the next GET records it again), never holding one the
// backend deleted. With an upstream, whose auth decides, it forgets once
// the upstream deleted the manifest or answered that it has none (404
// MANIFEST_UNKNOWN): a DELETE repeated after a crash cleans up.
func (h *Front) deleteManifest(w http.ResponseWriter, r *http.Request, rt route) {
	d, isDigest := rt.digest()
	if isDigest {
		h.recorded.forget(rt.repo.String() + "@" + d.String())
		h.views.forget(rt.repo.String() + "@" + d.String())
	}
	if isDigest && h.authz == nil {
		if err := h.index.Forget(r.Context(), rt.repo, d); err != nil {
			h.log.Error("forgetting the foreign layers of a manifest being deleted", "repository", rt.repo, "digest", d, "err", err)
			ocierr.Write(w, ocierr.Unavailable, "fl serve could not update its index of foreign layers; nothing was deleted; retry", nil)
			return
		}
	}
	hw := &holdWriter{w: w, max: 64 << 10}
	h.backend.ServeHTTP(hw, r)
	if isDigest && h.authz != nil && (hw.ok() || hw.unknown("MANIFEST_UNKNOWN")) {
		if err := h.index.Forget(r.Context(), rt.repo, d); err != nil {
			h.log.Error("forgetting the foreign layers of a deleted manifest", "repository", rt.repo, "digest", d, "err", err)
			hw.replace(http.StatusInternalServerError, ocierr.Unavailable, "the manifest was deleted, but fl serve could not update its index of foreign layers; delete it again")
		}
	}
	hw.release()
}

// deleteBlob passes a blob DELETE to the backend and drops a foreign
// layer of that digest from the repository's index once the backend
// allowed the delete: it deleted the blob, or it answered that it never
// held it (404 BLOB_UNKNOWN, which a registry answers only to a client it
// let through; a refusal is 401 or 403).
func (h *Front) deleteBlob(w http.ResponseWriter, r *http.Request, rt route) {
	d, ok := rt.digest()
	hw := &holdWriter{w: w, max: 64 << 10}
	h.backend.ServeHTTP(hw, r)
	if ok && (hw.ok() || hw.unknown("BLOB_UNKNOWN")) {
		err := h.index.Remove(r.Context(), rt.repo, d)
		switch {
		case err == nil && !hw.ok():
			hw.discard()
			w.Header().Set("Docker-Content-Digest", d.String())
			w.Header().Set("Content-Length", "0")
			w.WriteHeader(http.StatusAccepted)
			return
		case err != nil && !errors.Is(err, store.ErrNotFound):
			h.log.Error("removing a deleted foreign layer from the index", "repository", rt.repo, "digest", d, "err", err)
			hw.replace(http.StatusInternalServerError, ocierr.Unavailable, "fl serve could not update its index of foreign layers; delete the blob again")
		}
	}
	hw.release()
}
