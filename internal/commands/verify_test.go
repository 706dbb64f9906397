package commands

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/foreignlayers/fl/internal/testutil"
	"github.com/foreignlayers/fl/pkg/verify"
)

// linkRot serves one layer's content at paths that rot in every way.
func linkRot(t *testing.T, content []byte) *httptest.Server {
	mux := http.NewServeMux()
	serve := func(b []byte) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			http.ServeContent(w, r, "", time.Unix(1700000000, 0), bytes.NewReader(b))
		}
	}
	mux.HandleFunc("/good.tar.gz", serve(content))
	mux.HandleFunc("/moved.tar.gz", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/good.tar.gz", http.StatusMovedPermanently)
	})
	mux.HandleFunc("/cdn.tar.gz", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/good.tar.gz", http.StatusFound)
	})
	mux.HandleFunc("/truncated.tar.gz", serve(content[:len(content)/2]))
	mux.HandleFunc("/wrongsize.tar.gz", serve(append(bytes.Clone(content), "extra"...)))
	tampered := bytes.Clone(content)
	copy(tampered[len(tampered)/2:], "TAMPERED")
	mux.HandleFunc("/tampered.tar.gz", serve(tampered))
	mux.HandleFunc("/stall.tar.gz", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func TestVerify(t *testing.T) {
	gz := testutil.Gzip(t, testutil.Tar(t, map[string]string{"f": strings.Repeat("verify me ", 1000)}))
	s := linkRot(t, gz)
	u := func(p string) string { return strings.Replace(s.URL, "127.0.0.1", "localhost", 1) + p }
	reg := testutil.Registry(t)
	names := []string{"/good.tar.gz", "/missing.tar.gz", "/moved.tar.gz", "/cdn.tar.gz", "/truncated.tar.gz", "/wrongsize.tar.gz", "/tampered.tar.gz", "/stall.tar.gz"}
	var urls []string
	for _, n := range names {
		urls = append(urls, u(n))
	}
	mustFL(t, "build", "-q", "-t", reg+"/rot/mixed:1", "--layer", strings.Join(urls, ","))

	for _, deep := range []bool{false, true} {
		args := []string{"verify", "--json", "--timeout", "300ms", reg + "/rot/mixed:1"}
		if deep {
			args = append(args, "--deep")
		}
		r := fl(t, args...)
		if r.code != 0 {
			t.Fatalf("deep=%v: exit %d (a layer with one good URL is healthy)\n%s", deep, r.code, r.stderr)
		}
		var reports []verify.Report
		if err := json.Unmarshal([]byte(r.stdout), &reports); err != nil {
			t.Fatalf("%v\n%s", err, r.stdout)
		}
		got := map[string]verify.URLResult{}
		for _, res := range reports[0].Layers[0].URLs {
			got[res.URL[strings.LastIndex(res.URL, "/"):]] = res
		}
		tampered := verify.OK
		if deep {
			tampered = verify.DigestMismatch
		}
		want := map[string]verify.Status{
			"/good.tar.gz": verify.OK, "/missing.tar.gz": verify.HTTPStatus, "/moved.tar.gz": verify.Moved,
			"/cdn.tar.gz": verify.OK, "/truncated.tar.gz": verify.SizeMismatch, "/wrongsize.tar.gz": verify.SizeMismatch,
			"/tampered.tar.gz": tampered, "/stall.tar.gz": verify.Timeout,
		}
		for path, status := range want {
			if got[path].Status != status {
				t.Errorf("deep=%v %s: %q (%s), want %q", deep, path, got[path].Status, got[path].Detail, status)
			}
		}
		if got["/missing.tar.gz"].HTTPStatus != 404 || len(got["/moved.tar.gz"].Redirects) != 1 || got["/moved.tar.gz"].Redirects[0].Status != 301 {
			t.Errorf("details: %+v %+v", got["/missing.tar.gz"], got["/moved.tar.gz"])
		}
	}

	// The table names each outcome.
	r := fl(t, "verify", "--timeout", "300ms", reg+"/rot/mixed:1")
	for _, w := range []string{"http 404", "moved: 301 ", "size mismatch", "timeout", "1 foreign layer: 1 healthy, 0 unhealthy"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("table lacks %q:\n%s", w, r.stdout)
		}
	}

	// A layer whose every URL has rotted is unhealthy: exit 1, even when
	// another image checked with it is healthy.
	up := testutil.NewUpstream(t)
	up.Put("/soon-gone.tar.gz", gz)
	mustFL(t, "build", "-q", "-t", reg+"/rot/dead:1", "--layer", up.URL("/soon-gone.tar.gz"))
	up.Delete("/soon-gone.tar.gz")
	if r := fl(t, "verify", reg+"/rot/mixed:1", reg+"/rot/dead:1"); r.code != 1 || !strings.Contains(r.stdout, "0 healthy, 1 unhealthy") || !strings.Contains(r.stderr, "rot/dead:1 has unhealthy foreign layers") {
		t.Errorf("unhealthy: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// A URL whose certificate does not verify: a TLS error.
	tlsUp := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "", time.Unix(1700000000, 0), bytes.NewReader(gz))
	}))
	defer tlsUp.Close()
	plain := testutil.NewUpstream(t)
	plain.Put("/x.tar.gz", gz)
	mustFL(t, "build", "-q", "-t", reg+"/rot/tls:1", "--layer", plain.URL("/x.tar.gz")+","+tlsUp.URL+"/x.tar.gz")
	r = fl(t, "verify", "--json", reg+"/rot/tls:1")
	var tlsReports []verify.Report
	if err := json.Unmarshal([]byte(r.stdout), &tlsReports); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	if res := tlsReports[0].Layers[0].URLs[1]; res.Status != verify.TLSError || !strings.Contains(res.Detail, "certificate") {
		t.Errorf("self-signed URL: %+v", res)
	}

	// The check itself cannot run: exit 2.
	for _, ref := range []string{"Not A Ref", reg + "/rot/nosuch:1", "oci-layout:/nonexistent"} {
		if r := fl(t, "verify", ref); r.code != 2 {
			t.Errorf("verify %q: exit %d, want 2\n%s", ref, r.code, r.stderr)
		}
	}
}
