package front

import (
	"fmt"
	"github.com/foreignlayers/fl/pkg/name"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// Bearer tokens rotate: every pull brings new credentials. The answers
// kept must stay bounded, and a repeated question must not reach the
// upstream again.
func TestUpstreamAuthzBounded(t *testing.T) {
	var probes atomic.Int64
	upstream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		probes.Add(1)
		if r.Header.Get("Authorization") == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="https://auth.example/token"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	a := newUpstreamAuthz(upstream)
	ask := func(auth string) (bool, *httptest.ResponseRecorder) {
		r := httptest.NewRequest(http.MethodGet, "/v2/repo/blobs/sha256:x", nil)
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		w := httptest.NewRecorder()
		return a.allow(w, r, name.MustRepository("repo")), w
	}
	for i := range 3 * maxAnswers {
		if ok, _ := ask(fmt.Sprintf("Bearer token-%d", i)); !ok {
			t.Fatalf("token %d refused", i)
		}
	}
	if n := len(a.answers); n > maxAnswers {
		t.Errorf("%d answers kept, more than %d", n, maxAnswers)
	}
	before := probes.Load()
	ask("Bearer token-again")
	ask("Bearer token-again")
	if got := probes.Load() - before; got != 1 {
		t.Errorf("the same credentials asked the upstream %d times, want once", got)
	}
	ok, w := ask("")
	if ok || w.Code != http.StatusUnauthorized || w.Header().Get("WWW-Authenticate") == "" {
		t.Errorf("anonymous: allowed %v, %d %q; want the upstream's challenge", ok, w.Code, w.Header().Get("WWW-Authenticate"))
	}
}
