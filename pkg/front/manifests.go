package front

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/foreignlayers/fl/pkg/ocierr"
)

// manifestDoc is the part of any manifest or index that can carry urls.
type manifestDoc struct {
	Config    *v1.Descriptor  `json:"config"`
	Layers    []v1.Descriptor `json:"layers"`
	Manifests []v1.Descriptor `json:"manifests"`
}

// withURLs returns the descriptors of a manifest or index that carry urls:
// blobs (config and layers) to index, and all of them for the policy.
func withURLs(body []byte) (blobs, all []v1.Descriptor) {
	var doc manifestDoc
	if json.Unmarshal(body, &doc) != nil {
		return nil, nil // the backend answers for invalid manifests
	}
	cand := doc.Layers
	if doc.Config != nil {
		cand = append([]v1.Descriptor{*doc.Config}, cand...)
	}
	for _, d := range cand {
		if len(d.URLs) > 0 {
			blobs = append(blobs, d)
		}
	}
	all = blobs
	for _, d := range doc.Manifests {
		if len(d.URLs) > 0 {
			all = append(all, d)
		}
	}
	return blobs, all
}

// putManifest checks every URL of the manifest against the policy,
// records its foreign layers, and passes it on to the backend.
func (h *Front) putManifest(w http.ResponseWriter, r *http.Request, rt route) {
	body, err := io.ReadAll(io.LimitReader(r.Body, h.maxManifest+1))
	if err != nil {
		ocierr.Write(w, ocierr.ManifestInvalid, "reading manifest: "+err.Error(), nil)
		return
	}
	if int64(len(body)) > h.maxManifest {
		ocierr.Write(w, ocierr.SizeInvalid, fmt.Sprintf("manifest is larger than %d bytes (the server's --max-manifest-size)", h.maxManifest), nil)
		return
	}
	blobs, all := withURLs(body)
	for _, d := range all {
		for _, u := range d.URLs {
			if err := h.policy.Check(u); err != nil {
				h.m.refusals.WithLabelValues("put").Inc()
				h.log.Warn("manifest refused by URL policy", "repository", rt.repo, "reference", rt.ref, "digest", d.Digest, "err", err)
				ocierr.Write(w, ocierr.ManifestInvalid, fmt.Sprintf("layer %s: %v", d.Digest, err), map[string]string{"digest": d.Digest.String(), "url": u})
				return
			}
		}
	}
	if len(blobs) > 0 {
		// Recorded before the backend stores the manifest: once a client
		// can see the manifest, the front knows its foreign layers.
		if err := h.index.Record(r.Context(), rt.repo, blobs); err != nil {
			h.log.Error("recording foreign layers", "repository", rt.repo, "err", err)
			ocierr.WriteStatus(w, http.StatusInternalServerError, ocierr.Unavailable, "recording foreign layers: "+err.Error(), nil)
			return
		}
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	r.Header.Set("Content-Length", strconv.Itoa(len(body)))
	h.backend.ServeHTTP(w, r)
}

// getManifest passes the request to the backend and records the foreign
// layers of what it answers, so manifests pushed straight to an upstream
// registry are known too. The answer is held until they are recorded: a
// client that goes on to fetch a layer on another connection must find
// it known.
func (h *Front) getManifest(w http.ResponseWriter, r *http.Request, rt route) {
	hw := &holdWriter{w: w, max: h.maxManifest}
	h.backend.ServeHTTP(hw, r)
	defer hw.release()
	body, ok := hw.held()
	if !ok || hw.status != http.StatusOK || w.Header().Get("Content-Encoding") != "" {
		return
	}
	blobs, _ := withURLs(body)
	if len(blobs) == 0 {
		return
	}
	if err := h.index.Record(r.Context(), rt.repo, blobs); err != nil {
		h.log.Error("recording foreign layers", "repository", rt.repo, "err", err)
	}
}
