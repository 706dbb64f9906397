package commands

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/foreignlayers/fl/internal/testutil"
)

// s3Fleet is fl serve replicas sharing one bucket and one secret file,
// as docs/SCALE.md deploys them.
type s3Fleet struct {
	s3       *testutil.S3Server
	bucket   string
	args     []string // the flags every replica gets
	replicas []*serving
}

// newS3Fleet starts versitygw, a bucket, and n replicas over it, each
// with a data dir of its own. The AWS credentials are in the environment,
// so the test cannot be parallel.
func newS3Fleet(t *testing.T, n int, extra ...string) *s3Fleet {
	t.Helper()
	srv := testutil.Versitygw(t)
	srv.Env(t)
	f := &s3Fleet{s3: srv, bucket: srv.Bucket(t)}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte(hex.EncodeToString(secret)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f.args = append([]string{"--s3-endpoint", srv.Endpoint, "--s3-bucket", f.bucket, "--s3-prefix", "fl",
		"--secret-file", secretFile, "--coordination", "none"}, loopbackOK...)
	f.args = append(f.args, extra...)
	for range n {
		f.replicas = append(f.replicas, serve(t, f.args...))
	}
	return f
}

// restart stops replica i and starts it again on its data dir.
func (f *s3Fleet) restart(t *testing.T, i int) {
	t.Helper()
	f.replicas[i].stop()
	f.replicas[i] = serve(t, append([]string{"--data-dir", f.replicas[i].dataDir}, f.args...)...)
}

func (f *s3Fleet) addrs() []string {
	out := make([]string, len(f.replicas))
	for i, r := range f.replicas {
		out[i] = r.addr
	}
	return out
}

// keys lists the bucket's objects.
func (f *s3Fleet) keys(t *testing.T) []string {
	t.Helper()
	var out []string
	p := s3.NewListObjectsV2Paginator(f.s3.Client(), &s3.ListObjectsV2Input{Bucket: &f.bucket})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			out = append(out, *o.Key)
		}
	}
	return out
}

// uploads is how many multipart uploads the bucket has in progress.
func (f *s3Fleet) uploads(t *testing.T) int {
	t.Helper()
	out, err := f.s3.Client().ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: &f.bucket})
	if err != nil {
		t.Fatal(err)
	}
	return len(out.Uploads)
}

// roundRobin is a transport that sends each request to the next replica
// in turn, whatever host the client meant, and records where the blob
// upload requests went.
type roundRobin struct {
	hosts []string
	next  atomic.Int64

	mu      sync.Mutex
	uploads []string // "METHOD HOST", in order
}

func (rr *roundRobin) RoundTrip(req *http.Request) (*http.Response, error) {
	h := rr.hosts[int(rr.next.Add(1)-1)%len(rr.hosts)]
	req = req.Clone(req.Context())
	req.URL.Host, req.Host = h, h
	if strings.Contains(req.URL.Path, "/blobs/uploads/") {
		rr.mu.Lock()
		rr.uploads = append(rr.uploads, req.Method+" "+h)
		rr.mu.Unlock()
	}
	return http.DefaultTransport.RoundTrip(req)
}

// checkSpread checks that every upload's POST, PATCH and PUT went to
// three different replicas (two of two).
func (rr *roundRobin) checkSpread(t *testing.T) {
	t.Helper()
	rr.mu.Lock()
	defer rr.mu.Unlock()
	if len(rr.uploads) == 0 || len(rr.uploads)%3 != 0 {
		t.Fatalf("upload requests %q: want POST, PATCH, PUT per blob", rr.uploads)
	}
	for i := 0; i < len(rr.uploads); i += 3 {
		seen := map[string]bool{}
		for j, want := range []string{"POST", "PATCH", "PUT"} {
			method, host, _ := strings.Cut(rr.uploads[i+j], " ")
			if method != want {
				t.Fatalf("upload requests %q: want POST, PATCH, PUT per blob", rr.uploads)
			}
			seen[host] = true
		}
		if want := min(3, len(rr.hosts)); len(seen) != want {
			t.Errorf("upload %q went to %d replicas, want %d", rr.uploads[i:i+3], len(seen), want)
		}
	}
}

// chunkedUpload uploads blob to repo in PATCHes of chunk bytes, each
// request to the next of hosts in turn (the POST to the first), and
// returns its descriptor.
func chunkedUpload(t *testing.T, hosts []string, repo string, blob []byte, chunk int) v1.Descriptor {
	t.Helper()
	d := v1.Descriptor{MediaType: types.DockerLayer, Size: int64(len(blob)), Digest: v1.Hash{Algorithm: "sha256", Hex: testutil.Hex(blob)}}
	n := 0
	host := func() string { n++; return hosts[(n-1)%len(hosts)] }
	loc := uploadStep(t, http.MethodPost, "http://"+host()+"/v2/"+repo+"/blobs/uploads/", nil, http.StatusAccepted, nil)
	for off := 0; off < len(blob); off += chunk {
		part := blob[off:min(off+chunk, len(blob))]
		loc.Host = host()
		loc = uploadStep(t, http.MethodPatch, loc.String(), part, http.StatusAccepted, http.Header{
			"Content-Type":  {"application/octet-stream"},
			"Content-Range": {fmt.Sprintf("%d-%d", off, off+len(part)-1)},
		})
	}
	loc.Host = host()
	q := loc.Query()
	q.Set("digest", d.Digest.String())
	loc.RawQuery = q.Encode()
	uploadStep(t, http.MethodPut, loc.String(), nil, http.StatusCreated, nil)
	return d
}

// uploadStep sends one request of an upload and returns where the next
// goes (its Location, resolved).
func uploadStep(t *testing.T, method, u string, body []byte, want int, hdr http.Header) *url.URL {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(len(body))
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d %s, want %d", method, req.URL.Redacted(), resp.StatusCode, snippet(b), want)
	}
	loc, err := resp.Location()
	if err != nil && method != http.MethodPut {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	return loc
}

// manifestBody GETs repo:ref from addr and returns its body.
func manifestBody(t *testing.T, addr, repo, ref string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/v2/"+repo+"/manifests/"+ref, nil)
	req.Header.Set("Accept", string(types.DockerManifestSchema2))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}
