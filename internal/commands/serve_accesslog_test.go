package commands

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/foreignlayers/fl/internal/testutil"
)

type accessLine struct {
	Log, Msg, Method, Route, Repository, Ref, User, Remote string
	Status                                                 int
	Bytes                                                  int64
	Duration                                               float64
}

func accessLines(t *testing.T, stderr string) []accessLine {
	t.Helper()
	var out []accessLine
	for _, line := range strings.Split(stderr, "\n") {
		if !strings.Contains(line, `"log":"access"`) {
			continue
		}
		var a accessLine
		if err := json.Unmarshal([]byte(line), &a); err != nil {
			t.Fatalf("access log line %q: %v", line, err)
		}
		out = append(out, a)
	}
	return out
}

// --access-log writes one line per request with route, repository,
// status, bytes, duration and the authenticated user, and never a
// credential; without it, nothing.
func TestServeAccessLog(t *testing.T) {
	up := testutil.NewUpstream(t)
	gz := testutil.Gzip(t, randomBytesTar(t, 32<<10))
	up.Put("/l.tar.gz", gz)
	pw := testutil.Htpasswd(t, "", "alice", "s3cret")
	s := serve(t, append([]string{"--htpasswd", pw, "--access-log", "--log-format", "json"}, loopbackOK...)...)
	dockerLogin(t, s.addr, "alice", "s3cret")
	l := buildTo(t, s.addr+"/logs/x:1", "--layer", up.URL("/l.tar.gz"))
	if resp, _, err := blob(t, http.MethodGet, s.addr, "logs/x", l.Digest); resp.StatusCode != 200 || err != nil {
		t.Fatalf("GET: %d %v", resp.StatusCode, err)
	}
	for _, pass := range []string{"s3cret", "wrong-secret"} {
		req, _ := http.NewRequest(http.MethodGet, "http://"+s.addr+"/v2/logs/x/manifests/1", nil)
		req.SetBasicAuth("alice", pass)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	s.stop()

	lines := accessLines(t, s.stderr.String())
	var put, get, basic, refused bool
	for _, a := range lines {
		if a.Duration <= 0 || a.Remote == "" || a.Msg != "request" {
			t.Errorf("access line without duration or remote: %+v", a)
		}
		switch {
		case a.Route == "manifest" && a.Method == "PUT" && a.Status == http.StatusCreated:
			put = a.Repository == "logs/x" && a.Ref == "1" && a.User == "alice"
		case a.Route == "blob" && a.Method == "GET" && a.Ref == l.Digest:
			get = a.Status == 200 && a.Bytes == l.Size && a.User == "" && a.Repository == "logs/x"
		case a.Route == "manifest" && a.Method == "GET" && a.Status == 200 && a.User == "alice":
			basic = true
		case a.Route == "manifest" && a.Method == "GET" && a.Status == http.StatusUnauthorized:
			refused = a.User == "" // a name whose password failed is not logged
		}
	}
	if !put || !get || !basic || !refused {
		t.Errorf("access log: manifest PUT by alice %v, anonymous blob GET of %d bytes %v, Basic GET by alice %v, refused GET without a user %v\n%s",
			put, l.Size, get, basic, refused, s.stderr.String())
	}
	for _, secret := range []string{"s3cret", "wrong-secret", base64.StdEncoding.EncodeToString([]byte("alice:s3cret")), "Bearer ", "Authorization"} {
		if strings.Contains(s.stderr.String(), secret) {
			t.Errorf("the log holds %q", secret)
		}
	}

	quiet := serve(t, loopbackOK...)
	wantStatus(t, http.MethodGet, "http://"+quiet.addr+"/v2/", http.StatusOK)
	quiet.stop()
	if n := len(accessLines(t, quiet.stderr.String())); n != 0 || strings.Contains(quiet.stderr.String(), `msg=request`) {
		t.Errorf("without --access-log: %d access lines\n%s", n, quiet.stderr.String())
	}
}
