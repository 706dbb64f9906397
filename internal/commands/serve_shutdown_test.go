package commands

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/foreignlayers/fl/internal/testutil"
)

// Shutdown (SIGTERM cancels the command's context) finishes the responses
// in flight before fl serve exits.
func TestServeGracefulShutdown(t *testing.T) {
	up := testutil.NewUpstream(t)
	gz := testutil.Gzip(t, randomBytesTar(t, 2<<20))
	up.Put("/slow.tar.gz", gz)

	addr := testutil.FreeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stderr := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- Execute(ctx, append([]string{"serve", "--addr", addr, "--data-dir", t.TempDir()}, loopbackOK...), io.Discard, stderr)
	}()
	testutil.WaitHTTP(t, "http://"+addr+"/healthz")
	l := buildTo(t, addr+"/slow/x:1", "--layer", up.URL("/slow.tar.gz"))
	up.Throttle(20 * time.Millisecond) // about 0.6 s for the whole blob

	resp, err := http.Get("http://" + addr + "/v2/slow/x/blobs/" + l.Digest)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	first := make([]byte, 1024)
	if _, err := io.ReadFull(resp.Body, first); err != nil {
		t.Fatal(err)
	}
	cancel() // the response is in flight
	rest, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("the response in flight was cut at shutdown: %v", err)
	}
	if got := testutil.Sha256(append(first, rest...)); got != l.Digest {
		t.Errorf("body digest %s, want %s", got, l.Digest)
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("fl serve exited %d:\n%s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("fl serve did not exit after shutdown")
	}
	if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
		t.Errorf("fl serve still answers after shutdown")
	}
}
