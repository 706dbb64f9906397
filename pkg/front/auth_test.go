package front

import (
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/foreignlayers/fl/pkg/name"
)

// writeHtpasswd writes user:password pairs as bcrypt at the cost given
// (MinCost keeps the tests fast).
func writeHtpasswd(t *testing.T, path string, cost int, userPass ...string) {
	t.Helper()
	var b strings.Builder
	for i := 0; i < len(userPass); i += 2 {
		h, err := bcrypt.GenerateFromPassword([]byte(userPass[i+1]), cost)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(userPass[i] + ":" + string(h) + "\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

func newTestAuth(t *testing.T, o AuthOptions, userPass ...string) (*Auth, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "htpasswd")
	writeHtpasswd(t, path, bcrypt.MinCost, userPass...)
	a, err := LoadHtpasswd(path, o)
	if err != nil {
		t.Fatal(err)
	}
	return a, path
}

var (
	appRepo  = name.MustRepository("team/app")
	ping     = Access{}
	catalog  = Access{Catalog: true}
	pullApp  = Access{Repo: appRepo, Action: ActionPull}
	pushApp  = Access{Repo: appRepo, Action: ActionPush}
	delApp   = Access{Repo: appRepo, Action: ActionDelete}
	pushNone = Access{Action: ActionPush} // a route without a repository
)

// allow runs a.Allow for a request with the Authorization given.
func allow(a *Auth, auth string, acc Access) (bool, *httptest.ResponseRecorder) {
	r := httptest.NewRequest(http.MethodGet, "http://reg.example:5000/v2/", nil)
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	w := httptest.NewRecorder()
	return a.Allow(w, r, acc), w
}

func basic(user, pass string) string {
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	r.SetBasicAuth(user, pass)
	return r.Header.Get("Authorization")
}

// token asks a's token endpoint for scopes, with the Authorization given,
// and returns "Bearer TOKEN".
func token(t *testing.T, a *Auth, auth string, scopes ...string) string {
	t.Helper()
	q := "service=fl"
	for _, s := range scopes {
		q += "&scope=" + url.QueryEscape(s)
	}
	r := httptest.NewRequest(http.MethodGet, "http://reg.example:5000/auth/token?"+q, nil)
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	w := httptest.NewRecorder()
	a.ServeToken(w, r)
	if w.Code != http.StatusOK {
		t.Fatalf("token endpoint: %d %s", w.Code, w.Body)
	}
	var resp tokenResponse
	if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil || resp.Token == "" {
		t.Fatalf("token response %s: %v", w.Body, err)
	}
	return "Bearer " + resp.Token
}

const realmHeader = `Bearer realm="http://reg.example:5000/auth/token",service="fl"`

// The decisions, for anonymous clients, Basic users and tokens, with and
// without --auth-pulls; and the challenge each refusal carries.
func TestAuthAllow(t *testing.T) {
	t.Parallel()
	for _, pulls := range []bool{false, true} {
		a, _ := newTestAuth(t, AuthOptions{Pulls: pulls}, "alice", "s3cret")
		anonToken := token(t, a, "", "repository:team/app:pull,push", "registry:catalog:*")
		userPull := token(t, a, basic("alice", "s3cret"), "repository:team/app:pull")
		userAll := token(t, a, basic("alice", "s3cret"), "repository:team/app:*", "registry:catalog:*")
		for _, tc := range []struct {
			name      string
			auth      string
			acc       Access
			ok        bool
			challenge string // the WWW-Authenticate of a refusal
		}{
			{"anonymous ping", "", ping, false, realmHeader},
			{"anonymous pull", "", pullApp, !pulls, realmHeader + `,scope="repository:team/app:pull"`},
			{"anonymous catalog", "", catalog, !pulls, realmHeader + `,scope="registry:catalog:*"`},
			{"anonymous push", "", pushApp, false, realmHeader + `,scope="repository:team/app:push"`},
			{"anonymous delete", "", delApp, false, realmHeader + `,scope="repository:team/app:delete"`},
			{"anonymous push without a repository", "", pushNone, false, realmHeader},
			{"basic ping", basic("alice", "s3cret"), ping, true, ""},
			{"basic push", basic("alice", "s3cret"), pushApp, true, ""},
			{"basic delete", basic("alice", "s3cret"), delApp, true, ""},
			{"basic catalog", basic("alice", "s3cret"), catalog, true, ""},
			{"basic push without a repository", basic("alice", "s3cret"), pushNone, true, ""},
			{"bad password, ping", basic("alice", "wrong"), ping, false, realmHeader},
			{"bad password, pull", basic("alice", "wrong"), pullApp, false, realmHeader + `,scope="repository:team/app:pull"`},
			{"unknown user, pull", basic("mallory", "s3cret"), pullApp, false, realmHeader + `,scope="repository:team/app:pull"`},
			{"malformed basic", "Basic !!!", pullApp, false, realmHeader + `,scope="repository:team/app:pull"`},
			{"unknown scheme", "Digest x", pullApp, false, realmHeader + `,scope="repository:team/app:pull"`},
			{"anonymous token, ping", anonToken, ping, true, ""},
			{"anonymous token, pull", anonToken, pullApp, !pulls, realmHeader + `,scope="repository:team/app:pull",error="insufficient_scope"`},
			{"anonymous token, catalog", anonToken, catalog, !pulls, realmHeader + `,scope="registry:catalog:*",error="insufficient_scope"`},
			{"anonymous token, push", anonToken, pushApp, false, realmHeader + `,scope="repository:team/app:push",error="insufficient_scope"`},
			{"user token, pull", userPull, pullApp, true, ""},
			{"user token, push not asked for", userPull, pushApp, false, realmHeader + `,scope="repository:team/app:push",error="insufficient_scope"`},
			{"user token, other repository", userAll, Access{Repo: name.MustRepository("team/other"), Action: ActionPush}, false, realmHeader + `,scope="repository:team/other:push",error="insufficient_scope"`},
			{"user token *, push", userAll, pushApp, true, ""},
			{"user token *, delete", userAll, delApp, true, ""},
			{"user token, catalog", userAll, catalog, true, ""},
			{"user token, push without a repository", userPull, pushNone, true, ""},
			{"anonymous token, push without a repository", anonToken, pushNone, false, realmHeader + `,error="insufficient_scope"`},
			{"forged token", "Bearer " + forge(t, anonToken), pullApp, false, realmHeader + `,scope="repository:team/app:pull",error="invalid_token"`},
			{"forged token, push", "Bearer " + forge(t, userAll), pushApp, false, realmHeader + `,scope="repository:team/app:push",error="invalid_token"`},
			{"garbage token", "Bearer x.y", pushApp, false, realmHeader + `,scope="repository:team/app:push",error="invalid_token"`},
		} {
			ok, w := allow(a, tc.auth, tc.acc)
			if ok != tc.ok {
				t.Errorf("pulls=%v %s: allowed %v, want %v (%d %s)", pulls, tc.name, ok, tc.ok, w.Code, w.Body)
				continue
			}
			if ok {
				if w.Body.Len() != 0 || len(w.Header()) != 0 {
					t.Errorf("pulls=%v %s: allowed, but wrote %d %q", pulls, tc.name, w.Code, w.Body)
				}
				continue
			}
			if w.Code != http.StatusUnauthorized || w.Header().Get("WWW-Authenticate") != tc.challenge {
				t.Errorf("pulls=%v %s: %d\n%s\nwant 401\n%s", pulls, tc.name, w.Code, w.Header().Get("WWW-Authenticate"), tc.challenge)
			}
			ociMessage(t, w, "UNAUTHORIZED")
		}
	}
}

// forge re-signs nothing: it swaps the token's claims for ones granting
// everything and keeps the old signature.
func forge(t *testing.T, bearer string) string {
	t.Helper()
	tok := strings.TrimPrefix(bearer, "Bearer ")
	_, sig, _ := strings.Cut(tok, ".")
	body, _ := json.Marshal(claims{Sub: "alice", Aud: "fl", Iat: time.Now().Unix(), Exp: time.Now().Add(time.Hour).Unix(),
		Access: []grant{{Name: "team/app", Actions: []string{"pull", "push", "delete"}}}, Catalog: true})
	return b64.EncodeToString(body) + "." + sig
}

// Tokens die: at expiry, when signed with another key, when their user
// leaves the htpasswd file; and a key given in the options signs tokens
// another process with that key accepts.
func TestAuthTokenValidity(t *testing.T) {
	t.Parallel()
	key := []byte("0123456789abcdef0123456789abcdef")
	a, path := newTestAuth(t, AuthOptions{Key: key}, "alice", "s3cret", "bob", "hunter2")
	clock := time.Now()
	a.now = func() time.Time { return clock }
	alice := token(t, a, basic("alice", "s3cret"), "repository:team/app:push")
	bob := token(t, a, basic("bob", "hunter2"), "repository:team/app:push")

	if ok, w := allow(a, alice, pushApp); !ok {
		t.Fatalf("fresh token refused: %d %s", w.Code, w.Body)
	}
	// Another process with the same key: accepted; with its own: refused.
	same, _ := newTestAuth(t, AuthOptions{Key: key}, "alice", "other")
	if ok, _ := allow(same, alice, pushApp); !ok {
		t.Errorf("a token refused by a process sharing the key")
	}
	other, _ := newTestAuth(t, AuthOptions{}, "alice", "s3cret")
	if ok, w := allow(other, alice, pushApp); ok || !strings.Contains(w.Header().Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("a token of another key: allowed %v, %q", ok, w.Header().Get("WWW-Authenticate"))
	}
	// bob leaves the file: his token stops working at the reload.
	writeHtpasswd(t, path, bcrypt.MinCost, "alice", "s3cret")
	if err := a.Reload(); err != nil {
		t.Fatal(err)
	}
	if ok, _ := allow(a, bob, pushApp); ok {
		t.Errorf("the token of a user removed from the file still works")
	}
	clock = clock.Add(tokenTTL - time.Second)
	if ok, _ := allow(a, alice, pushApp); !ok {
		t.Errorf("token refused before its expiry")
	}
	clock = clock.Add(time.Second)
	if ok, w := allow(a, alice, pushApp); ok || !strings.Contains(w.Header().Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("expired token: allowed %v, %q", ok, w.Header().Get("WWW-Authenticate"))
	}
	if _, err := LoadHtpasswd(path, AuthOptions{Key: []byte("short")}); err == nil {
		t.Errorf("a 5-byte key was accepted")
	}
}

// The realm follows the request: https behind TLS, the Host the client
// used; an explicit Realm wins.
func TestAuthRealm(t *testing.T) {
	t.Parallel()
	a, path := newTestAuth(t, AuthOptions{}, "alice", "s3cret")
	r := httptest.NewRequest(http.MethodGet, "https://reg.example/v2/", nil)
	r.TLS = &tls.ConnectionState{}
	w := httptest.NewRecorder()
	a.Allow(w, r, ping)
	if got, want := w.Header().Get("WWW-Authenticate"), `Bearer realm="https://reg.example/auth/token",service="fl"`; got != want {
		t.Errorf("TLS challenge %q, want %q", got, want)
	}
	fixed, err := LoadHtpasswd(path, AuthOptions{Realm: "https://auth.example/token"})
	if err != nil {
		t.Fatal(err)
	}
	_, w = allow(fixed, "", pushApp)
	if got, want := w.Header().Get("WWW-Authenticate"), `Bearer realm="https://auth.example/token",service="fl",scope="repository:team/app:push"`; got != want {
		t.Errorf("challenge %q, want %q", got, want)
	}
}

// Authenticated gates /metrics: a user's Basic credentials or token, not
// an anonymous token.
func TestAuthAuthenticated(t *testing.T) {
	t.Parallel()
	a, _ := newTestAuth(t, AuthOptions{}, "alice", "s3cret")
	for _, tc := range []struct {
		name string
		auth string
		want bool
	}{
		{"none", "", false},
		{"basic", basic("alice", "s3cret"), true},
		{"bad basic", basic("alice", "nope"), false},
		{"user token", token(t, a, basic("alice", "s3cret")), true},
		{"anonymous token", token(t, a, "", "repository:team/app:pull"), false},
		{"forged token", "Bearer " + forge(t, token(t, a, "")), false},
	} {
		r := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		if tc.auth != "" {
			r.Header.Set("Authorization", tc.auth)
		}
		if got := a.Authenticated(r); got != tc.want {
			t.Errorf("%s: Authenticated = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// A nil Auth (no --htpasswd) lets everything through and has no token
// endpoint.
func TestAuthNil(t *testing.T) {
	t.Parallel()
	var a *Auth
	if ok, w := allow(a, "", pushApp); !ok || w.Body.Len() != 0 {
		t.Errorf("nil Auth refused a push")
	}
	if !a.Authenticated(httptest.NewRequest(http.MethodGet, "/metrics", nil)) || a.Reload() != nil {
		t.Errorf("nil Auth: Authenticated false or Reload failed")
	}
	w := httptest.NewRecorder()
	a.ServeToken(w, httptest.NewRequest(http.MethodGet, "/auth/token", nil))
	if w.Code != http.StatusNotFound {
		t.Errorf("nil Auth's token endpoint: %d", w.Code)
	}
}

// Reload takes new users and drops removed ones; a broken file keeps the
// users loaded before.
func TestAuthReload(t *testing.T) {
	t.Parallel()
	a, path := newTestAuth(t, AuthOptions{}, "alice", "s3cret")
	if ok, _ := allow(a, basic("alice", "s3cret"), pushApp); !ok {
		t.Fatal("alice refused")
	}
	writeHtpasswd(t, path, bcrypt.MinCost, "bob", "hunter2")
	if err := a.Reload(); err != nil {
		t.Fatal(err)
	}
	if ok, _ := allow(a, basic("bob", "hunter2"), pushApp); !ok {
		t.Errorf("a user added by the reload refused")
	}
	if ok, _ := allow(a, basic("alice", "s3cret"), pushApp); ok {
		t.Errorf("a user removed by the reload still allowed (a cached success survived)")
	}
	for name, body := range map[string]string{
		"empty":      "",
		"not bcrypt": "carol:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n",
		"no hash":    "carol\n",
	} {
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := a.Reload(); err == nil {
			t.Errorf("%s file: Reload succeeded", name)
		}
		if ok, _ := allow(a, basic("bob", "hunter2"), pushApp); !ok {
			t.Errorf("%s file: the users loaded before were dropped", name)
		}
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := a.Reload(); err == nil || !strings.Contains(err.Error(), "--htpasswd") {
		t.Errorf("missing file: %v", err)
	}
}

// Refusals say what was missing, in the OCI envelope.
func TestAuthMessages(t *testing.T) {
	t.Parallel()
	a, _ := newTestAuth(t, AuthOptions{Pulls: true}, "alice", "s3cret")
	for _, tc := range []struct {
		auth string
		acc  Access
		want string
	}{
		{"", ping, "authentication required"},
		{"", pushApp, "authentication required to push team/app"},
		{"", catalog, "authentication required to list the catalog"},
		{token(t, a, ""), pullApp, "authentication required to pull team/app"},
		{token(t, a, basic("alice", "s3cret"), "repository:team/app:pull"), delApp, "the token does not grant repository:team/app:delete"},
		{basic("alice", "nope"), pullApp, "invalid username or password"},
		{"Bearer nope", pullApp, "invalid or expired token"},
	} {
		_, w := allow(a, tc.auth, tc.acc)
		if got := ociMessage(t, w, "UNAUTHORIZED"); got != tc.want {
			t.Errorf("%+v: message %q, want %q", tc.acc, got, tc.want)
		}
	}
}
