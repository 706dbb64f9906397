package main

import (
	"archive/tar"
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"

	"github.com/klauspost/compress/gzip"
)

// upstream serves layer files over loopback and counts GETs per path.
type upstream struct {
	dir  string
	srv  *http.Server
	addr string
	mu   sync.Mutex
	n    map[string]int
}

func newUpstream(dir string) *upstream {
	_ = os.MkdirAll(dir, 0o755)
	u := &upstream{dir: dir, n: map[string]int{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	u.addr = ln.Addr().String()
	u.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.n[r.URL.Path]++
		u.mu.Unlock()
		http.ServeFile(w, r, filepath.Join(dir, filepath.Base(r.URL.Path)))
	})}
	go func() { _ = u.srv.Serve(ln) }()
	return u
}

func (u *upstream) close() { _ = u.srv.Close() }
func (u *upstream) url(name string) string {
	return "http://localhost:" + port(u.addr) + "/" + filepath.Base(name)
}

func (u *upstream) gets(name string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.n["/"+filepath.Base(name)]
}

func port(addr string) string { _, p, _ := net.SplitHostPort(addr); return p }

// makeLayer writes a gzip tar of random bytes whose size is about l.size,
// and fills in its path and digest.
func (u *upstream) makeLayer(l *layer, name string) error {
	l.path = filepath.Join(u.dir, name)
	f, err := os.Create(l.path)
	if err != nil {
		return err
	}
	h := sha256.New()
	bw := bufio.NewWriterSize(io.MultiWriter(f, h), 1<<20)
	zw, _ := gzip.NewWriterLevel(bw, gzip.BestSpeed)
	tw := tar.NewWriter(zw)
	body := max(l.size-2560, 1) // tar header and trailer, gzip framing
	if err := tw.WriteHeader(&tar.Header{Name: "random.bin", Mode: 0o644, Size: body}); err != nil {
		return err
	}
	if _, err := io.CopyN(tw, rand.Reader, body); err != nil {
		return err
	}
	for _, c := range []io.Closer{tw, zw} {
		if err := c.Close(); err != nil {
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	l.digest = "sha256:" + hex.EncodeToString(h.Sum(nil))
	return f.Close()
}
