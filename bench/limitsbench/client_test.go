package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"
)

// A server with the token flow: the client follows its Bearer challenge
// with Basic credentials, once per scope, and a wrong password fails.
func TestClientFollowsBearerChallenge(t *testing.T) {
	t.Parallel()
	var tokens atomic.Int32
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/auth/token" {
			if u, p, ok := r.BasicAuth(); !ok || u != "alice" || p != "pw" || r.URL.Query().Get("service") != "fl" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			tokens.Add(1)
			_, _ = w.Write([]byte(`{"token":"tok-` + r.URL.Query().Get("scope") + `"}`))
			return
		}
		if r.Header.Get("Authorization") != "Bearer tok-repository:x:pull" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="`+srv.URL+`/auth/token",service="fl"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	ctx := context.Background()

	cl := newClient(srv.URL, "alice", "pw", 1)
	for range 3 {
		resp, err := cl.do(ctx, http.MethodGet, "/v2/x/manifests/a", "repository:x:pull", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		drain(resp)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d, want 200", resp.StatusCode)
		}
	}
	if n := tokens.Load(); n != 1 {
		t.Errorf("%d token requests, want 1 (the token is kept per scope)", n)
	}

	bad := newClient(srv.URL, "alice", "wrong", 1)
	if resp, err := bad.do(ctx, http.MethodGet, "/v2/", "", nil, nil); err == nil {
		drain(resp)
		t.Fatalf("wrong password: status %d, want an error from the token endpoint", resp.StatusCode)
	}
}

func TestBearerChallenge(t *testing.T) {
	t.Parallel()
	realm, service, ok := bearerChallenge(`Bearer realm="http://127.0.0.1:5000/auth/token",service="fl"`)
	if !ok || realm != "http://127.0.0.1:5000/auth/token" || service != "fl" {
		t.Errorf("got %q %q %v", realm, service, ok)
	}
	if _, _, ok := bearerChallenge(`Basic realm="fl"`); ok {
		t.Error("a Basic challenge parsed as Bearer")
	}
}

// Manifests are exactly the size asked, valid JSON, and distinct.
func TestWriteManifest(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, err := writeManifest(dir, 0, 8, 100_000, sha256Digest([]byte("c")), 1, "127.0.0.1:9")
	if err != nil {
		t.Fatal(err)
	}
	b, err := writeManifest(dir, 1, 8, 100_000, sha256Digest([]byte("c")), 1, "127.0.0.1:9")
	if err != nil {
		t.Fatal(err)
	}
	if a.size != 100_000 || a.digest == b.digest {
		t.Errorf("sizes %d, digests %s %s", a.size, a.digest, b.digest)
	}
	raw, err := os.ReadFile(a.path)
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Layers []struct {
			Digest string   `json:"digest"`
			URLs   []string `json:"urls"`
		} `json:"layers"`
	}
	if err := json.Unmarshal(raw, &m); err != nil || len(raw) != 100_000 || sha256Digest(raw) != a.digest {
		t.Fatalf("manifest: %v, %d bytes, %s", err, len(raw), sha256Digest(raw))
	}
	if len(m.Layers) != 8 || len(m.Layers[7].URLs) != 1 || m.Layers[0].Digest == m.Layers[1].Digest {
		t.Errorf("layers: %+v", m.Layers)
	}
	if _, err := writeManifest(dir, 2, 1000, 10_000, sha256Digest([]byte("c")), 1, "127.0.0.1:9"); err == nil {
		t.Error("1000 layers fit in 10 kB")
	}
}
