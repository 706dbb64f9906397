package front

import (
	"crypto/sha256"
	"net/http"
	"net/http/httptest"

	"github.com/foreignlayers/fl/pkg/name"
	"sync"
	"time"
)

// upstreamAuthz asks the backend registry whether a client may pull a
// repository, before the front answers a foreign blob from its cache: the
// upstream's access control then covers foreign layers too. Answers are
// kept for a minute per repository and credentials, so a pull costs one
// round trip, not one per blob.
type upstreamAuthz struct {
	backend http.Handler
	ttl     time.Duration

	mu      sync.Mutex
	answers map[[32]byte]authzAnswer
}

type authzAnswer struct {
	allowed bool
	until   time.Time
}

func newUpstreamAuthz(backend http.Handler) *upstreamAuthz {
	return &upstreamAuthz{backend: backend, ttl: time.Minute, answers: map[[32]byte]authzAnswer{}}
}

// allow reports whether r may pull repo. When it may not, it has written
// the upstream's own answer (its 401 challenge, or 403) to w.
func (a *upstreamAuthz) allow(w http.ResponseWriter, r *http.Request, name name.Repository) bool {
	repo := name.String()
	key := sha256.Sum256([]byte(repo + "\x00" + r.Header.Get("Authorization")))
	a.mu.Lock()
	ans, ok := a.answers[key]
	a.mu.Unlock()
	if ok && time.Now().Before(ans.until) && ans.allowed {
		return true
	}
	probe, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, "/v2/"+repo+"/tags/list?n=1", nil)
	probe.Host = r.Host
	if auth := r.Header.Get("Authorization"); auth != "" {
		probe.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	a.backend.ServeHTTP(rec, probe)
	allowed := rec.Code >= 200 && rec.Code < 300
	a.remember(key, allowed)
	if !allowed {
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}
	return allowed
}

// maxAnswers bounds the memory of answers: bearer tokens change every few
// minutes, so keys keep coming.
const maxAnswers = 4096

func (a *upstreamAuthz) remember(key [32]byte, allowed bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := time.Now()
	if len(a.answers) >= maxAnswers {
		for k, v := range a.answers {
			if now.After(v.until) {
				delete(a.answers, k)
			}
		}
		if len(a.answers) >= maxAnswers {
			clear(a.answers) // all fresh: start over rather than grow
		}
	}
	a.answers[key] = authzAnswer{allowed: allowed, until: now.Add(a.ttl)}
}
