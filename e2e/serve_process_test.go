package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/foreignlayers/fl/internal/testutil"
)

// fl serve as a process: one server per data dir (invariant 9), nothing
// servable after a kill -9 that the backend does not hold (invariant 2),
// and signals (invariant 12).

// A second fl serve on a data dir in use exits non-zero, naming the dir
// and the first one's pid, and leaves the first one's fetch in flight
// alone.
func TestProcessLock(t *testing.T) {
	t.Parallel()
	up := testutil.NewUpstream(t)
	up.Put("/slow.tar.gz", procLayer(t, 2<<20))
	dataDir := filepath.Join(t.TempDir(), "data")
	args := []string{"--allow-http", "--allow-private-networks"}
	first := startProc(t, dataDir, args...)
	l := summarize(t, run(t, flBin, "build", "-q", "--json", "-t", first.addr+"/lock/x:1", "--layer", up.URL("/slow.tar.gz"))).Manifests[0].Layers[0]
	up.Throttle(60 * time.Millisecond) // about 2 s for the whole layer

	resp, head := procStartGet(t, first.addr, "lock/x", l.Digest)
	second := launchProc(t, dataDir, args...)
	code, exited := second.exit(10 * time.Second)
	pid := strconv.Itoa(first.cmd.Process.Pid)
	switch {
	case !exited:
		t.Errorf("a second fl serve on the same data dir is still running after 10 s")
	case code == 0:
		t.Errorf("the second fl serve exited 0")
	}
	if msg := second.stderr.String(); !strings.Contains(msg, dataDir) || !strings.Contains(msg, pid) {
		t.Errorf("the second fl serve's error does not name %s and pid %s:\n%s", dataDir, pid, msg)
	}
	if b, err := os.ReadFile(filepath.Join(dataDir, "lock")); err != nil || !strings.Contains(string(b), pid) {
		t.Errorf("DATA/lock: %q %v, want the holder's pid %s", b, err, pid)
	}

	rest, err := io.ReadAll(resp.Body)
	if err != nil || sha256Hex(append(head, rest...)) != l.Digest {
		t.Errorf("the first server's fetch in flight was disturbed: %d bytes, %v", len(head)+len(rest), err)
	}
	if resp, err := http.Get("http://" + first.addr + "/healthz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("the first server after the second one's attempt: %v %v", err, resp)
	}
	if resp, err := http.Get("http://" + second.addr + "/healthz"); err == nil {
		resp.Body.Close()
		t.Errorf("the second server answers on %s", second.addr)
	}
}

// kill -9 during a big manifest PUT (thousands of foreign layers, on a
// counting upstream): in the middle of its body (every layer sent, the
// closing brackets not), or, with --upstream, once the whole manifest has
// reached the upstream registry but before it answered. After a restart
// on the same data dir, which the dead process's lock does not prevent,
// the manifest does not exist and none of its layers is served or
// fetched. The repository exists with another tag, so that only the index
// decides.
func TestProcessKillDuringManifestPut(t *testing.T) {
	cases := []struct {
		name     string
		upstream bool
		held     bool // the upstream never answers the PUT: the body is sent whole
	}{
		{"embedded/mid-body", false, false},
		{"upstream/mid-body", true, false},
		{"upstream/not-yet-stored", true, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var hits atomic.Int64
			origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				_, _ = io.WriteString(w, "layer "+strings.TrimPrefix(r.URL.Path, "/l/"))
			}))
			t.Cleanup(origin.Close)
			args := []string{"--allow-http", "--allow-private-networks"}
			var arrived <-chan struct{}
			if tc.upstream {
				reg := testutil.DockerRegistry(t, testutil.AllowLocalhost)
				if tc.held {
					reg, arrived = holdingProxy(t, reg, "/manifests/1")
				}
				args = append(args, "--upstream", "http://"+reg)
			}
			dataDir := filepath.Join(t.TempDir(), "data")
			first := startProc(t, dataDir, args...)
			const repo = "crash/x"
			if err := procPush(first.addr, repo, "0", "", "", origin.URL+"/seed"); err != nil {
				t.Fatalf("pushing the repository's first tag: %v", err)
			}
			raw, layers := procBigManifest(t, first.addr, repo, origin.URL, 3<<20)

			conn, err := net.Dial("tcp", first.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, "PUT /v2/%s/manifests/1 HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
				repo, first.addr, types.DockerManifestSchema2, len(raw))
			body := raw[:len(raw)-2] // every layer, not the closing "]}"
			if tc.held {
				body = raw
			}
			for off := 0; off < len(body); off += 64 << 10 {
				if _, err := conn.Write(body[off:min(off+64<<10, len(body))]); err != nil {
					t.Fatalf("the server stopped reading the manifest at %d of %d bytes: %v", off, len(raw), err)
				}
				time.Sleep(5 * time.Millisecond)
			}
			if tc.held {
				select {
				case <-arrived:
				case <-time.After(30 * time.Second):
					t.Fatal("the manifest never reached the upstream")
				}
			} else {
				time.Sleep(200 * time.Millisecond) // let the server take in what was sent
			}
			first.kill9(t)

			second := startProc(t, dataDir, args...)
			for _, ref := range []string{"1", procDigest(raw)} {
				if status := procStatus(t, http.MethodGet, "http://"+second.addr+"/v2/"+repo+"/manifests/"+ref); status != http.StatusNotFound {
					t.Errorf("manifest %s after the kill: %d, want 404", ref, status)
				}
			}
			var served []string
			var sample []int
			for i := 0; i < len(layers); i += max(1, len(layers)/40) {
				sample = append(sample, i)
			}
			sample = append(sample, len(layers)-1)
			for n, i := range sample {
				if s := procServed(t, second.addr, repo, layers[i], n%10 == 0); len(s) > 0 {
					served = append(served, strings.Join(s, ", "))
				}
			}
			if len(served) > 0 {
				t.Errorf("%d of %d layers sampled (of %d) of a manifest that was never stored are served, e.g. %s", len(served), len(sample), len(layers), served[0])
			}
			if n := hits.Load(); n != 0 {
				t.Errorf("the layers' upstream got %d requests", n)
			}
		})
	}
}

// holdingProxy passes requests to the registry at reg, except the first
// manifest PUT whose path ends with suffix: it reads that one whole,
// closes arrived, and neither forwards nor answers it, as a registry
// that has not stored it yet when fl dies.
func holdingProxy(t *testing.T, reg, suffix string) (string, <-chan struct{}) {
	target, err := url.Parse("http://" + reg)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	arrived := make(chan struct{})
	var once sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, suffix) {
			held := false
			once.Do(func() { held = true })
			if held {
				_, _ = io.Copy(io.Discard, r.Body)
				close(arrived)
				<-r.Context().Done()
				return
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), arrived
}

// kill -9 while a fetch is spooling: after a restart, no spool file is
// left and nothing was cached; the layer is fetched afresh and verifies.
func TestProcessKillDuringFetch(t *testing.T) {
	t.Parallel()
	up := testutil.NewUpstream(t)
	up.Put("/spooling.tar.gz", procLayer(t, 2<<20))
	dataDir := filepath.Join(t.TempDir(), "data")
	args := []string{"--allow-http", "--allow-private-networks"}
	first := startProc(t, dataDir, args...)
	l := summarize(t, run(t, flBin, "build", "-q", "--json", "-t", first.addr+"/spool/x:1", "--layer", up.URL("/spooling.tar.gz"))).Manifests[0].Layers[0]
	up.Throttle(50 * time.Millisecond) // about 1.6 s for the whole layer

	resp, _ := procStartGet(t, first.addr, "spool/x", l.Digest)
	if len(spoolFiles(dataDir)) == 0 {
		t.Fatalf("nothing under cache/spool while a fetch is in flight: the layout changed?")
	}
	first.kill9(t)
	resp.Body.Close()

	second := startProc(t, dataDir, args...)
	if f := spoolFiles(dataDir); len(f) != 0 {
		t.Errorf("spool files left after the restart: %v", f)
	}
	if c := cacheFiles(dataDir); len(c) != 0 {
		t.Errorf("the interrupted fetch was cached: %v", c)
	}
	up.Throttle(0)
	gets := up.Gets("/spooling.tar.gz")
	status := 0
	var got []byte
	if resp, err := http.Get("http://" + second.addr + "/v2/spool/x/blobs/" + l.Digest); err == nil {
		status = resp.StatusCode
		got, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Errorf("GET after the restart: %v", err)
		}
	}
	if status != http.StatusOK || sha256Hex(got) != l.Digest {
		t.Errorf("GET after the restart: %d, %d bytes", status, len(got))
	}
	if n := up.Gets("/spooling.tar.gz") - gets; n != 1 {
		t.Errorf("%d upstream GETs after the restart, want 1", n)
	}
	procWait(t, 3*time.Second, "the spool to be emptied", func() bool { return len(spoolFiles(dataDir)) == 0 })
}

// SIGHUP reloads the htpasswd file and the URL policy of --config and
// logs "reloaded": removed users are refused at once (no cached
// credentials survive), a newly denied URL is refused at PUT and is not
// fetched for a layer stored before; a broken htpasswd file keeps the old
// users. SIGTERM still stops the server with exit 0.
func TestProcessSignals(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = io.WriteString(w, "sig/xb")
	}))
	t.Cleanup(origin.Close)
	dir := t.TempDir()
	pw := filepath.Join(dir, "htpasswd")
	cfg := filepath.Join(dir, "serve.yaml")
	testutil.Htpasswd(t, pw, "user1", "pass1")
	procWrite(t, cfg, "allow-http: true\nallow-private-networks: true\n")
	p := startProc(t, filepath.Join(dir, "data"), "--config", cfg, "--htpasswd", pw)
	okURL, deniedURL := origin.URL+"/ok/layer.tar.gz", origin.URL+"/denied/layer.tar.gz"
	if err := procPush(p.addr, "sig/x", "a", "user1", "pass1", okURL); err != nil {
		t.Fatalf("user1 before the reload: %v", err)
	}
	if err := procPush(p.addr, "sig/x", "b", "user1", "pass1", deniedURL); err != nil {
		t.Fatalf("the URL before --deny-url: %v", err)
	}
	stored := procForeign([]byte("sig/xb"), deniedURL) // the layer of sig/x:b

	testutil.Htpasswd(t, pw, "user2", "pass2")
	procWrite(t, cfg, "allow-http: true\nallow-private-networks: true\ndeny-url:\n  - '/denied/'\n")
	p.hangup(t, "reloaded")
	if err := procPush(p.addr, "sig/x", "c", "user2", "pass2", okURL); err != nil {
		t.Errorf("user2 after the reload: %v", err)
	}
	if err := procPush(p.addr, "sig/x", "d", "user1", "pass1", okURL); !procRefused(err, http.StatusUnauthorized, http.StatusForbidden) {
		t.Errorf("user1, removed, after the reload: %v, want 401 or 403", err)
	}
	if err := procPush(p.addr, "sig/x", "e", "user2", "pass2", deniedURL); !procRefused(err, http.StatusBadRequest) || !strings.Contains(err.Error(), "MANIFEST_INVALID") {
		t.Errorf("a now denied URL after the reload: %v, want 400 MANIFEST_INVALID", err)
	}
	if status := procStatus(t, http.MethodGet, "http://"+p.addr+"/v2/sig/x/blobs/"+stored.Digest.String()); status != http.StatusForbidden {
		t.Errorf("GET of a layer stored before its URL was denied: %d, want 403", status)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the denied URL was fetched %d times after the reload", n)
	}

	procWrite(t, pw, "garbage-without-a-colon\n")
	p.hangup(t, "htpasswd")
	if err := procPush(p.addr, "sig/x", "f", "user2", "pass2", okURL); err != nil {
		t.Errorf("user2 after a broken htpasswd reload: %v (the old users must stay)", err)
	}
	if err := procPush(p.addr, "sig/x", "g", "user1", "pass1", okURL); !procRefused(err, http.StatusUnauthorized, http.StatusForbidden) {
		t.Errorf("user1 after a broken htpasswd reload: %v, want 401 or 403", err)
	}

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code, exited := p.exit(15 * time.Second); !exited || code != 0 {
		t.Errorf("after SIGTERM: exited %v, code %d\n%s", exited, code, tail(p.stderr.String(), 20))
	}
}

// procServe is one `fl serve` process of the built binary.
type procServe struct {
	cmd    *exec.Cmd
	addr   string
	stderr *procBuffer
	done   chan struct{} // closed once it has exited
}

// launchProc starts `fl serve --data-dir DIR ARGS` on a free port, and
// kills it when the test ends if it is still running.
func launchProc(t *testing.T, dataDir string, args ...string) *procServe {
	t.Helper()
	p := &procServe{addr: testutil.FreeAddr(t), stderr: &procBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(flBin, append([]string{"serve", "--addr", p.addr, "--data-dir", dataDir}, args...)...)
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("fl serve on %s:\n%s", p.addr, tail(p.stderr.String(), 30))
		}
	})
	return p
}

// startProc is launchProc, returning once the server answers /healthz.
func startProc(t *testing.T, dataDir string, args ...string) *procServe {
	t.Helper()
	p := launchProc(t, dataDir, args...)
	deadline := time.Now().Add(15 * time.Second)
	for {
		if resp, err := http.Get("http://" + p.addr + "/healthz"); err == nil {
			resp.Body.Close()
			return p
		}
		select {
		case <-p.done:
			t.Fatalf("fl serve exited %d before it answered:\n%s", p.cmd.ProcessState.ExitCode(), p.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("fl serve did not answer within 15 s:\n%s", p.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// exit waits up to d for the process to exit and returns its code.
func (p *procServe) exit(d time.Duration) (int, bool) {
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode(), true
	case <-time.After(d):
		return 0, false
	}
}

func (p *procServe) kill9(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if _, ok := p.exit(10 * time.Second); !ok {
		t.Fatal("fl serve survived kill -9")
	}
}

// hangup sends SIGHUP and waits for a log line containing want; the
// server must still be running and answering.
func (p *procServe) hangup(t *testing.T, want string) {
	t.Helper()
	mark := len(p.stderr.String())
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	procWait(t, 5*time.Second, fmt.Sprintf("a log line with %q after SIGHUP", want), func() bool {
		select {
		case <-p.done:
			t.Fatalf("SIGHUP stopped fl serve (exit %d)", p.cmd.ProcessState.ExitCode())
		default:
		}
		return strings.Contains(p.stderr.String()[mark:], want)
	})
	select {
	case <-p.done:
		t.Fatalf("SIGHUP stopped fl serve (exit %d)", p.cmd.ProcessState.ExitCode())
	default:
	}
	resp, err := http.Get("http://" + p.addr + "/healthz")
	if err != nil {
		t.Fatalf("after SIGHUP: %v", err)
	}
	resp.Body.Close()
}

// procBuffer is a bytes.Buffer safe for a writer and readers at once.
type procBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *procBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *procBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// procStartGet starts a blob GET and reads its first 128 KiB, so that a
// fetch is in flight when it returns.
func procStartGet(t *testing.T, addr, repo, digest string) (*http.Response, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/v2/"+repo+"/blobs/"+digest, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close(); cancel() })
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", digest, resp.StatusCode)
	}
	head := make([]byte, 128<<10)
	if _, err := io.ReadFull(resp.Body, head); err != nil {
		t.Fatalf("GET %s: %v", digest, err)
	}
	return resp, head
}

// procLayer is a gzipped tar of n random bytes.
func procLayer(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return testutil.Gzip(t, testutil.Tar(t, map[string]string{"random.bin": string(b)}))
}

// procConfig is the config blob of the hand-made manifests.
var procConfig = static.NewLayer([]byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`), types.DockerConfigJSON)

func procManifest(layers []v1.Descriptor) []byte {
	cd, _ := procConfig.Digest()
	cs, _ := procConfig.Size()
	raw, _ := json.Marshal(v1.Manifest{SchemaVersion: 2, MediaType: types.DockerManifestSchema2,
		Config: v1.Descriptor{MediaType: types.DockerConfigJSON, Size: cs, Digest: cd}, Layers: layers})
	return raw
}

func procForeign(content []byte, layerURL string) v1.Descriptor {
	return v1.Descriptor{MediaType: types.DockerForeignLayer, Size: int64(len(content)),
		Digest: v1.Hash{Algorithm: "sha256", Hex: testutil.Hex(content)}, URLs: []string{layerURL}}
}

func procDigest(raw []byte) string { return "sha256:" + testutil.Hex(raw) }

// procBigManifest pushes the config blob to repo and returns a manifest
// of about size bytes, of foreign layers at base/l/N, and its layers.
func procBigManifest(t *testing.T, addr, repo, base string, size int) ([]byte, []v1.Descriptor) {
	t.Helper()
	ref, err := name.NewRepository(addr + "/" + repo)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteLayer(ref, procConfig); err != nil {
		t.Fatalf("pushing the config: %v", err)
	}
	one, _ := json.Marshal(procForeign([]byte("layer 0"), base+"/l/0"))
	layers := make([]v1.Descriptor, size/(len(one)+1))
	for i := range layers {
		layers[i] = procForeign([]byte("layer "+strconv.Itoa(i)), base+"/l/"+strconv.Itoa(i))
	}
	raw := procManifest(layers)
	if !bytes.HasSuffix(raw, []byte("]}")) {
		t.Fatalf("the manifest ends with %q", raw[len(raw)-10:])
	}
	return raw, layers
}

// procServed returns what answers 200 among HEAD (and GET, if get) of d.
func procServed(t *testing.T, addr, repo string, d v1.Descriptor, get bool) []string {
	t.Helper()
	methods := []string{http.MethodHead}
	if get {
		methods = append(methods, http.MethodGet)
	}
	var served []string
	for _, m := range methods {
		if status := procStatus(t, m, "http://"+addr+"/v2/"+repo+"/blobs/"+d.Digest.String()); status == http.StatusOK {
			served = append(served, m+" "+d.URLs[0])
		}
	}
	return served
}

func procStatus(t *testing.T, method, u string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, method, u, nil)
	req.Header.Set("Accept", string(types.DockerManifestSchema2))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// procPush pushes, as user (anonymously if ""), a manifest with one
// foreign layer at layerURL to repo:tag.
func procPush(addr, repo, tag, user, pass, layerURL string) error {
	ref, err := name.ParseReference(addr + "/" + repo + ":" + tag)
	if err != nil {
		return err
	}
	var opts []remote.Option
	if user != "" {
		opts = append(opts, remote.WithAuth(&authn.Basic{Username: user, Password: pass}))
	}
	if err := remote.WriteLayer(ref.Context(), procConfig, opts...); err != nil {
		return err
	}
	return remote.Put(ref, procRaw(procManifest([]v1.Descriptor{procForeign([]byte(repo+tag), layerURL)})), opts...)
}

type procRaw []byte

func (r procRaw) RawManifest() ([]byte, error)        { return r, nil }
func (r procRaw) MediaType() (types.MediaType, error) { return types.DockerManifestSchema2, nil }

// procRefused reports whether err is a registry answer with one of codes.
func procRefused(err error, codes ...int) bool {
	var te *transport.Error
	if !errors.As(err, &te) {
		return false
	}
	for _, c := range codes {
		if te.StatusCode == c {
			return true
		}
	}
	return false
}

func procWrite(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// spoolFiles lists the regular files under DATA/cache/spool.
func spoolFiles(dataDir string) []string {
	var out []string
	_ = filepath.WalkDir(filepath.Join(dataDir, "cache", "spool"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, filepath.Base(p))
		}
		return nil
	})
	return out
}

// procWait polls cond every 10 ms until it holds, failing the test after d.
func procWait(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
