package commands

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/crane"

	"github.com/foreignlayers/fl/internal/testutil"
)

// dockerConfig points the docker keychain at credentials for host.
func dockerConfig(t *testing.T, host, user, pass string) {
	dir := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	cfg := `{"auths":{"` + host + `":{"auth":"` + auth + `"}}}`
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", dir)
}

func TestServeAuth(t *testing.T) {
	up := testutil.NewUpstream(t)
	up.Put("/a.tar.gz", testutil.Gzip(t, testutil.Tar(t, map[string]string{"a": "b"})))
	pw := testutil.Htpasswd(t, "", "alice", "s3cret")
	for _, pulls := range []bool{false, true} {
		args := append([]string{"--htpasswd", pw}, loopbackOK...)
		if pulls {
			args = append(args, "--auth-pulls")
		}
		s := serve(t, args...)

		t.Setenv("DOCKER_CONFIG", t.TempDir()) // no credentials
		r := fl(t, "build", "-q", "-t", s.addr+"/auth/x:1", "--layer", up.URL("/a.tar.gz"))
		if r.code == 0 || !strings.Contains(r.stderr, "docker login "+s.addr) {
			t.Errorf("push without credentials: exit %d\n%s", r.code, r.stderr)
		}
		dockerConfig(t, s.addr, "alice", "wrong")
		if r := fl(t, "build", "-q", "-t", s.addr+"/auth/x:1", "--layer", up.URL("/a.tar.gz")); r.code == 0 {
			t.Errorf("push with a wrong password succeeded")
		}
		dockerConfig(t, s.addr, "alice", "s3cret")
		l := buildTo(t, s.addr+"/auth/x:1", "--layer", up.URL("/a.tar.gz"))

		// Pulls: anonymous unless --auth-pulls; the foreign blob too.
		t.Setenv("DOCKER_CONFIG", t.TempDir())
		_, err := crane.Manifest(s.addr + "/auth/x:1")
		resp, _, _ := blob(t, http.MethodGet, s.addr, "auth/x", l.Digest)
		if !pulls && (err != nil || resp.StatusCode != 200) {
			t.Errorf("anonymous pull: %v, blob %d", err, resp.StatusCode)
		}
		challenge := `Bearer realm="http://` + s.addr + `/auth/token",service="fl",scope="repository:auth/x:pull"`
		if pulls && (err == nil || resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != challenge) {
			t.Errorf("anonymous pull with --auth-pulls: %v, blob %d %q", err, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
		dockerConfig(t, s.addr, "alice", "s3cret")
		if _, err := crane.Manifest(s.addr + "/auth/x:1"); err != nil {
			t.Errorf("pull with credentials: %v", err)
		}
	}
}

func TestServeConfigFile(t *testing.T) {
	up := testutil.NewUpstream(t)
	up.Put("/a.tar.gz", testutil.Gzip(t, testutil.Tar(t, map[string]string{"a": "b"})))
	dir := t.TempDir()
	cfg := filepath.Join(dir, "serve.yaml")
	yaml := "foreign: redirect\nallow-http: true\nallow-private-networks: true\nallow-url:\n  - '^http://localhost'\n  - '^https://'\nmax-manifest-size: 65536\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	s := serve(t, "--config", cfg)
	l := buildTo(t, s.addr+"/cfg/x:1", "--layer", up.URL("/a.tar.gz"))
	resp, _, _ := blob(t, http.MethodGet, s.addr, "cfg/x", l.Digest)
	if resp.StatusCode != http.StatusTemporaryRedirect {
		t.Errorf("foreign: redirect from the file: %d", resp.StatusCode)
	}
	// The command line wins over the file.
	s2 := serve(t, "--config", cfg, "--foreign", "cache")
	l = buildTo(t, s2.addr+"/cfg/x:1", "--layer", up.URL("/a.tar.gz"))
	if resp, _, _ := blob(t, http.MethodGet, s2.addr, "cfg/x", l.Digest); resp.StatusCode != 200 {
		t.Errorf("--foreign cache over the file's redirect: %d", resp.StatusCode)
	}

	for name, body := range map[string]string{
		"unknown key": "foriegn: cache\n",
		"bad value":   "max-fetches: many\n",
		"bad mode":    "foreign: sometimes\n",
		"not yaml":    "{[",
	} {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".yaml")
		_ = os.WriteFile(p, []byte(body), 0o644)
		r := fl(t, "serve", "--config", p, "--addr", testutil.FreeAddr(t), "--data-dir", t.TempDir())
		if r.code == 0 || !strings.Contains(r.stderr, "fl: error:") {
			t.Errorf("%s: exit %d %s", name, r.code, r.stderr)
		}
	}
}

func TestServeBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--foreign", "sometimes"},
		{"--allow-url", "("},
		{"--allow-network", "10.0.0.0/33"},
		{"--auth-pulls"},
		{"--tls-cert", "/nonexistent"},
		{"--htpasswd", "/nonexistent"},
		{"--upstream", "ftp://registry"},
		{"--addr", "256.0.0.1:1"},
	} {
		r := fl(t, append([]string{"serve", "--data-dir", t.TempDir()}, args...)...)
		if r.code == 0 || !strings.Contains(r.stderr, "fl: error:") {
			t.Errorf("serve %v: exit %d, %s", args, r.code, r.stderr)
		}
	}
}

func TestServeManifestSizeLimit(t *testing.T) {
	up := testutil.NewUpstream(t)
	up.Put("/a.tar.gz", testutil.Gzip(t, testutil.Tar(t, map[string]string{"a": "b"})))
	s := serve(t, append(loopbackOK, "--max-manifest-size", "100")...)
	r := fl(t, "build", "-q", "-t", s.addr+"/big/x:1", "--layer", up.URL("/a.tar.gz"))
	if r.code == 0 || !strings.Contains(r.stderr, "SIZE_INVALID") {
		t.Errorf("oversized manifest: exit %d\n%s", r.code, r.stderr)
	}
}

// More fetches than --max-fetches wait for a slot, then get 429 with
// Retry-After; the one in flight is unharmed.
func TestServeMaxFetches(t *testing.T) {
	up := testutil.NewUpstream(t)
	a := testutil.Gzip(t, randomBytesTar(t, 1<<20))
	b := testutil.Gzip(t, randomBytesTar(t, 1<<20))
	up.Put("/a.tar.gz", a)
	up.Put("/b.tar.gz", b)
	s := serve(t, append(loopbackOK, "--max-fetches", "1", "--fetch-wait", "100ms")...)
	la := buildTo(t, s.addr+"/slots/a:1", "--layer", up.URL("/a.tar.gz"))
	lb := buildTo(t, s.addr+"/slots/b:1", "--layer", up.URL("/b.tar.gz"))
	up.Throttle(20 * time.Millisecond) // a takes about 0.3 s

	done := make(chan []byte)
	go func() {
		_, body, _ := blob(t, http.MethodGet, s.addr, "slots/a", la.Digest)
		done <- body
	}()
	for metric(t, s.addr, "fl_upstream_fetches_in_flight") != "1" {
		time.Sleep(5 * time.Millisecond)
	}
	resp, body, _ := blob(t, http.MethodGet, s.addr, "slots/b", lb.Digest)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "TOOMANYREQUESTS") {
		t.Errorf("second fetch: %d %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if got := <-done; testutil.Sha256(got) != la.Digest {
		t.Errorf("the fetch in flight was harmed")
	}
	if resp, _, _ := blob(t, http.MethodGet, s.addr, "slots/b", lb.Digest); resp.StatusCode != 200 {
		t.Errorf("once the slot is free: %d", resp.StatusCode)
	}
}

// --tls-cert and --tls-key serve https, and only https.
func TestServeTLS(t *testing.T) {
	certFile, keyFile, cert := testutil.SelfSignedCert(t, t.TempDir())
	s := serve(t, "--tls-cert", certFile, "--tls-key", keyFile)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := c.Get("https://" + s.addr + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
		t.Errorf("https /v2/: %d %+v", resp.StatusCode, resp.TLS)
	}
	if resp, err := http.Get("http://" + s.addr + "/v2/"); err == nil && resp.StatusCode == 200 {
		t.Errorf("plain http was served on the TLS port")
	}
	// A certificate without its key is refused at start.
	if r := fl(t, "serve", "--data-dir", t.TempDir(), "--tls-cert", certFile, "--tls-key", certFile); r.code == 0 {
		t.Errorf("a bad key was accepted")
	}
}

// With --upstream, the upstream registry does the auth: credentials pass
// through, its challenges come back, and a client it would refuse gets no
// foreign layer from the front's cache either. No credential ever reaches
// a layer URL's host.
func TestServeUpstreamAuth(t *testing.T) {
	up := testutil.NewUpstream(t)
	gz := testutil.Gzip(t, testutil.Tar(t, map[string]string{"a": "private"}))
	up.Put("/a.tar.gz", gz)
	pw := testutil.Htpasswd(t, "", "bob", "hunter2")
	reg := testutil.DockerRegistryWith(t, testutil.AllowLocalhost, "auth:\n  htpasswd:\n    realm: upstream-realm\n    path: "+pw+"\n")
	s := serve(t, append(loopbackOK, "--upstream", "http://"+reg)...)

	t.Setenv("DOCKER_CONFIG", t.TempDir())
	if r := fl(t, "build", "-q", "-t", s.addr+"/private/x:1", "--layer", up.URL("/a.tar.gz")); r.code == 0 {
		t.Fatal("an anonymous push through the front succeeded")
	}
	dockerConfig(t, s.addr, "bob", "hunter2")
	l := buildTo(t, s.addr+"/private/x:1", "--layer", up.URL("/a.tar.gz"))

	// Anonymous: the upstream's own challenge, for the manifest and for
	// the foreign layer, though the front has it cached after this:
	req, _ := http.NewRequest(http.MethodGet, "http://"+s.addr+"/v2/private/x/blobs/"+l.Digest, nil)
	req.SetBasicAuth("bob", "hunter2")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("authorized blob GET: %d", resp.StatusCode)
	}
	resp, body, _ := blob(t, http.MethodGet, s.addr, "private/x", l.Digest)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "upstream-realm") || bytes.Equal(body, gz) {
		t.Errorf("anonymous GET of a cached foreign layer: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	req, _ = http.NewRequest(http.MethodGet, "http://"+s.addr+"/v2/private/x/blobs/"+l.Digest, nil)
	req.SetBasicAuth("bob", "wrong")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong password: %v %v", err, resp)
	}
	if up.Credentials() != 0 {
		t.Errorf("%d requests to the layer URL's host carried credentials", up.Credentials())
	}
}
