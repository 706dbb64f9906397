package commands

import (
	"encoding/json"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/foreignlayers/fl/internal/testutil"
	"github.com/foreignlayers/fl/pkg/image"
)

// URL policy refusals happen at PUT, with the rule named, and nothing is
// stored.
func TestServePolicyAtPut(t *testing.T) {
	up := testutil.NewUpstream(t)
	up.Put("/ok.tar.gz", testutil.Gzip(t, testutil.Tar(t, map[string]string{"a": "b"})))
	literal := strings.Replace(up.URL("/ok.tar.gz"), "localhost", "127.0.0.1", 1)
	cases := []struct {
		name  string
		serve []string
		url   string
		want  string
	}{
		{"plain http", nil, literal, "plain http is not allowed"},
		{"loopback literal", []string{"--allow-http"}, literal, "is not a public address"},
		{"deny pattern", []string{"--allow-http", "--allow-private-networks", "--deny-url", `ok\.tar`}, up.URL("/ok.tar.gz"), "matches --deny-url"},
		{"allow pattern", []string{"--allow-http", "--allow-private-networks", "--allow-url", `^https://mirror\.example/`}, up.URL("/ok.tar.gz"), "matches no --allow-url"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := serve(t, tc.serve...)
			r := fl(t, "build", "-q", "-t", s.addr+"/policy/x:1", "--layer", tc.url)
			if r.code == 0 {
				t.Fatal("the push was accepted")
			}
			for _, w := range []string{"MANIFEST_INVALID", tc.want} {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
			assertNothingPushed(t, s.addr+"/policy/x")
			if m := metric(t, s.addr, `fl_policy_refusals_total{where="put"}`); m != "1" {
				t.Errorf("refusal metric = %s", m)
			}
		})
	}
}

// plant pushes a manifest with one foreign layer at url straight to a
// registry, bypassing the front, and returns the layer's digest.
func plant(t *testing.T, reg, repo, url string) string {
	t.Helper()
	ref, err := name.ParseReference(reg + "/" + repo + ":1")
	if err != nil {
		t.Fatal(err)
	}
	cfg := static.NewLayer([]byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:`+testutil.Hex([]byte("d"))+`"]}}`), types.DockerConfigJSON)
	if err := remote.WriteLayer(ref.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	cd, _ := cfg.Digest()
	cs, _ := cfg.Size()
	layer := v1.Descriptor{MediaType: image.DockerForeignLayer, Size: 4, Digest: v1.Hash{Algorithm: "sha256", Hex: testutil.Hex([]byte("evil"))}, URLs: []string{url}}
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.DockerManifestSchema2,
		Config: v1.Descriptor{MediaType: types.DockerConfigJSON, Size: cs, Digest: cd}, Layers: []v1.Descriptor{layer}}
	raw, _ := json.Marshal(m)
	if err := remote.Put(ref, rawManifest(raw)); err != nil {
		t.Fatalf("planting %s: %v", url, err)
	}
	return layer.Digest.String()
}

type rawManifest []byte

func (r rawManifest) RawManifest() ([]byte, error)        { return r, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return types.DockerManifestSchema2, nil }

// A table of hostile URLs, planted in the upstream registry behind the
// front (so the front first sees them on a manifest GET). Each is refused
// when the front would fetch or redirect, and nothing connects to the
// forbidden address.
func TestServeHostileURLs(t *testing.T) {
	loop := testutil.ListenCounting(t, "tcp", "127.0.0.1:0")
	// An allowed host (127.0.0.2, by --allow-network) that redirects to a
	// private address.
	hop, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("cannot listen on 127.0.0.2: %v", err)
	}
	t.Cleanup(func() { hop.Close() })
	go http.Serve(hop, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://127.0.0.1:"+loop.Port()+"/after-redirect", http.StatusFound)
	}))
	cases := []struct {
		name    string
		url     string
		counter *testutil.CountingListener
	}{
		{"loopback", "http://127.0.0.1:" + loop.Port() + "/x.tar.gz", loop},
		{"localhost by name", "http://localhost:" + loop.Port() + "/x.tar.gz", loop},
		{"10/8", "http://10.0.0.1/x.tar.gz", nil},
		{"cloud metadata", "http://169.254.169.254/latest/meta-data/", nil},
		{"CGNAT", "http://100.64.0.1/x", nil},
		{"unspecified", "http://0.0.0.0:" + loop.Port() + "/x", loop},
		{"allowed host redirecting to loopback", "http://" + hop.Addr().String() + "/x.tar.gz", loop},
	}
	if host := loopbackHostname(t); host != "" {
		// Refused only at dial time, after DNS: fl connects to nothing in
		// redirect mode, so there the client resolves the name itself.
		cases = append(cases, struct {
			name    string
			url     string
			counter *testutil.CountingListener
		}{"name resolving to loopback", "http://" + host + ":" + loop.Port() + "/x.tar.gz", loop})
	}
	if six := ipv6Loopback(t); six != nil {
		cases = append(cases, struct {
			name    string
			url     string
			counter *testutil.CountingListener
		}{"[::1]", "http://[::1]:" + six.Port() + "/x.tar.gz", six})
	}
	reg := testutil.DockerRegistry(t, testutil.AllowAnyURL)
	for _, mode := range []string{"cache", "redirect"} {
		s := serve(t, "--upstream", "http://"+reg, "--foreign", mode, "--allow-http", "--allow-network", "127.0.0.2/32")
		for i, tc := range cases {
			repo := "hostile/" + mode + string(rune('a'+i))
			digest := plant(t, reg, repo, tc.url)
			if status := getManifest(t, s.addr, repo, "1"); status != http.StatusOK {
				t.Fatalf("%s/%s: manifest GET through the front: %d", mode, tc.name, status)
			}
			before := int64(0)
			if tc.counter != nil {
				before = tc.counter.Accepted()
			}
			resp, body, _ := blob(t, http.MethodGet, s.addr, repo, digest)
			if mode == "redirect" && (tc.name == "allowed host redirecting to loopback" || tc.name == "name resolving to loopback") {
				// Redirect mode sends the client on; the client, not fl,
				// resolves the name and follows the next hop.
				if resp.StatusCode != http.StatusTemporaryRedirect {
					t.Errorf("%s/%s: %d", mode, tc.name, resp.StatusCode)
				}
				continue
			}
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "DENIED") {
				t.Errorf("%s/%s: %d %s, want 403 DENIED", mode, tc.name, resp.StatusCode, body)
			}
			if resp.Header.Get("Location") != "" {
				t.Errorf("%s/%s: redirected to %s", mode, tc.name, resp.Header.Get("Location"))
			}
			if tc.counter != nil && tc.counter.Accepted() != before {
				t.Errorf("%s/%s: a connection reached the forbidden address", mode, tc.name)
			}
		}
	}
	// Schemes other than http(s) never get in: refused at PUT by the front.
	s := serve(t, "--upstream", "http://"+reg, "--allow-http")
	for _, u := range []string{"file:///etc/passwd", "ftp://example.com/x.tar.gz", "gopher://example.com/x", "https://user:pass@example.com/x"} {
		status, body := putThrough(t, s.addr, "hostile/scheme", u)
		if status != http.StatusBadRequest || !strings.Contains(body, "MANIFEST_INVALID") {
			t.Errorf("%s: %d %s, want 400 MANIFEST_INVALID", u, status, body)
		}
	}
}

// putThrough PUTs a manifest with one foreign layer at url through the
// front and returns the answer.
func putThrough(t *testing.T, addr, repo, url string) (int, string) {
	t.Helper()
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.DockerManifestSchema2,
		Config: v1.Descriptor{MediaType: types.DockerConfigJSON, Size: 2, Digest: v1.Hash{Algorithm: "sha256", Hex: testutil.Hex([]byte("{}"))}},
		Layers: []v1.Descriptor{{MediaType: image.DockerForeignLayer, Size: 4, Digest: v1.Hash{Algorithm: "sha256", Hex: testutil.Hex([]byte("evil"))}, URLs: []string{url}}}}
	raw, _ := json.Marshal(m)
	req, _ := http.NewRequest(http.MethodPut, "http://"+addr+"/v2/"+repo+"/manifests/1", strings.NewReader(string(raw)))
	req.Header.Set("Content-Type", string(types.DockerManifestSchema2))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	n, _ := resp.Body.Read(buf)
	b.Write(buf[:n])
	return resp.StatusCode, b.String()
}

func ipv6Loopback(t *testing.T) *testutil.CountingListener {
	l, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Logf("no IPv6 loopback here; the [::1] case is left out: %v", err)
		return nil
	}
	l.Close()
	return testutil.ListenCounting(t, "tcp6", "[::1]:0")
}

// getManifest GETs a manifest as a client does, with Accept headers.
func getManifest(t *testing.T, addr, repo, ref string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/v2/"+repo+"/manifests/"+ref, nil)
	for _, mt := range []types.MediaType{types.DockerManifestSchema2, types.DockerManifestList, types.OCIManifestSchema1, types.OCIImageIndex} {
		req.Header.Add("Accept", string(mt))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// loopbackHostname is this machine's host name if it resolves to a
// loopback address (Debian maps it in /etc/hosts), else "".
func loopbackHostname(t *testing.T) string {
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	addrs, err := net.LookupHost(h)
	if err != nil || len(addrs) == 0 {
		t.Logf("host name %q does not resolve here; the DNS case is left out", h)
		return ""
	}
	for _, a := range addrs {
		if ip := net.ParseIP(a); ip == nil || !ip.IsLoopback() {
			t.Logf("host name %q resolves to %v, not only loopback; the DNS case is left out", h, addrs)
			return ""
		}
	}
	return h
}
