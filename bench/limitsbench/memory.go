package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"
)

const memRepo = "bench/mem"

// memRun is what one server did under the manifest load.
type memRun struct {
	server           string
	putsOK, getsOK   int
	errs             []string // the first few failures
	putWall, getWall time.Duration
	idle             int64 // VmRSS before the PUTs, KiB
	putPeak, putMax  int64 // VmHWM and largest sampled VmRSS during the PUTs, KiB
	getStart         int64 // VmRSS when the GETs start (what the PUTs left), KiB
	getPeak, getMax  int64 // the same during the GETs, KiB
	peakReset        bool  // VmHWM was reset before each phase
}

func (m *memRun) fail(err error) {
	if len(m.errs) < 5 {
		m.errs = append(m.errs, err.Error())
	}
}

// peak is the process's peak RSS over both phases, KiB.
func (m *memRun) peak() int64 { return max(m.putPeak, m.getPeak, m.putMax, m.getMax) }

// loadManifests PUTs every manifest at once to p, then GETs them all at
// once, sampling p's memory throughout.
func loadManifests(ctx context.Context, p *proc, manifests []manifestFile, cfg []byte) (*memRun, error) {
	m := &memRun{server: p.name}
	cl := newClient("http://"+p.addr, "", "", len(manifests))
	cl.hc.Timeout = 5 * time.Minute
	if _, err := cl.pushBlob(ctx, memRepo, cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", p.name, err)
	}
	m.idle = p.status("VmRSS")

	phase := func(each func(i int, mf manifestFile) error) (time.Duration, int, int64, int64) {
		m.peakReset = p.resetPeak() == nil
		s := p.sample(20 * time.Millisecond)
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok := 0
		go1 := make(chan struct{})
		for i, mf := range manifests {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-go1
				err := each(i, mf)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					m.fail(err)
					return
				}
				ok++
			}()
		}
		t0 := time.Now()
		close(go1)
		wg.Wait()
		wall := time.Since(t0)
		sampled := s.stop()
		return wall, ok, p.status("VmHWM"), sampled
	}

	m.putWall, m.putsOK, m.putPeak, m.putMax = phase(func(i int, mf manifestFile) error {
		return putManifest(ctx, cl.hc, p.addr, i, mf)
	})
	m.getStart = p.status("VmRSS")
	m.getWall, m.getsOK, m.getPeak, m.getMax = phase(func(i int, mf manifestFile) error {
		return getManifest(ctx, cl.hc, p.addr, i, mf)
	})
	return m, nil
}

func tag(i int) string { return fmt.Sprintf("m%03d", i) }

func putManifest(ctx context.Context, hc *http.Client, addr string, i int, mf manifestFile) error {
	f, err := os.Open(mf.path)
	if err != nil {
		return err
	}
	defer f.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, "http://"+addr+"/v2/"+memRepo+"/manifests/"+tag(i), f)
	if err != nil {
		return err
	}
	req.ContentLength = mf.size
	req.Header.Set("Content-Type", ociManifest)
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("PUT %s: %w", tag(i), err)
	}
	if resp.StatusCode != http.StatusCreated {
		return failure("PUT "+tag(i), resp)
	}
	defer drain(resp)
	if got := resp.Header.Get("Docker-Content-Digest"); got != "" && got != mf.digest {
		return fmt.Errorf("PUT %s: stored as %s, sent %s", tag(i), got, mf.digest)
	}
	return nil
}

// getManifest reads a manifest back and checks its bytes.
func getManifest(ctx context.Context, hc *http.Client, addr string, i int, mf manifestFile) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/v2/"+memRepo+"/manifests/"+tag(i), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", ociManifest)
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", tag(i), err)
	}
	if resp.StatusCode != http.StatusOK {
		return failure("GET "+tag(i), resp)
	}
	defer drain(resp)
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	if err != nil {
		return fmt.Errorf("GET %s: %w", tag(i), err)
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != mf.digest || n != mf.size {
		return fmt.Errorf("GET %s: %d bytes of %s, expected %d of %s", tag(i), n, got, mf.size, mf.digest)
	}
	return nil
}
