package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type config struct {
	fl, registry, duration string
	clients                int
	coldSize               int64
	only                   string
}

// layer is one test layer: a file served by the upstream, and its digest.
type layer struct {
	name, path, digest string
	size               int64
}

func run(c config) error {
	work, err := os.MkdirTemp("", "servebench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	up := newUpstream(filepath.Join(work, "upstream"))
	defer up.close()
	self, _ := os.Executable()

	warm := []*layer{{name: "4 KiB", size: 4 << 10}, {name: "1 MiB", size: 1 << 20}, {name: "64 MiB", size: 64 << 20}}
	for i, l := range warm {
		if err := up.makeLayer(l, fmt.Sprintf("warm%d.tar.gz", i)); err != nil {
			return err
		}
	}

	// fl serve, cache mode, warmed.
	fl, flAddr, err := start("fl-serve", "/healthz", c.fl, "serve", "-q", "--addr", "ADDR", "--data-dir", filepath.Join(work, "fl"), "--allow-http", "--allow-private-networks")
	if err != nil {
		return err
	}
	defer fl.stop()
	for _, l := range warm {
		if err := flBuild(c.fl, flAddr+"/bench/x:"+strings.ReplaceAll(l.name, " ", ""), up.url(l.path)); err != nil {
			return err
		}
		if err := get("http://"+flAddr+"/v2/bench/x/blobs/"+l.digest, l.digest); err != nil {
			return fmt.Errorf("warming %s: %w", l.name, err)
		}
	}
	// The baseline serves fl's own cache files.
	base, baseAddr, err := start("servecontent", "/", self, "-serve-file", filepath.Join(work, "fl", "cache", "blobs"), "-addr", "ADDR")
	if err != nil {
		return err
	}
	defer base.stop()
	dist, distAddr, err := start("distribution", "/v2/", self, "-serve-distribution", filepath.Join(work, "dist"), "-addr", "ADDR")
	if err != nil {
		return err
	}
	defer dist.stop()
	stock, stockAddr, err := start("distribution-stock", "/v2/", self, "-serve-distribution-stock", filepath.Join(work, "stock"), "-addr", "ADDR")
	if err != nil {
		return err
	}
	defer stock.stop()
	for _, l := range warm {
		for _, a := range []string{distAddr, stockAddr} {
			if err := pushBlob(a+"/bench/x", l.path); err != nil {
				return err
			}
		}
	}

	if c.only == "" || c.only == "warm" {
		if err := warmRuns(c, warm, flAddr, baseAddr, distAddr, stockAddr); err != nil {
			return err
		}
		fmt.Printf("\nfl serve peak RSS after the warm runs: %.0f MiB\n\n", fl.peakRSS())
	}
	if c.only == "" || c.only == "cold" {
		if err := coldFanOut(c, up, work, distAddr); err != nil {
			return err
		}
	}
	if c.only == "" || c.only == "view" {
		if err := viewManifests(c, up, work, warm[0]); err != nil {
			return err
		}
	}
	if c.only == "" || c.only == "redirect" {
		return redirectMode(c, up, work, warm[0])
	}
	return nil
}

func warmRuns(c config, warm []*layer, flAddr, baseAddr, distAddr, stockAddr string) error {
	fmt.Printf("## Warm: cached foreign blob, wrk -t2 -c32 -d%s\n\n", c.duration)
	fmt.Println("| blob | fl serve | http.ServeContent | distribution v3, stock server | distribution v3, as fl embeds it | fl / ServeContent | fl / stock distribution | fl / embedded distribution |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	for _, l := range warm {
		hexd := strings.TrimPrefix(l.digest, "sha256:")
		flR, err := wrk(c.duration, "http://"+flAddr+"/v2/bench/x/blobs/"+l.digest)
		if err != nil {
			return err
		}
		baseR, err := wrk(c.duration, "http://"+baseAddr+"/sha256/"+hexd[:2]+"/"+hexd)
		if err != nil {
			return err
		}
		stockR, err := wrk(c.duration, "http://"+stockAddr+"/v2/bench/x/blobs/"+l.digest)
		if err != nil {
			return err
		}
		distR, err := wrk(c.duration, "http://"+distAddr+"/v2/bench/x/blobs/"+l.digest)
		if err != nil {
			return err
		}
		fmt.Printf("| %s | %.0f req/s | %.0f req/s | %.0f req/s | %.0f req/s | %.2f× | %.1f× | %.1f× |\n", l.name, flR.rps, baseR.rps, stockR.rps, distR.rps, flR.rps/baseR.rps, flR.rps/stockR.rps, flR.rps/distR.rps)
	}
	return nil
}

// coldFanOut: c.clients concurrent GETs of one uncached layer, through fl
// serve and through docker-registry's pull-through proxy.
func coldFanOut(c config, up *upstream, work, distAddr string) error {
	cold := &layer{name: fmt.Sprintf("%d MiB", c.coldSize>>20), size: c.coldSize}
	if err := up.makeLayer(cold, "cold.tar.gz"); err != nil {
		return err
	}
	fl, flAddr, err := start("fl-serve-cold", "/healthz", c.fl, "serve", "-q", "--addr", "ADDR", "--data-dir", filepath.Join(work, "fl-cold"), "--allow-http", "--allow-private-networks")
	if err != nil {
		return err
	}
	defer fl.stop()
	if err := flBuild(c.fl, flAddr+"/bench/cold:1", up.url(cold.path)); err != nil {
		return err
	}
	before := up.gets(cold.path)
	flWall, flErrs := fanOut(c.clients, "http://"+flAddr+"/v2/bench/cold/blobs/"+cold.digest, cold.digest)
	flFetches := up.gets(cold.path) - before

	// docker-registry 2.8 as a pull-through proxy of distribution, with a
	// counting proxy between them.
	var originGets atomic.Int64
	target, _ := url.Parse("http://" + distAddr)
	rp := httputil.NewSingleHostReverseProxy(target)
	counter := &http.Server{Addr: freeAddr(), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/sha256:") {
			originGets.Add(1)
		}
		rp.ServeHTTP(w, r)
	})}
	go func() { _ = counter.ListenAndServe() }()
	defer counter.Close()
	if err := pushBlob(distAddr+"/bench/cold", cold.path); err != nil {
		return err
	}
	cfg := filepath.Join(work, "proxy.yml")
	proxyYAML := fmt.Sprintf("version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: ADDR\nproxy:\n  remoteurl: http://%s\n", filepath.Join(work, "proxy"), counter.Addr)
	var proxyWall time.Duration
	var proxyErrs int
	var proxyNote string
	if _, err := os.Stat(c.registry); err != nil {
		proxyNote = "docker-registry not installed: skipped"
	} else {
		pr, _, err := startWithConfig(c.registry, cfg, proxyYAML)
		if err != nil {
			return err
		}
		proxyWall, proxyErrs = fanOut(c.clients, "http://"+pr.addr+"/v2/bench/cold/blobs/"+cold.digest, cold.digest)
		pr.stop()
	}

	fmt.Printf("## Cold fan-out: %d concurrent clients, one uncached %s layer\n\n", c.clients, cold.name)
	fmt.Println("| server | upstream fetches | clients that got the verified blob | wall time | peak RSS |")
	fmt.Println("|---|---|---|---|---|")
	fmt.Printf("| fl serve (cache) | %d | %d / %d | %.1f s | %.0f MiB |\n", flFetches, c.clients-flErrs, c.clients, flWall.Seconds(), fl.peakRSS())
	if proxyNote == "" {
		fmt.Printf("| docker-registry 2.8 pull-through proxy | %d | %d / %d | %.1f s | |\n", originGets.Load(), c.clients-proxyErrs, c.clients, proxyWall.Seconds())
	} else {
		fmt.Printf("| docker-registry 2.8 pull-through proxy | %s | | | |\n", proxyNote)
	}
	fmt.Println()
	return nil
}

// redirectMode measures 307 answers.
func redirectMode(c config, up *upstream, work string, l *layer) error {
	fl, addr, err := start("fl-serve-redirect", "/healthz", c.fl, "serve", "-q", "--addr", "ADDR", "--data-dir", filepath.Join(work, "fl-redirect"), "--foreign", "redirect", "--allow-http", "--allow-private-networks")
	if err != nil {
		return err
	}
	defer fl.stop()
	if err := flBuild(c.fl, addr+"/bench/r:1", up.url(l.path)); err != nil {
		return err
	}
	r, err := wrk(c.duration, "http://"+addr+"/v2/bench/r/blobs/"+l.digest)
	if err != nil {
		return err
	}
	fmt.Printf("## Redirect mode: wrk -t2 -c32 -d%s on a foreign blob (307 answers)\n\n", c.duration)
	fmt.Println("| req/s | p50 | p99 | peak RSS |")
	fmt.Println("|---|---|---|---|")
	fmt.Printf("| %.0f | %s | %s | %.0f MiB |\n", r.rps, r.p50, r.p99, fl.peakRSS())
	return nil
}

// fanOut runs n concurrent GETs of url; every client reads the whole
// body, and a few verify its digest.
func fanOut(n int, url, digest string) (time.Duration, int) {
	var wg sync.WaitGroup
	var failed atomic.Int64
	client := &http.Client{Timeout: 10 * time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	start := time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Get(url)
			if err != nil {
				failed.Add(1)
				return
			}
			defer resp.Body.Close()
			var w io.Writer = io.Discard
			h := sha256.New()
			if i%50 == 0 {
				w = h
			}
			if _, err := io.Copy(w, resp.Body); err != nil || resp.StatusCode != 200 {
				failed.Add(1)
				return
			}
			if i%50 == 0 && "sha256:"+hex.EncodeToString(h.Sum(nil)) != digest {
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	return time.Since(start), int(failed.Load())
}

func get(url, digest string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	h := sha256.New()
	if _, err := io.Copy(h, resp.Body); err != nil {
		return err
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); resp.StatusCode != 200 || got != digest {
		return fmt.Errorf("%s: %d, digest %s", url, resp.StatusCode, got)
	}
	return nil
}

// flBuild pushes a one-layer image with the fl binary.
func flBuild(flBin, ref, layerURL string) error {
	out, err := exec.Command(flBin, "build", "-q", "--json", "-t", ref, "--layer", layerURL).Output()
	if err != nil {
		return fmt.Errorf("fl build %s: %w", ref, err)
	}
	var s struct{}
	return json.Unmarshal(out, &s)
}

// startWithConfig writes a config with ADDR filled in and starts bin on it.
func startWithConfig(bin, path, yaml string) (*proc, string, error) {
	addr := freeAddr()
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(yaml, "ADDR", addr)), 0o644); err != nil {
		return nil, "", err
	}
	cmd := exec.Command(bin, "serve", path)
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	p := &proc{name: bin, cmd: cmd, addr: addr}
	for i := 0; i < 200; i++ {
		if resp, err := http.Get("http://" + addr + "/v2/"); err == nil {
			resp.Body.Close()
			return p, addr, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.stop()
	return nil, "", fmt.Errorf("%s did not start", bin)
}

// viewManifests: manifest GETs through the strip-urls view against plain
// manifest GETs of the same image, by tag and by digest.
func viewManifests(c config, up *upstream, work string, l *layer) error {
	fl, addr, err := start("fl-serve-view", "/healthz", c.fl, "serve", "-q", "--addr", "ADDR", "--data-dir", filepath.Join(work, "fl-view"), "--strip-urls-prefix", "flat", "--allow-http", "--allow-private-networks")
	if err != nil {
		return err
	}
	defer fl.stop()
	if err := flBuild(c.fl, addr+"/bench/v:1", up.url(l.path)); err != nil {
		return err
	}
	accept := "Accept: application/vnd.docker.distribution.manifest.v2+json"
	digestOf := func(path string) (string, error) {
		req, _ := http.NewRequest(http.MethodHead, "http://"+addr+path, nil)
		req.Header.Set("Accept", "application/vnd.docker.distribution.manifest.v2+json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return "", err
		}
		resp.Body.Close()
		return resp.Header.Get("Docker-Content-Digest"), nil
	}
	plainDigest, err := digestOf("/v2/bench/v/manifests/1")
	if err != nil {
		return err
	}
	viewDigest, err := digestOf("/v2/flat/bench/v/manifests/1")
	if err != nil {
		return err
	}
	fmt.Printf("## Manifest GETs through the strip-urls view, wrk -t2 -c32 -d%s\n\n", c.duration)
	fmt.Println("| GET | plain (bench/v) | view (flat/bench/v) | view cost (plain / view) |")
	fmt.Println("|---|---|---|---|")
	for _, row := range []struct{ name, plain, view string }{
		{"by tag", "/v2/bench/v/manifests/1", "/v2/flat/bench/v/manifests/1"},
		{"by digest", "/v2/bench/v/manifests/" + plainDigest, "/v2/flat/bench/v/manifests/" + viewDigest},
	} {
		p, err := wrk(c.duration, "http://"+addr+row.plain, accept)
		if err != nil {
			return err
		}
		v, err := wrk(c.duration, "http://"+addr+row.view, accept)
		if err != nil {
			return err
		}
		fmt.Printf("| %s | %.0f req/s | %.0f req/s | %.2f× |\n", row.name, p.rps, v.rps, p.rps/v.rps)
	}
	fmt.Println()
	return nil
}
