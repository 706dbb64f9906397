package front

import (
	"log/slog"
	"net/http"
	"time"
)

// logAccess writes one access-log line for a request the front answered:
// method, route, repository, reference, status, bytes sent, duration,
// the authenticated user and the client's address. Never a header, a
// query string (upload state) or a credential; a user name only once
// its credentials were accepted.
func (h *Front) logAccess(r *http.Request, rt route, sw *statusWriter, start time.Time) {
	if h.access == nil {
		return
	}
	h.access.LogAttrs(r.Context(), slog.LevelInfo, "request",
		slog.String("method", methodLabel(r.Method)),
		slog.String("route", rt.kind),
		slog.String("repository", rt.repo.String()),
		slog.String("ref", rt.ref),
		slog.Int("status", sw.code()),
		slog.Int64("bytes", sw.bytes),
		slog.Duration("duration", time.Since(start)),
		slog.String("user", sw.user),
		slog.String("remote", r.RemoteAddr),
	)
}
