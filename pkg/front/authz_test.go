package front

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/foreignlayers/fl/pkg/backend"
	"github.com/foreignlayers/fl/pkg/name"
)

var authzRepo = name.MustRepository("team/app")

func askAuthz(a *upstreamAuthz, auth string) (bool, *httptest.ResponseRecorder) {
	r := httptest.NewRequest(http.MethodGet, "/v2/team/app/blobs/sha256:x", nil)
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	w := httptest.NewRecorder()
	return a.allow(w, r, authzRepo), w
}

// Only a 2xx from the upstream allows; 401 and 403 come back as the
// upstream sent them; anything else denies with 503 naming the cause, and
// only allowed answers are remembered.
func TestUpstreamAuthzFailsClosed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		status    int
		allowed   bool
		want      int
		challenge string
		cause     string
	}{
		{"200", http.StatusOK, true, 0, "", ""},
		{"206", http.StatusPartialContent, true, 0, "", ""},
		{"401", http.StatusUnauthorized, false, http.StatusUnauthorized, `Bearer realm="https://auth.example/token"`, ""},
		{"403", http.StatusForbidden, false, http.StatusForbidden, "", ""},
		{"404", http.StatusNotFound, false, http.StatusServiceUnavailable, "", "it answered 404 Not Found: NAME_UNKNOWN repository name not known to registry"},
		{"500", http.StatusInternalServerError, false, http.StatusServiceUnavailable, "", "it answered 500 Internal Server Error"},
		{"502", http.StatusBadGateway, false, http.StatusServiceUnavailable, "", "it answered 502 Bad Gateway"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var probes atomic.Int64
			var gotPath, gotAuth string
			upstream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				probes.Add(1)
				gotPath, gotAuth = r.URL.RequestURI(), r.Header.Get("Authorization")
				if tc.challenge != "" {
					w.Header().Set("WWW-Authenticate", tc.challenge)
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				if tc.status == http.StatusNotFound {
					fmt.Fprint(w, `{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}`)
				} else {
					fmt.Fprintf(w, `{"upstream":%d}`, tc.status)
				}
			})
			a := newUpstreamAuthz(upstream)
			ok, w := askAuthz(a, "Bearer client-token")
			if gotPath != "/v2/team/app/tags/list?n=1" || gotAuth != "Bearer client-token" {
				t.Errorf("probe %q with Authorization %q", gotPath, gotAuth)
			}
			if ok != tc.allowed {
				t.Fatalf("allowed = %v, want %v (response %d %s)", ok, tc.allowed, w.Code, w.Body)
			}
			if tc.allowed {
				if w.Body.Len() != 0 || len(w.Header()) != 0 {
					t.Errorf("an allowed request had an answer written: %d %q", w.Code, w.Body)
				}
				askAuthz(a, "Bearer client-token")
				if n := probes.Load(); n != 1 {
					t.Errorf("an allowed answer was not remembered: %d probes", n)
				}
				return
			}
			if w.Code != tc.want {
				t.Errorf("status %d, want %d", w.Code, tc.want)
			}
			switch tc.want {
			case http.StatusUnauthorized, http.StatusForbidden:
				if got := w.Header().Get("WWW-Authenticate"); got != tc.challenge {
					t.Errorf("challenge %q, want the upstream's %q", got, tc.challenge)
				}
				if want := fmt.Sprintf(`{"upstream":%d}`, tc.status); w.Body.String() != want {
					t.Errorf("body %q, want the upstream's %q", w.Body, want)
				}
			default:
				msg := ociMessage(t, w, "UNAVAILABLE")
				if want := "could not check with the upstream registry whether this client may pull team/app: " + tc.cause; !strings.HasPrefix(msg, want) {
					t.Errorf("message %q, want it to start with %q", msg, want)
				}
			}
			askAuthz(a, "Bearer client-token")
			if n := probes.Load(); n != 2 {
				t.Errorf("a refusal or failure was remembered: %d probes for two requests", n)
			}
		})
	}
}

// With the upstream down, the reverse proxy's transport error denies, and
// the next request asks again.
func TestUpstreamAuthzUpstreamDown(t *testing.T) {
	t.Parallel()
	dead := httptest.NewServer(http.NotFoundHandler())
	u, _ := url.Parse(dead.URL)
	dead.Close()
	be, err := backend.Upstream(u, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := newUpstreamAuthz(be)
	for range 2 {
		ok, w := askAuthz(a, "")
		if ok || w.Code != http.StatusServiceUnavailable {
			t.Fatalf("upstream down: allowed %v, %d %s", ok, w.Code, w.Body)
		}
		msg := ociMessage(t, w, "UNAVAILABLE")
		if !strings.Contains(msg, "whether this client may pull team/app: it answered 502 Bad Gateway") || !strings.Contains(msg, "connection refused") {
			t.Errorf("message %q does not name the cause", msg)
		}
	}
	if len(a.allowed) != 0 {
		t.Errorf("%d answers remembered with the upstream down", len(a.allowed))
	}
}

// Bearer tokens rotate: every pull brings new credentials. The answers
// kept must stay bounded, and a repeated question must not reach the
// upstream again.
func TestUpstreamAuthzBounded(t *testing.T) {
	t.Parallel()
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
	for i := range 3 * maxAnswers {
		if ok, _ := askAuthz(a, fmt.Sprintf("Bearer token-%d", i)); !ok {
			t.Fatalf("token %d refused", i)
		}
	}
	if n := len(a.allowed); n > maxAnswers {
		t.Errorf("%d answers kept, more than %d", n, maxAnswers)
	}
	before := probes.Load()
	askAuthz(a, "Bearer token-again")
	askAuthz(a, "Bearer token-again")
	if got := probes.Load() - before; got != 1 {
		t.Errorf("the same credentials asked the upstream %d times, want once", got)
	}
	ok, w := askAuthz(a, "")
	if ok || w.Code != http.StatusUnauthorized || w.Header().Get("WWW-Authenticate") == "" {
		t.Errorf("anonymous: allowed %v, %d %q; want the upstream's challenge", ok, w.Code, w.Header().Get("WWW-Authenticate"))
	}
}

// ociMessage checks w holds an OCI error envelope with code, and returns
// its message.
func ociMessage(t *testing.T, w *httptest.ResponseRecorder, code string) string {
	t.Helper()
	var env struct {
		Errors []struct{ Code, Message string }
	}
	if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil || len(env.Errors) != 1 {
		t.Fatalf("not an OCI error envelope: %v %q", err, w.Body)
	}
	if env.Errors[0].Code != code {
		t.Errorf("code %q, want %q", env.Errors[0].Code, code)
	}
	return env.Errors[0].Message
}
