package commands

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/foreignlayers/fl/internal/testutil"
)

// Invariant 1: every /v2/ route validates its repository name (and tag,
// and digest) before anything, and nothing from a request becomes a path
// outside the data dir.

// rawRequest writes one HTTP/1.1 request on a bare connection, with the
// request target exactly as given (Go's client would clean or re-escape
// it), and reads the answer. err is set when no answer came.
func rawRequest(addr, method, target string, body []byte) (status int, respBody string, err error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return 0, "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	w := bufio.NewWriter(conn)
	fmt.Fprintf(w, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\nUser-Agent: fl-hostile-test\r\nAccept: %s, %s\r\n", method, target, addr, types.DockerManifestSchema2, types.OCIManifestSchema1)
	if body != nil {
		fmt.Fprintf(w, "Content-Type: %s\r\nContent-Length: %d\r\n", types.DockerManifestSchema2, len(body))
	}
	w.WriteString("\r\n")
	w.Write(body)
	if err := w.Flush(); err != nil {
		return 0, "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, string(b), nil
}

// hostileNames are repository names as they appear in a request target,
// raw or percent-encoded. Several aim at the sentinel directory next to
// the data dir (DATA/index/NAME/... resolves into it), one at it by its
// absolute path.
func hostileNames(sentinel string) []string {
	abs := strings.Repeat("../", 40) + strings.TrimPrefix(filepath.ToSlash(sentinel), "/") + "/abs"
	return []string{
		"../../sentinel/pwn",
		"a/../../../sentinel/pwn",
		"a/../../../sentinel/pwn/../../../sentinel/x",
		abs,
		"%2e%2e/%2e%2e/sentinel/pwn",
		"a/%2E%2E/%2E%2E/%2E%2E/sentinel/pwn",
		"a%2F..%2F..%2F..%2Fsentinel%2Fpwn",
		"a%252F..%252F..%252F..%252Fsentinel%252Fpwn",
		"a%5C..%5C..%5C..%5Csentinel%5Cpwn",
		"..",
		".",
		"a/./b",
		"a/..",
		"Evil/App",
		"evil/App",
		"UPPER",
		strings.Repeat("a", 256),
		strings.Repeat("ab/", 85) + "a", // valid components, 256 characters
		"a//b",
		"/a", // /v2//a/...
		"a/", // /v2/a//...
		"a%00b",
		".hidden/x",
		"-a/b",
		"a___b",
		"a%20b",
	}
}

// assertConfined checks that base holds only the data dir and the
// sentinel, that the sentinel is empty, and that the data dir holds only
// what fl serve keeps there. It removes what it reports, so that the next
// check (the next fuzz input) reports only what that one created.
func assertConfined(tb testing.TB, base, dataDir, sentinel string) {
	tb.Helper()
	for _, c := range []struct {
		dir   string
		allow []string
	}{
		{base, []string{filepath.Base(dataDir), filepath.Base(sentinel)}},
		{sentinel, nil},
		{dataDir, []string{"index", "registry", "cache", "lock"}},
	} {
		entries, err := os.ReadDir(c.dir)
		if err != nil {
			tb.Fatal(err)
		}
		for _, e := range entries {
			if !slices.Contains(c.allow, e.Name()) {
				tb.Errorf("%s holds %q, which no request may create", c.dir, e.Name())
				_ = os.RemoveAll(filepath.Join(c.dir, e.Name()))
			}
		}
	}
}

// confinedServer is a server whose data dir has an empty sentinel
// directory next to it.
func confinedServer(tb testing.TB, args ...string) (s *serving, base, dataDir, sentinel string) {
	tb.Helper()
	base = tb.TempDir()
	dataDir, sentinel = filepath.Join(base, "data"), filepath.Join(base, "sentinel")
	if err := os.Mkdir(sentinel, 0o755); err != nil {
		tb.Fatal(err)
	}
	return serve(tb, append([]string{"--data-dir", dataDir}, args...)...), base, dataDir, sentinel
}

// Every route answers 400 NAME_INVALID to a hostile repository name, and
// nothing lands outside the data dir; the layer host is never contacted.
func TestServeNames(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			content := []byte("a foreign layer named by a hostile manifest")
			up := testutil.NewHostile(t, content)
			s, base, dataDir, sentinel := confinedServer(t, append(loopbackOK, be.args(t)...)...)
			layer := foreign(content, up.URL(testutil.HostileOK))
			manifest := manifestJSON(t, configDesc(), layer)
			routes := []struct {
				method, suffix string
				body           []byte
			}{
				{http.MethodPut, "/manifests/1", manifest},
				{http.MethodGet, "/manifests/1", nil},
				{http.MethodGet, "/blobs/" + layer.Digest, nil},
				{http.MethodHead, "/blobs/" + layer.Digest, nil},
				{http.MethodPost, "/blobs/uploads/", nil},
				{http.MethodGet, "/tags/list", nil},
			}
			for _, name := range hostileNames(sentinel) {
				for _, rt := range routes {
					target := "/v2/" + name + rt.suffix
					status, body, err := rawRequest(s.addr, rt.method, target, rt.body)
					if err != nil {
						t.Errorf("%s %s: no answer: %v", rt.method, target, err)
						continue
					}
					if status != http.StatusBadRequest || rt.method != http.MethodHead && !strings.Contains(body, "NAME_INVALID") {
						t.Errorf("%s %s: %d %.200s, want 400 NAME_INVALID", rt.method, target, status, body)
					}
				}
			}
			assertConfined(t, base, dataDir, sentinel)
			if n := up.Total(); n != 0 {
				t.Errorf("the layer host saw %d requests for invalid names", n)
			}

			// The same routes with valid names work: the test can tell.
			pushForeign(t, s.addr, "ok/app", "1", layer)
			long := strings.Repeat("ab/", 84) + "abc" // 255 characters
			for _, name := range []string{"ok/app", long} {
				for _, rt := range routes {
					if rt.method == http.MethodPut {
						continue
					}
					status, body, err := rawRequest(s.addr, rt.method, "/v2/"+name+rt.suffix, nil)
					if err != nil || status == http.StatusBadRequest || name == "ok/app" && status/100 != 2 {
						t.Errorf("valid name %.20s…: %s %s: %d %.200s %v", name, rt.method, rt.suffix, status, body, err)
					}
				}
			}
			assertConfined(t, base, dataDir, sentinel)
		})
	}
}

// Bad tags answer 400 TAG_INVALID, bad digests 400 DIGEST_INVALID, in a
// repository that exists.
func TestServeNamesTagsAndDigests(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			content := []byte("layer")
			up := testutil.NewHostile(t, content)
			s, base, dataDir, sentinel := confinedServer(t, append(loopbackOK, be.args(t)...)...)
			layer := foreign(content, up.URL(testutil.HostileOK))
			pushForeign(t, s.addr, "ok/app", "1", layer)
			manifest := manifestJSON(t, configDesc(), layer)
			for _, tag := range []string{".x", "-x", strings.Repeat("a", 129), "%2e%2e", "%2E", "a%00", "a%20b", "t%C3%A9"} {
				for _, method := range []string{http.MethodPut, http.MethodGet} {
					var body []byte
					if method == http.MethodPut {
						body = manifest
					}
					status, resp, err := rawRequest(s.addr, method, "/v2/ok/app/manifests/"+tag, body)
					if err != nil || status != http.StatusBadRequest || !strings.Contains(resp, "TAG_INVALID") {
						t.Errorf("%s tag %q: %d %.200s %v, want 400 TAG_INVALID", method, tag, status, resp, err)
					}
				}
			}
			hex := strings.TrimPrefix(layer.Digest, "sha256:")
			for _, d := range []string{"sha256:abc", "sha256:" + strings.ToUpper(hex), "sha256:" + hex + "00", "nohash", "sha256:", ":" + hex, "sha256:%2e%2e", "sha256:" + hex[:60] + "%2e%2e", "SHA256:" + hex} {
				for _, method := range []string{http.MethodGet, http.MethodHead} {
					status, resp, err := rawRequest(s.addr, method, "/v2/ok/app/blobs/"+d, nil)
					if err != nil || status != http.StatusBadRequest || method == http.MethodGet && !strings.Contains(resp, "DIGEST_INVALID") {
						t.Errorf("%s blob %q: %d %.200s %v, want 400 DIGEST_INVALID", method, d, status, resp, err)
					}
				}
			}
			assertConfined(t, base, dataDir, sentinel)
		})
	}
}

// FuzzServeNames sends random request targets (and methods) to an
// in-process fl serve: whatever it answers, nothing is created outside
// its data dir. The seeds run in every `go test`; fuzz with
// `go test -fuzz FuzzServeNames ./internal/commands`.
func FuzzServeNames(f *testing.F) {
	up := testutil.NewHostile(f, []byte("fuzzed layer"))
	s, base, dataDir, sentinel := confinedServer(f, loopbackOK...)
	layer := foreign([]byte("fuzzed layer"), up.URL(testutil.HostileOK))
	body := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":%q,"size":2,"digest":%q},"layers":[{"mediaType":%q,"size":%d,"digest":%q,"urls":[%q]}]}`,
		types.DockerManifestSchema2, types.DockerConfigJSON, testutil.Sha256([]byte("{}")), layer.MediaType, layer.Size, layer.Digest, layer.URLs[0]))
	for i, name := range hostileNames(sentinel) {
		for j, suffix := range []string{"/manifests/1", "/blobs/" + layer.Digest, "/blobs/uploads/", "/tags/list"} {
			f.Add(uint8(i+j), "/v2/"+name+suffix)
		}
	}
	f.Add(uint8(0), "/v2/_catalog?n=1&last=../../sentinel")
	f.Add(uint8(0), "/v2/a/b/manifests/..%2F..%2F..%2Fsentinel%2Ft")
	f.Add(uint8(0), "/v2/a/b/blobs/sha256:..%2F..%2F..%2F..%2Fsentinel%2Fd")
	f.Add(uint8(0), "/v2/a/manifests/sha256:"+strings.Repeat("../", 20)+"x")
	methods := []string{http.MethodPut, http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPatch, http.MethodDelete}
	f.Fuzz(func(t *testing.T, m uint8, target string) {
		method := methods[int(m)%len(methods)]
		var b []byte
		if method == http.MethodPut || method == http.MethodPatch || method == http.MethodPost {
			b = body
		}
		// Whatever the server makes of it (it may answer 400, or drop the
		// connection), the filesystem is what matters.
		_, _, _ = rawRequest(s.addr, method, requestTarget(target), b)
		assertConfined(t, base, dataDir, sentinel)
	})
}

// requestTarget makes a fuzzed string sendable as a request target: it
// starts with '/' and carries no bytes that would break the request line
// (they are percent-encoded, so the server still decodes them).
func requestTarget(s string) string {
	var b strings.Builder
	if !strings.HasPrefix(s, "/") {
		b.WriteByte('/')
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}
