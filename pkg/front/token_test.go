package front

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

// tokenClaims asks the endpoint and returns the claims of the token it
// issued (checked as a request would check it).
func tokenClaims(t *testing.T, a *Auth, auth string, scopes ...string) *claims {
	t.Helper()
	c, err := a.verifyToken(strings.TrimPrefix(token(t, a, auth, scopes...), "Bearer "))
	if err != nil {
		t.Fatalf("the endpoint's own token: %v", err)
	}
	return c
}

// What the endpoint grants, to users, to anonymous clients with and
// without --auth-pulls; invalid names and unknown resources dropped.
func TestTokenGrants(t *testing.T) {
	t.Parallel()
	open, _ := newTestAuth(t, AuthOptions{}, "alice", "s3cret")
	closed, _ := newTestAuth(t, AuthOptions{Pulls: true}, "alice", "s3cret")
	alice := basic("alice", "s3cret")
	all := []string{"pull", "push", "delete"}
	for _, tc := range []struct {
		name    string
		a       *Auth
		auth    string
		scopes  []string
		sub     string
		access  []grant
		catalog bool
	}{
		{"user, pull and push", open, alice, []string{"repository:team/app:pull,push"}, "alice", []grant{{"team/app", []string{"pull", "push"}}}, false},
		{"user, star", open, alice, []string{"repository:team/app:*"}, "alice", []grant{{"team/app", all}}, false},
		{"user, delete and catalog", closed, alice, []string{"repository:team/app:delete", "registry:catalog:*"}, "alice", []grant{{"team/app", []string{"delete"}}}, true},
		{"user, two repositories in one parameter", open, alice, []string{"repository:a:pull repository:b/c:push"}, "alice", []grant{{"a", []string{"pull"}}, {"b/c", []string{"push"}}}, false},
		{"user, repeated scopes merge", open, alice, []string{"repository:a:pull", "repository:a:push,pull"}, "alice", []grant{{"a", []string{"pull", "push"}}}, false},
		{"user, unknown actions dropped", open, alice, []string{"repository:a:pull,admin,"}, "alice", []grant{{"a", []string{"pull"}}}, false},
		{"anonymous, pull and push", open, "", []string{"repository:team/app:pull,push"}, "", []grant{{"team/app", []string{"pull"}}}, false},
		{"anonymous, star", open, "", []string{"repository:team/app:*", "registry:catalog:*"}, "", []grant{{"team/app", []string{"pull"}}}, true},
		{"anonymous, push only", open, "", []string{"repository:team/app:push"}, "", nil, false},
		{"anonymous, --auth-pulls", closed, "", []string{"repository:team/app:pull", "registry:catalog:*"}, "", nil, false},
		{"no scope", open, alice, nil, "alice", nil, false},
		{"invalid names dropped", open, alice, []string{"repository:Team/App:pull", "repository:../etc:pull", "repository:a//b:pull", "repository::pull", "repository:ok:pull"}, "alice", []grant{{"ok", []string{"pull"}}}, false},
		{"unknown resources dropped", open, alice, []string{"registry:other:*", "plugin:x:pull", "repository(plugin):x:pull", "nonsense", "registry:catalog:pull"}, "alice", nil, false},
	} {
		c := tokenClaims(t, tc.a, tc.auth, tc.scopes...)
		if c.Sub != tc.sub || !reflect.DeepEqual(c.Access, tc.access) || c.Catalog != tc.catalog {
			t.Errorf("%s: granted sub %q %+v catalog %v; want %q %+v %v", tc.name, c.Sub, c.Access, c.Catalog, tc.sub, tc.access, tc.catalog)
		}
	}
}

// The answer has the fields clients read, and lives five minutes.
func TestTokenResponse(t *testing.T) {
	t.Parallel()
	a, _ := newTestAuth(t, AuthOptions{}, "alice", "s3cret")
	clock := time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)
	a.now = func() time.Time { return clock }
	r := httptest.NewRequest(http.MethodGet, "/auth/token?service=fl&scope="+url.QueryEscape("repository:team/app:pull"), nil)
	w := httptest.NewRecorder()
	a.ServeToken(w, r)
	var resp map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil || w.Code != http.StatusOK {
		t.Fatalf("%d %s: %v", w.Code, w.Body, err)
	}
	if resp["token"] == "" || resp["token"] != resp["access_token"] || resp["expires_in"] != float64(300) || resp["issued_at"] != "2026-11-29T09:00:00Z" {
		t.Errorf("response %v", resp)
	}
	if w.Header().Get("Content-Type") != "application/json" || w.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("headers %v", w.Header())
	}
	c, err := a.verifyToken(resp["token"].(string))
	if err != nil || c.Exp-c.Iat != 300 || c.Iat != clock.Unix() {
		t.Errorf("claims %+v, %v", c, err)
	}
}

// Refusals: bad Basic credentials (401 with a Basic challenge, so clients
// send them), methods other than GET, too many scopes.
func TestTokenRefusals(t *testing.T) {
	t.Parallel()
	a, _ := newTestAuth(t, AuthOptions{}, "alice", "s3cret")
	for _, tc := range []struct {
		name   string
		method string
		auth   string
		query  string
		status int
		code   string
	}{
		{"bad password", http.MethodGet, basic("alice", "wrong"), "scope=repository:a:pull", http.StatusUnauthorized, "UNAUTHORIZED"},
		{"unknown user", http.MethodGet, basic("mallory", "s3cret"), "scope=repository:a:pull", http.StatusUnauthorized, "UNAUTHORIZED"},
		{"malformed basic", http.MethodGet, "Basic %%%", "", http.StatusUnauthorized, "UNAUTHORIZED"},
		{"POST", http.MethodPost, "", "", http.StatusMethodNotAllowed, "UNSUPPORTED"},
		{"too many scopes", http.MethodGet, "", strings.Repeat("scope=repository:a:pull&", maxScopes+1), http.StatusBadRequest, "UNSUPPORTED"},
	} {
		r := httptest.NewRequest(tc.method, "/auth/token?service=fl&"+tc.query, nil)
		if tc.auth != "" {
			r.Header.Set("Authorization", tc.auth)
		}
		w := httptest.NewRecorder()
		a.ServeToken(w, r)
		if w.Code != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.name, w.Code, w.Body, tc.status)
			continue
		}
		ociMessage(t, w, tc.code)
		if tc.status == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") != `Basic realm="fl"` {
			t.Errorf("%s: challenge %q", tc.name, w.Header().Get("WWW-Authenticate"))
		}
	}
	// A client's old token on the endpoint is ignored: it asks as itself.
	old := token(t, a, basic("alice", "s3cret"), "repository:a:push")
	if c := tokenClaims(t, a, old, "repository:a:push"); c.Sub != "" || len(c.Access) != 0 {
		t.Errorf("a bearer token on the token endpoint made a user's token: %+v", c)
	}
}

// A token's signature is checked before anything in it is read, and it
// cannot be altered, truncated or moved to another service.
func TestTokenTampering(t *testing.T) {
	t.Parallel()
	a, _ := newTestAuth(t, AuthOptions{}, "alice", "s3cret")
	tok := strings.TrimPrefix(token(t, a, basic("alice", "s3cret"), "repository:a:pull"), "Bearer ")
	payload, sig, _ := strings.Cut(tok, ".")
	other, _ := json.Marshal(claims{Sub: "alice", Aud: "other", Iat: time.Now().Unix(), Exp: time.Now().Add(time.Minute).Unix()})
	otherPayload := b64.EncodeToString(other)
	for name, bad := range map[string]string{
		"no signature":      payload,
		"empty signature":   payload + ".",
		"flipped signature": payload + "." + flip(sig),
		"flipped payload":   flip(payload) + "." + sig,
		"other audience":    otherPayload + "." + b64.EncodeToString(a.mac(otherPayload)),
		"too long":          payload + "." + sig + strings.Repeat("A", maxTokenLen),
		"empty":             "",
	} {
		if _, err := a.verifyToken(bad); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := a.verifyToken(tok); err != nil {
		t.Errorf("the untouched token: %v", err)
	}
}

func flip(s string) string {
	b := []byte(s)
	if b[0] == 'A' {
		b[0] = 'B'
	} else {
		b[0] = 'A'
	}
	return string(b)
}
