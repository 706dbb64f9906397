package front

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/foreignlayers/fl/pkg/mirror"
	"github.com/foreignlayers/fl/pkg/name"
	"github.com/foreignlayers/fl/pkg/ocierr"
	"github.com/foreignlayers/fl/pkg/store"
)

// The strip-urls view (--strip-urls-prefix PREFIX): PREFIX/R is a
// read-only view of every repository R whose manifests have no urls (the
// rewrite of `fl copy --strip-urls`, mirror.StripManifest), so clients
// that fetch layer URLs themselves (containerd, podman, skopeo) ask the
// registry for every layer. Blobs are R's; pulling PREFIX/R needs the
// rights of pulling R; nothing can be written under PREFIX/.

// inView reports whether rt names a repository of the view, and if so
// turns it into the original repository.
func (h *Front) inView(rt *route) bool {
	if h.viewPrefix == "" || rt.repo.IsZero() {
		return false
	}
	rest, ok := strings.CutPrefix(rt.repo.String(), h.viewPrefix+"/")
	if !ok {
		return false
	}
	repo, err := name.ParseRepository(rest) // components of a valid name
	if err != nil {
		return false
	}
	rt.repo = repo
	return true
}

// serveView answers a request under the view, for the original
// repository rt.repo.
func (h *Front) serveView(w *statusWriter, r *http.Request, rt route) {
	read := r.Method == http.MethodGet || r.Method == http.MethodHead
	switch {
	case !read:
		what := "push to"
		if r.Method == http.MethodDelete {
			what = "delete from"
		}
		ocierr.Write(w, ocierr.Denied, h.viewPrefix+"/"+rt.repo.String()+" is a read-only view of "+rt.repo.String()+" without layer urls (--strip-urls-prefix); "+what+" "+rt.repo.String()+" instead (by the original's digest: fl inspect shows both)", nil)
	case rt.kind == "manifest":
		h.viewManifest(w, r, rt)
	case rt.kind == "blob":
		h.serveBlob(w, r, rt, h.onOriginal(r, strings.TrimPrefix(r.URL.Path, "/v2/"+h.viewPrefix+"/")))
	case rt.kind == "tags":
		h.viewTags(w, r, rt)
	default:
		ocierr.Write(w, ocierr.Unsupported, "the strip-urls view answers manifests, blobs and tags; ask "+rt.repo.String()+" itself", nil)
	}
}

// onOriginal is r addressed to the original repository: path is the
// path after /v2/.
func (h *Front) onOriginal(r *http.Request, path string) *http.Request {
	r2 := r.Clone(r.Context())
	r2.URL.Path = "/v2/" + path
	r2.URL.RawPath = ""
	r2.RequestURI = r2.URL.RequestURI()
	return r2
}

// viewManifest answers a manifest GET or HEAD under the view: the
// original, rewritten. By digest, the digest is the view's, found in the
// index (or a manifest without urls, which is its own view).
func (h *Front) viewManifest(w *statusWriter, r *http.Request, rt route) {
	ctx := r.Context()
	ref := rt.ref
	want, byDigest := rt.digest()
	if byDigest {
		if orig, err := h.index.OriginalOf(ctx, rt.repo, want); err == nil {
			ref = orig.String()
		}
	}
	release, err := h.getBudget.acquire(ctx, h.getBudget.hint(rt.repo.String()+"@"+ref))
	if err != nil {
		w.Header().Set("Retry-After", "5")
		ocierr.Write(w, ocierr.TooManyRequests, "too many large manifests are being handled at once; retry shortly", nil)
		return
	}
	defer release()
	rec := h.original(ctx, r, rt.repo, ref)
	if rec.Code != http.StatusOK {
		copyResponse(w, rec, r.Method)
		return
	}
	body := rec.Body.Bytes()
	orig := sha256Hash(body)
	h.recordServed(ctx, rt, orig, body)
	view, err := h.viewOf(ctx, r, rt.repo, orig, rec.Header().Get("Content-Type"), body)
	if err != nil {
		h.log.Warn("strip-urls view: rewriting a manifest failed", "repository", rt.repo, "reference", ref, "err", err)
		ocierr.Write(w, ocierr.ManifestInvalid, "the strip-urls view cannot rewrite "+rt.repo.String()+"'s manifest: "+err.Error(), nil)
		return
	}
	digest := sha256Hash(view)
	if byDigest && digest != want {
		ocierr.Write(w, ocierr.ManifestUnknown, "no manifest of "+rt.repo.String()+" has the view digest "+want.String(), nil)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", rec.Header().Get("Content-Type"))
	hdr.Set("Docker-Content-Digest", digest.String())
	hdr.Set("Etag", `"`+digest.String()+`"`)
	hdr.Set("Content-Length", strconv.Itoa(len(view)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(view)
	}
}

// viewOf is the view of the original manifest body (digest orig): from
// memory, or rewritten, and then its digest recorded in the index.
func (h *Front) viewOf(ctx context.Context, r *http.Request, repo name.Repository, orig v1.Hash, contentType string, body []byte) ([]byte, error) {
	key := repo.String() + "@" + orig.String()
	if view, ok := h.views.get(key); ok {
		// Another manifest with the same view (pushed again with other
		// URLs) may have been deleted, and its mapping with it.
		if _, err := h.index.OriginalOf(ctx, repo, sha256Hash(view)); err == nil || sha256Hash(view) == orig {
			return view, nil
		}
	}
	view, err := h.strip(ctx, r, repo, contentType, body)
	if err != nil {
		return nil, err
	}
	if err := h.index.RecordView(ctx, repo, orig, v1.Descriptor{Digest: sha256Hash(view), Size: int64(len(view))}); err != nil {
		return nil, err
	}
	if len(view) <= 64<<10 {
		h.views.put(key, view)
	}
	return view, nil
}

// original GETs a manifest of repo from the backend, as the client.
func (h *Front) original(ctx context.Context, r *http.Request, repo name.Repository, ref string) *httptest.ResponseRecorder {
	req := h.backendRequest(ctx, r, http.MethodGet, "/v2/"+repo.String()+"/manifests/"+ref, nil)
	for _, k := range []string{"Accept"} {
		req.Header[k] = r.Header[k]
	}
	rec := httptest.NewRecorder()
	h.backend.ServeHTTP(rec, req)
	return rec
}

// strip rewrites a manifest; an index is rewritten to point at its
// children's views, which are found in the index or computed (and
// recorded) from the backend's copies.
func (h *Front) strip(ctx context.Context, r *http.Request, repo name.Repository, contentType string, body []byte) ([]byte, error) {
	var doc struct {
		MediaType string            `json:"mediaType"`
		Manifests []json.RawMessage `json:"manifests"`
		Layers    []json.RawMessage `json:"layers"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, err
	}
	// Whatever it is, nothing in it keeps urls: an image manifest with a
	// "manifests" member, or an index with "layers", is stripped as both.
	body, err := mirror.StripManifest(body)
	if err != nil || !isIndex(contentType, doc.MediaType, doc.Manifests != nil && doc.Layers == nil) {
		return body, err
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(body, &idx); err != nil {
		return nil, err
	}
	children := map[v1.Hash]v1.Descriptor{}
	for _, c := range idx.Manifests {
		view, err := h.childView(ctx, r, repo, c.Digest)
		if err != nil {
			return nil, err
		}
		children[c.Digest] = view
	}
	return mirror.RewriteIndex(body, children)
}

// childView is the view of a manifest an index points at.
func (h *Front) childView(ctx context.Context, r *http.Request, repo name.Repository, d v1.Hash) (v1.Descriptor, error) {
	if v, err := h.index.ViewOf(ctx, repo, d); err == nil {
		return v, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return v1.Descriptor{}, err
	}
	rec := h.original(ctx, r, repo, d.String())
	if rec.Code != http.StatusOK {
		return v1.Descriptor{}, errors.New("the backend answered " + strconv.Itoa(rec.Code) + " for " + d.String())
	}
	body := rec.Body.Bytes()
	h.recordServed(ctx, route{kind: "manifest", repo: repo, ref: d.String()}, sha256Hash(body), body)
	view, err := mirror.StripManifest(body)
	if err != nil {
		return v1.Descriptor{}, err
	}
	desc := v1.Descriptor{Digest: sha256Hash(view), Size: int64(len(view))}
	if err := h.index.RecordView(ctx, repo, d, desc); err != nil {
		return v1.Descriptor{}, err
	}
	return desc, nil
}

// isIndex tells an index from its media types; a document that names
// none is an index only if it has manifests and no layers.
func isIndex(contentType, mediaType string, onlyManifests bool) bool {
	for _, t := range []string{contentType, mediaType} {
		if strings.Contains(t, "manifest.list") || strings.Contains(t, "image.index") {
			return true
		}
	}
	known := func(t string) bool { return strings.Contains(t, "manifest") }
	return !known(contentType) && !known(mediaType) && onlyManifests
}

// recordServed records the foreign layers of a manifest the backend
// served (digest d), once a while: clients ask for those layers next, and
// manifests pushed straight to an upstream (or stored before a crash)
// become known this way.
func (h *Front) recordServed(ctx context.Context, rt route, d v1.Hash, body []byte) {
	key := rt.repo.String() + "@" + d.String()
	if _, done := h.recorded.get(key); done {
		return
	}
	decl, err := parseDeclared(body)
	if err != nil {
		return
	}
	if foreign := h.recordable(rt, decl.blobs); len(foreign) > 0 {
		if err := h.index.Record(ctx, rt.repo, d, foreign); err != nil {
			h.log.Warn("recording foreign layers of a manifest served by the backend", "repository", rt.repo, "reference", rt.ref, "err", err)
			return
		}
	}
	h.recorded.put(key, struct{}{})
}

// viewTags answers tags/list under the view with the original's tags,
// named as the view.
func (h *Front) viewTags(w *statusWriter, r *http.Request, rt route) {
	rec := httptest.NewRecorder()
	h.backend.ServeHTTP(rec, h.onOriginal(r, strings.TrimPrefix(r.URL.Path, "/v2/"+h.viewPrefix+"/")))
	if rec.Code != http.StatusOK {
		copyResponse(w, rec, r.Method)
		return
	}
	var list struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil {
		copyResponse(w, rec, r.Method)
		return
	}
	list.Name = h.viewPrefix + "/" + rt.repo.String()
	body, _ := json.Marshal(list)
	if link := rec.Header().Get("Link"); link != "" {
		w.Header().Set("Link", strings.Replace(link, "/v2/"+rt.repo.String()+"/", "/v2/"+list.Name+"/", 1))
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(body)
	}
}

// copyResponse passes a recorded backend answer on.
func copyResponse(w http.ResponseWriter, rec *httptest.ResponseRecorder, method string) {
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	if method != http.MethodHead {
		_, _ = w.Write(rec.Body.Bytes())
	}
}

func sha256Hash(b []byte) v1.Hash {
	sum := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
}
