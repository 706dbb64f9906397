package front

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/foreignlayers/fl/pkg/name"
	"github.com/foreignlayers/fl/pkg/ocierr"
)

// upstreamAuthz asks the backend registry (--upstream) whether a client may
// pull a repository, before the front answers a foreign blob itself: the
// upstream's access control then covers foreign layers too. It fails
// closed: only a 2xx allows. Allowed answers are kept a minute per
// repository and credentials, so a pull costs one round trip, not one per
// blob; refusals and failures are not kept.
type upstreamAuthz struct {
	backend http.Handler
	ttl     time.Duration
	timeout time.Duration // of one probe

	mu      sync.Mutex
	allowed map[[32]byte]time.Time // until when
}

func newUpstreamAuthz(backend http.Handler) *upstreamAuthz {
	return &upstreamAuthz{backend: backend, ttl: time.Minute, timeout: 30 * time.Second, allowed: map[[32]byte]time.Time{}}
}

// maxProbeBody caps what is kept of the upstream's answer to a probe.
const maxProbeBody = 64 << 10

// allow reports whether r may pull repo, asking the upstream with
// GET /v2/REPO/tags/list?n=1 and r's Authorization. When it may not, allow
// has answered: the upstream's own 401 or 403 (with its challenge), or
// 503 when the upstream could not say.
func (a *upstreamAuthz) allow(w http.ResponseWriter, r *http.Request, repo name.Repository) bool {
	auth := r.Header.Get("Authorization")
	key := sha256.Sum256([]byte(repo.String() + "\x00" + auth))
	a.mu.Lock()
	until, ok := a.allowed[key]
	a.mu.Unlock()
	if ok && time.Now().Before(until) {
		return true
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.timeout)
	defer cancel()
	probe, err := http.NewRequestWithContext(ctx, http.MethodGet, "/v2/"+repo.String()+"/tags/list?n=1", nil)
	if err != nil {
		a.unavailable(w, repo, err.Error())
		return false
	}
	probe.Host = r.Host
	probe.RemoteAddr = r.RemoteAddr
	if auth != "" {
		probe.Header.Set("Authorization", auth)
	}
	rec := &probeRecorder{header: http.Header{}}
	a.backend.ServeHTTP(rec, probe)
	switch code := rec.status(); {
	case code >= 200 && code < 300:
		a.remember(key)
		return true
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		for k, v := range rec.header {
			if k != "Content-Length" {
				w.Header()[k] = v
			}
		}
		w.WriteHeader(code)
		_, _ = w.Write(rec.body.Bytes())
		return false
	default:
		a.unavailable(w, repo, rec.cause())
		return false
	}
}

func (a *upstreamAuthz) unavailable(w http.ResponseWriter, repo name.Repository, cause string) {
	ocierr.Write(w, ocierr.Unavailable, fmt.Sprintf("could not check with the upstream registry whether this client may pull %s: %s", repo, cause), nil)
}

// maxAnswers bounds the memory of answers: bearer tokens change every few
// minutes, so keys keep coming.
const maxAnswers = 4096

func (a *upstreamAuthz) remember(key [32]byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := time.Now()
	if len(a.allowed) >= maxAnswers {
		for k, v := range a.allowed {
			if now.After(v) {
				delete(a.allowed, k)
			}
		}
		if len(a.allowed) >= maxAnswers {
			clear(a.allowed) // all fresh: start over rather than grow
		}
	}
	a.allowed[key] = now.Add(a.ttl)
}

// probeRecorder keeps the status, headers and the first maxProbeBody bytes
// of the backend's answer to a probe.
type probeRecorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (p *probeRecorder) Header() http.Header { return p.header }

func (p *probeRecorder) WriteHeader(code int) {
	if p.code == 0 {
		p.code = code
	}
}

func (p *probeRecorder) Write(b []byte) (int, error) {
	p.WriteHeader(http.StatusOK)
	if room := maxProbeBody - p.body.Len(); room > 0 {
		p.body.Write(b[:min(len(b), room)])
	}
	return len(b), nil
}

// status is the answer's status; a handler that wrote nothing answered 200.
func (p *probeRecorder) status() int {
	if p.code == 0 {
		return http.StatusOK
	}
	return p.code
}

// cause says what the upstream answered, with the message of an OCI
// error body when there is one.
func (p *probeRecorder) cause() string {
	s := fmt.Sprintf("it answered %d %s", p.status(), http.StatusText(p.status()))
	var env struct {
		Errors []ocierr.Error `json:"errors"`
	}
	if json.Unmarshal(p.body.Bytes(), &env) == nil && len(env.Errors) > 0 {
		e := env.Errors[0]
		s += ": " + strings.TrimSpace(string(e.Code)+" "+e.Message)
	}
	return s
}
