package commands

import (
	"encoding/base64"
	"encoding/json"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/foreignlayers/fl/internal/testutil"
	"github.com/foreignlayers/fl/pkg/admin"
)

// dockerLogin points the docker config at a new file with user's
// credentials for host (none if user is ""). Tests that call it cannot
// run in parallel.
func dockerLogin(t *testing.T, host, user, pass string) {
	t.Helper()
	dir := t.TempDir()
	cfg := `{"auths":{}}`
	if user != "" {
		cfg = `{"auths":{"` + host + `":{"auth":"` + base64.StdEncoding.EncodeToString([]byte(user+":"+pass)) + `"}}}`
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", dir)
}

// fl cache ls and rm against a server with --htpasswd: refused without
// credentials and with wrong ones; with a user's, ls lists the cached
// layer with both repositories that declare it, rm refuses it with 409
// while a client reads it, then removes it.
func TestCacheAdminHtpasswd(t *testing.T) {
	up := testutil.NewUpstream(t)
	up.Put("/big.tar.gz", testutil.Gzip(t, randomBytesTar(t, 8<<20)))
	pw := testutil.Htpasswd(t, "", "alice", "s3cret")
	s := serve(t, append([]string{"--htpasswd", pw}, loopbackOK...)...)
	server := "http://" + s.addr

	dockerLogin(t, s.addr, "alice", "s3cret")
	l := buildTo(t, s.addr+"/cache/a:1", "--layer", up.URL("/big.tar.gz"))
	buildTo(t, s.addr+"/cache/b:1", "--layer", up.URL("/big.tar.gz"))
	if resp, _, err := blob(t, http.MethodGet, s.addr, "cache/a", l.Digest); resp.StatusCode != 200 || err != nil {
		t.Fatalf("GET the layer: %d %v", resp.StatusCode, err)
	}

	for _, who := range [][2]string{{"", ""}, {"alice", "wrong"}, {"mallory", "s3cret"}} {
		dockerLogin(t, s.addr, who[0], who[1])
		for _, args := range [][]string{{"cache", "ls"}, {"cache", "rm", l.Digest}} {
			r := fl(t, append(args, "--server", server)...)
			if r.code == 0 || !strings.Contains(r.stderr, "401") || r.stdout != "" {
				t.Errorf("fl %s as %q: exit %d, stdout %q, stderr %s", strings.Join(args, " "), who[0], r.code, r.stdout, r.stderr)
			}
		}
	}
	if got := cachedBlobs(t, s.dataDir); len(got) != 1 {
		t.Fatalf("refused requests changed the cache: %v", got)
	}

	dockerLogin(t, s.addr, "alice", "s3cret")
	var ls admin.CacheListing
	if err := json.Unmarshal([]byte(mustFL(t, "cache", "ls", "--server", server, "--json").stdout), &ls); err != nil {
		t.Fatal(err)
	}
	if len(ls.Blobs) != 1 || !ls.RepositoriesComplete || ls.Bytes != l.Size {
		t.Fatalf("fl cache ls --json: %+v", ls)
	}
	if b := ls.Blobs[0]; b.Digest != l.Digest || b.Size != l.Size || !slices.Equal(b.Repositories, []string{"cache/a", "cache/b"}) ||
		time.Since(b.LastUse) > time.Minute || b.InUse {
		t.Errorf("the cached layer: %+v", b)
	}
	if text := mustFL(t, "cache", "ls", "--server", server).stdout; !strings.Contains(text, l.Digest) || !strings.Contains(text, "cache/a,cache/b") {
		t.Errorf("fl cache ls:\n%s", text)
	}

	// A client reading the layer slowly (a small receive buffer keeps the
	// server writing) holds it open: 409.
	d, err := v1.NewHash(l.Digest)
	if err != nil {
		t.Fatal(err)
	}
	slow := slowGet(t, s.addr, "cache/a", v1.Descriptor{Digest: d})
	if r := fl(t, "cache", "rm", "--server", server, l.Digest); r.code == 0 || !strings.Contains(r.stderr, "409") {
		t.Errorf("fl cache rm of a layer being read: exit %d\n%s", r.code, r.stderr)
	}
	slow.resp.Body.Close()

	var r result
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if r = fl(t, "cache", "rm", "--server", server, l.Digest); r.code == 0 {
			break
		}
	}
	if r.code != 0 || strings.TrimSpace(r.stdout) != l.Digest {
		t.Fatalf("fl cache rm: exit %d, stdout %q\n%s", r.code, r.stdout, r.stderr)
	}
	if got := cachedBlobs(t, s.dataDir); len(got) != 0 {
		t.Errorf("the cache still holds %v", got)
	}
	if r := fl(t, "cache", "rm", "--server", server, l.Digest); r.code == 0 || !strings.Contains(r.stderr, "404") {
		t.Errorf("fl cache rm of a layer not cached: exit %d\n%s", r.code, r.stderr)
	}
	if r := fl(t, "cache", "rm", "--server", server, "sha256:nothex"); r.code == 0 || !strings.Contains(r.stderr, "400") {
		t.Errorf("fl cache rm of a bad digest: exit %d\n%s", r.code, r.stderr)
	}
	// Removed, the layer is fetched again at its next pull.
	gets := up.Gets("/big.tar.gz")
	if resp, _, err := blob(t, http.MethodGet, s.addr, "cache/b", l.Digest); resp.StatusCode != 200 || err != nil || up.Gets("/big.tar.gz") != gets+1 {
		t.Errorf("GET after rm: %d %v, %d upstream GETs", resp.StatusCode, err, up.Gets("/big.tar.gz")-gets)
	}
	// With --htpasswd the metrics listener has no admin endpoint; see
	// TestCacheAdminMetricsAddr for the other cases.
}

// Without --htpasswd the endpoint is on --metrics-addr, for loopback
// clients and without credentials, and not on --addr.
func TestCacheAdminMetricsAddr(t *testing.T) {
	dockerLogin(t, "", "", "")
	up := testutil.NewUpstream(t)
	up.Put("/l.tar.gz", testutil.Gzip(t, randomBytesTar(t, 4096)))
	maddr := testutil.FreeAddr(t)
	s := serve(t, append([]string{"--metrics-addr", maddr}, loopbackOK...)...)
	l := buildTo(t, s.addr+"/m/x:1", "--layer", up.URL("/l.tar.gz"))
	if resp, _, err := blob(t, http.MethodGet, s.addr, "m/x", l.Digest); resp.StatusCode != 200 || err != nil {
		t.Fatalf("GET the layer: %d %v", resp.StatusCode, err)
	}
	if r := fl(t, "cache", "ls", "--server", "http://"+s.addr); r.code == 0 || !strings.Contains(r.stderr, "404") || !strings.Contains(r.stderr, "--metrics-addr") {
		t.Errorf("fl cache ls on --addr without --htpasswd: exit %d\n%s", r.code, r.stderr)
	}
	r := mustFL(t, "cache", "ls", "--server", "http://"+maddr)
	if !strings.Contains(r.stdout, l.Digest) || !strings.Contains(r.stdout, "m/x") {
		t.Errorf("fl cache ls on --metrics-addr:\n%s", r.stdout)
	}
	if r := mustFL(t, "cache", "rm", "--server", "http://"+maddr, l.Digest); strings.TrimSpace(r.stdout) != l.Digest {
		t.Errorf("fl cache rm: %q", r.stdout)
	}
	if got := cachedBlobs(t, s.dataDir); len(got) != 0 {
		t.Errorf("the cache still holds %v", got)
	}
}
