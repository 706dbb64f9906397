package front

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/foreignlayers/fl/pkg/fetch"
	"github.com/foreignlayers/fl/pkg/name"
	"github.com/foreignlayers/fl/pkg/ocierr"
	"github.com/foreignlayers/fl/pkg/store"
)

// freshLookup is an Index whose lookups may be answered from a memory
// that lags other replicas' writes (store.S3Index): before a client gets
// a 404, the front asks it again, past that memory.
type freshLookup interface {
	LookupFresh(ctx context.Context, repo name.Repository, digest v1.Hash) (v1.Descriptor, error)
}

// serveBlob answers a blob GET or HEAD: a foreign layer of the repository
// from the front, anything else from the backend (toBackend is the
// request it gets). With an index shared by replicas, a 404 of the
// backend is held while the index is asked afresh: another replica may
// have recorded the layer a moment ago.
func (h *Front) serveBlob(w *statusWriter, r *http.Request, rt route, toBackend *http.Request) {
	if h.serveForeign(w, r, rt) {
		return
	}
	fresh, ok := h.index.(freshLookup)
	d, isDigest := rt.digest()
	if !ok || !isDigest || h.mode == ModeOff {
		h.backend.ServeHTTP(w, toBackend)
		return
	}
	held := &hold404{statusWriter: w}
	h.backend.ServeHTTP(held, toBackend)
	if !held.held {
		return
	}
	if desc, err := fresh.LookupFresh(r.Context(), rt.repo, d); err == nil {
		clear(w.Header())
		h.answerForeign(w, r, rt, desc)
		return
	}
	held.release()
}

// serveForeign answers a blob GET or HEAD for a digest the index knows as
// a foreign layer of the repository. It returns false to leave the request
// to the backend.
func (h *Front) serveForeign(w *statusWriter, r *http.Request, rt route) bool {
	if h.mode == ModeOff {
		return false
	}
	d, ok := rt.digest()
	if !ok {
		return false
	}
	desc, err := h.index.Lookup(r.Context(), rt.repo, d)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return false
	case err != nil:
		h.log.Error("index lookup failed", "repository", rt.repo, "digest", d, "err", err)
		ocierr.Write(w, ocierr.Unavailable, "fl serve could not read its index of foreign layers; retry later", nil)
		return true
	}
	h.answerForeign(w, r, rt, desc)
	return true
}

// answerForeign answers for a foreign layer of the repository.
func (h *Front) answerForeign(w *statusWriter, r *http.Request, rt route, desc v1.Descriptor) {
	if h.authz != nil && !h.authz.allow(w, r, rt.repo) {
		return
	}
	if r.Method == http.MethodHead {
		blobHeaders(w, desc)
		w.Header().Set("Content-Length", strconv.FormatInt(desc.Size, 10))
		w.WriteHeader(http.StatusOK)
		return
	}
	switch h.mode {
	case ModeRedirect:
		h.redirect(w, r, desc)
	default:
		h.serveCached(w, r, desc)
	}
}

// blobHeaders are the headers of a foreign blob answer, the same for HEAD
// and GET.
func blobHeaders(w http.ResponseWriter, desc v1.Descriptor) {
	hdr := w.Header()
	hdr.Set("Docker-Content-Digest", desc.Digest.String())
	hdr.Set("Content-Type", "application/octet-stream")
	hdr.Set("ETag", `"`+desc.Digest.String()+`"`)
	hdr.Set("Cache-Control", "max-age=31536000")
	hdr.Set("Accept-Ranges", "bytes")
}

// redirect answers 307 to the first URL the policy in force allows.
func (h *Front) redirect(w http.ResponseWriter, r *http.Request, desc v1.Descriptor) {
	var errs []error
	for _, u := range desc.URLs {
		c, err := h.policy.Load().Canonical(u)
		if err != nil {
			h.m.refusals.WithLabelValues("redirect").Inc()
			errs = append(errs, err)
			continue
		}
		h.m.redirects.Inc()
		http.Redirect(w, r, c, http.StatusTemporaryRedirect)
		return
	}
	ocierr.Write(w, ocierr.Denied, fmt.Sprintf("no URL of foreign layer %s is allowed: %v", desc.Digest, errors.Join(errs...)), nil)
}

// serveCached serves from the cache, or joins (or starts) the one fetch of
// the blob for this descriptor and streams it as it arrives.
func (h *Front) serveCached(w *statusWriter, r *http.Request, desc v1.Descriptor) {
	ctx := r.Context()
	if h.sendCached(w, r, desc) {
		h.m.cacheHits.Inc()
		return
	}
	h.m.cacheMisses.Inc()
	fl, joined, err := h.fetcher.join(ctx, desc)
	if h.settled(w, r, desc, err) {
		return
	}
	defer fl.detach()
	if joined {
		h.m.joins.Inc()
	}
	if r.Header.Get("Range") != "" {
		// A range is served once the whole blob has verified.
		if err := fl.waitDone(ctx); !h.settled(w, r, desc, err) {
			h.sendFromCache(w, r, desc)
		}
		return
	}
	if h.settled(w, r, desc, fl.waitStart(ctx)) {
		return
	}
	rd, err := fl.newReader(ctx)
	if h.settled(w, r, desc, err) {
		return
	}
	defer rd.Close()
	blobHeaders(w, desc)
	w.Header().Set("Content-Length", strconv.FormatInt(desc.Size, 10))
	w.WriteHeader(http.StatusOK)
	n, err := io.CopyBuffer(writerOnly{w}, rd, make([]byte, 64<<10))
	h.m.servedBytes.WithLabelValues("flight").Add(float64(n))
	if err != nil {
		// The client must not see a complete body: cut the connection.
		h.log.Warn("foreign layer response cut short", "digest", desc.Digest, "sent", n, "err", err)
		panic(http.ErrAbortHandler)
	}
}

// sendCached serves the cached blob if this descriptor may have it: its
// size must be the declared one, and one of the descriptor's own URLs must
// have been seen serving those bytes. Another repository's cached copy of
// a digest is not handed to a repository whose URLs never served it.
func (h *Front) sendCached(w *statusWriter, r *http.Request, desc v1.Descriptor) bool {
	b, err := h.cache.Open(r.Context(), desc.Digest)
	if err != nil {
		return false
	}
	if b.Size() != desc.Size || !vouched(b.Sources(), desc.URLs) {
		_ = b.Close()
		return false
	}
	h.sendFile(w, r, desc, b)
	return true
}

// vouched reports whether one of urls is among the sources of a blob.
func vouched(sources, urls []string) bool {
	return slices.ContainsFunc(urls, func(u string) bool { return slices.Contains(sources, u) })
}

// settled answers for a step that failed, or found the blob already
// cached, and reports whether it did.
func (h *Front) settled(w *statusWriter, r *http.Request, desc v1.Descriptor, err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, errUseCache):
		h.sendFromCache(w, r, desc)
	default:
		h.fetchError(w, desc, err)
	}
	return true
}

func (h *Front) sendFromCache(w *statusWriter, r *http.Request, desc v1.Descriptor) {
	if !h.sendCached(w, r, desc) {
		h.fetchError(w, desc, errors.New("the verified blob is no longer in the cache (evicted); retry"))
	}
}

// sendFile serves a cached blob with Range and conditional support; an
// *os.File goes out by sendfile. No Last-Modified: HEAD, answered from the
// index, could not send the same.
func (h *Front) sendFile(w *statusWriter, r *http.Request, desc v1.Descriptor, b store.Blob) {
	defer b.Close()
	blobHeaders(w, desc)
	var content io.ReadSeeker = b
	if f, ok := b.(interface{ OSFile() *os.File }); ok {
		content = f.OSFile()
	}
	before := w.bytes
	http.ServeContent(w, r, "", time.Time{}, content)
	h.m.servedBytes.WithLabelValues("cache").Add(float64(w.bytes - before))
}

// fetchError answers for a fetch that could not start.
func (h *Front) fetchError(w http.ResponseWriter, desc v1.Descriptor, err error) {
	msg := fmt.Sprintf("foreign layer %s could not be fetched from its URLs: %v", desc.Digest, err)
	switch {
	case errors.Is(err, ErrTooManyFetches):
		w.Header().Set("Retry-After", "5")
		ocierr.Write(w, ocierr.TooManyRequests, "too many foreign layers are being fetched at once (the server's --max-fetches and --fetch-wait); retry shortly", nil)
	case errors.Is(err, store.ErrTooLarge):
		why := fmt.Sprintf("more than this server's cache holds (--cache-max-size %d)", h.cache.Stats().Max)
		if desc.Size <= h.cache.Stats().Max {
			why = "more than the disk can hold while keeping --cache-min-free free"
		}
		h.log.Warn("foreign layer refused: it does not fit the cache", "digest", desc.Digest, "size", desc.Size, "err", err)
		ocierr.WriteStatus(w, http.StatusInsufficientStorage, ocierr.SizeInvalid, fmt.Sprintf("foreign layer %s is %d bytes, %s", desc.Digest, desc.Size, why), nil)
	case errors.Is(err, store.ErrNoSpace):
		w.Header().Set("Retry-After", "30")
		ocierr.Write(w, ocierr.Unavailable, fmt.Sprintf("no room in the cache for foreign layer %s (%d bytes) right now: every cached blob is in use, or the disk is short of free space (--cache-max-size, --cache-min-free): %v", desc.Digest, desc.Size, err), nil)
	case errors.Is(err, fetch.ErrRefused):
		h.m.refusals.WithLabelValues("fetch").Inc()
		ocierr.Write(w, ocierr.Denied, msg, nil)
	case every(err, notFound):
		ocierr.Write(w, ocierr.BlobUnknown, msg, map[string]string{"digest": desc.Digest.String()})
	case every(err, func(e error) bool { return errors.Is(e, ErrDigestMismatch) }):
		// Final, not retryable: no URL has the content the digest names.
		ocierr.Write(w, ocierr.BlobUnknown, "foreign layer "+desc.Digest.String()+": no URL serves content that matches the descriptor: "+err.Error(), map[string]string{"digest": desc.Digest.String()})
	default:
		ocierr.WriteStatus(w, http.StatusBadGateway, ocierr.Unavailable, msg, nil)
	}
}

// every reports whether each of the joined errors of a failed fetch (one
// per URL) satisfies ok.
func every(err error, ok func(error) bool) bool {
	var re *rememberedError
	if errors.As(err, &re) {
		err = re.err
	}
	errs := []error{err}
	if j, isJoin := err.(interface{ Unwrap() []error }); isJoin {
		errs = j.Unwrap()
	}
	for _, e := range errs {
		if !ok(e) {
			return false
		}
	}
	return len(errs) > 0
}

// notFound reports whether a URL answered 404 or 410.
func notFound(e error) bool {
	var fe *fetch.Error
	return errors.As(e, &fe) && fe.Kind == fetch.ErrStatus && (fe.StatusCode == http.StatusNotFound || fe.StatusCode == http.StatusGone)
}

// writerOnly hides ReadFrom, so a copy goes through our buffer.
type writerOnly struct{ io.Writer }
