package front

import (
	"bytes"
	"io"
	"net/http"

	"github.com/foreignlayers/fl/pkg/ocierr"
)

// statusWriter records the status and byte count of a response. It keeps
// io.ReaderFrom, so that files still go out by sendfile.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
	user   string // the authenticated user, for the access log
}

// setUser records who Auth.Allow let in.
func (w *statusWriter) setUser(u string) { w.user = u }

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) ReadFrom(r io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := io.Copy(w.ResponseWriter, r)
	w.bytes += n
	return n, err
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) code() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// holdWriter holds a response back, up to max bytes, so the front can act
// on it before the client sees it. A larger body is passed through as it
// comes, unheld.
type holdWriter struct {
	w           http.ResponseWriter
	status      int
	max         int64
	buf         bytes.Buffer
	passthrough bool
	released    bool
}

func (h *holdWriter) Header() http.Header { return h.w.Header() }

func (h *holdWriter) WriteHeader(code int) {
	if h.status == 0 {
		h.status = code
	}
}

func (h *holdWriter) Write(p []byte) (int, error) {
	if h.status == 0 {
		h.status = http.StatusOK
	}
	if h.passthrough {
		return h.w.Write(p)
	}
	if int64(h.buf.Len()+len(p)) > h.max {
		h.passthrough = true
		h.w.WriteHeader(h.status)
		if _, err := h.w.Write(h.buf.Bytes()); err != nil {
			return 0, err
		}
		h.buf.Reset()
		return h.w.Write(p)
	}
	return h.buf.Write(p)
}

// held returns the whole body, if it was held.
func (h *holdWriter) held() ([]byte, bool) {
	return h.buf.Bytes(), !h.passthrough
}

// ok reports whether the backend answered 2xx.
func (h *holdWriter) ok() bool {
	return h.status == 0 || h.status >= 200 && h.status < 300
}

// unknown reports whether the backend answered 404 with the OCI error
// code, which a registry answers only to a client its auth let through.
func (h *holdWriter) unknown(code string) bool {
	body, held := h.held()
	return h.status == http.StatusNotFound && held && bytes.Contains(body, []byte(`"`+code+`"`))
}

// replace drops what was held and holds an error answer instead; a body
// already passed through cannot be replaced.
func (h *holdWriter) replace(status int, code ocierr.Code, msg string) {
	if h.passthrough {
		return
	}
	h.discard()
	h.released = false
	ocierr.WriteStatus(h, status, code, msg, nil)
}

// discard drops what was held, headers included: the caller answers.
func (h *holdWriter) discard() {
	if h.passthrough {
		return
	}
	clear(h.w.Header())
	h.status = 0
	h.buf.Reset()
	h.released = true
}

// release sends what was held, once.
func (h *holdWriter) release() {
	if h.passthrough || h.released {
		return
	}
	h.released = true
	if h.status == 0 {
		h.status = http.StatusOK
	}
	h.w.WriteHeader(h.status)
	_, _ = h.w.Write(h.buf.Bytes())
}

// hold404 passes a response through, except a 404: that one is held
// (its body up to 64 KiB), for the front to answer otherwise or release.
type hold404 struct {
	*statusWriter
	held bool
	body bytes.Buffer
}

func (h *hold404) WriteHeader(code int) {
	if code == http.StatusNotFound && h.statusWriter.status == 0 {
		h.held = true
		return
	}
	h.statusWriter.WriteHeader(code)
}

func (h *hold404) Write(p []byte) (int, error) {
	if h.held {
		if h.body.Len()+len(p) <= 64<<10 {
			h.body.Write(p)
		}
		return len(p), nil
	}
	return h.statusWriter.Write(p)
}

func (h *hold404) ReadFrom(r io.Reader) (int64, error) {
	if h.held {
		return io.Copy(writerOnly{h}, r)
	}
	return h.statusWriter.ReadFrom(r)
}

// release sends the held 404.
func (h *hold404) release() {
	h.statusWriter.WriteHeader(http.StatusNotFound)
	_, _ = h.statusWriter.Write(h.body.Bytes())
}
