package server

import (
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/foreignlayers/fl/pkg/admin"
)

// serveAdmin decides who reaches the cache admin endpoint:
//
//   - with --htpasswd, it is on --addr, for the file's users (Basic
//     credentials, or a token issued to a user), and not on --metrics-addr;
//   - without --htpasswd, it is only on --metrics-addr, and there only for
//     clients on loopback (fl cache on the host, or in the pod), even when
//     the listener is bound to every address for probes;
//   - with neither, it is off.
func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request, onMetrics bool) {
	switch {
	case s.cfg.Htpasswd != "" && onMetrics:
		admin.WriteError(w, http.StatusNotFound, "with --htpasswd, the cache admin endpoint is on --addr, with credentials")
	case s.cfg.Htpasswd != "":
		if !s.auth.Authenticated(r) {
			w.Header().Set("WWW-Authenticate", `Basic realm="fl admin"`)
			admin.WriteError(w, http.StatusUnauthorized, "the cache admin endpoint needs the credentials of a user of --htpasswd")
			return
		}
		s.admin.ServeHTTP(w, r)
	case onMetrics:
		if !loopbackPeer(r) || !loopbackHost(r) {
			admin.WriteError(w, http.StatusForbidden, "without --htpasswd, the cache admin endpoint answers only clients on loopback")
			return
		}
		s.admin.ServeHTTP(w, r)
	default:
		if s.cfg.MetricsAddr != "" {
			admin.WriteError(w, http.StatusNotFound, "without --htpasswd, the cache admin endpoint is on --metrics-addr ("+s.cfg.MetricsAddr+"), for clients on loopback: fl cache --server http://"+loopbackURLHost(s.cfg.MetricsAddr))
			return
		}
		admin.WriteError(w, http.StatusNotFound, "the cache admin endpoint is off: start fl serve with --htpasswd (for its users), or --metrics-addr (for clients on loopback)")
	}
}

// metricsHandler serves --metrics-addr: /metrics, /healthz and, without
// --htpasswd, the admin endpoint for loopback clients.
func (s *Server) metricsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, admin.Prefix) {
			s.serveAdmin(w, r, true)
			return
		}
		s.ops.ServeHTTP(w, r)
	})
}

func loopbackPeer(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// loopbackHost reports whether the request asked for a loopback name or
// address: a web page that rebinds its own name to 127.0.0.1 still sends
// that name.
func loopbackHost(r *http.Request) bool {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// loopbackURLHost is addr as a loopback client reaches it.
func loopbackURLHost(addr string) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return "127.0.0.1:" + port
}
