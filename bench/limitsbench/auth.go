package main

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"time"
)

const authRepo = "bench/auth"

// op is one kind of request the good client sends.
type op struct {
	name, method, path, scope string
	hdr                       http.Header
}

// goodRun is what the good client measured in one phase.
type goodRun struct {
	all    latencies
	perOp  map[string]latencies
	failed int      // not 2xx, or no answer
	errs   []string // the first few
}

// good sends ops in turn, one at a time, every interval, for d.
func good(ctx context.Context, cl *client, ops []op, d, interval time.Duration) *goodRun {
	g := &goodRun{perOp: map[string]latencies{}}
	end := time.Now().Add(d)
	for k := 0; time.Now().Before(end) && ctx.Err() == nil; k++ {
		o := ops[k%len(ops)]
		rctx, cancel := context.WithTimeout(ctx, time.Minute)
		t0 := time.Now()
		resp, err := cl.do(rctx, o.method, o.path, o.scope, nil, o.hdr)
		if err == nil {
			drain(resp)
		}
		dur := time.Since(t0)
		cancel()
		g.all = append(g.all, dur)
		g.perOp[o.name] = append(g.perOp[o.name], dur)
		switch {
		case err != nil:
			g.fail(fmt.Errorf("%s: %w", o.name, err))
		case resp.StatusCode/100 != 2:
			g.fail(fmt.Errorf("%s: %s", o.name, resp.Status))
		}
		time.Sleep(interval)
	}
	return g
}

func (g *goodRun) fail(err error) {
	g.failed++
	if len(g.errs) < 5 {
		g.errs = append(g.errs, err.Error())
	}
}

// authResult is the whole auth figure.
type authResult struct {
	quiet, attacked *goodRun
	attackers       *attackStats
	attackPaths     []string
	ops             []op
	onceKnown       latencies
	onceUnknown     latencies
}

// authFigure runs fl serve --htpasswd and measures the good client
// alone, then while c.attackers connections send bad credentials.
func authFigure(ctx context.Context, c config, work string) (*authResult, error) {
	users := []string{"alice", "bob", "carol", "dave"}
	htpasswd := filepath.Join(work, "htpasswd")
	pw, err := writeHtpasswd(htpasswd, users, 10)
	if err != nil {
		return nil, err
	}
	fl, err := start(ctx, work, "fl-serve-auth", "/v2/", c.fl, "serve", "-q", "--addr", "ADDR",
		"--data-dir", filepath.Join(work, "fl-auth"), "--htpasswd", htpasswd)
	if err != nil {
		return nil, err
	}
	defer fl.stop()
	base := "http://" + fl.addr
	cl := newClient(base, users[0], pw[users[0]], 1)
	if err := pushSmallImage(ctx, cl); err != nil {
		return nil, err
	}

	r := &authResult{attackPaths: []string{"/v2/"}}
	r.ops = []op{
		{name: "GET /v2/", method: http.MethodGet, path: "/v2/"},
		{name: "HEAD manifest", method: http.MethodHead, path: "/v2/" + authRepo + "/manifests/good",
			scope: "repository:" + authRepo + ":pull", hdr: http.Header{"Accept": {ociManifest}}},
	}
	// A server with the token flow gets its token endpoint measured and
	// attacked too.
	tokenPath := "/auth/token?service=fl&scope=repository:" + authRepo + ":pull"
	if status(ctx, base+tokenPath, users[0], pw[users[0]]) == http.StatusOK &&
		status(ctx, base+tokenPath, users[1], "wrong") == http.StatusUnauthorized {
		r.ops = append(r.ops, op{name: "GET /auth/token", method: http.MethodGet, path: tokenPath})
		r.attackPaths = append(r.attackPaths, tokenPath)
	}

	r.onceKnown, r.onceUnknown = badOnce(ctx, base, "/v2/", users, 20)
	r.quiet = good(ctx, cl, r.ops, c.authDuration, c.interval)

	actx, stop := context.WithCancel(ctx)
	done := make(chan *attackStats)
	go func() { done <- attack(actx, base, c.attackers, users, r.attackPaths) }()
	time.Sleep(time.Second) // let the attack reach full pressure
	r.attacked = good(ctx, cl, r.ops, c.authDuration, c.interval)
	stop()
	r.attackers = <-done
	return r, nil
}

// pushSmallImage pushes authRepo:good (a config and one small layer)
// with the client's credentials.
func pushSmallImage(ctx context.Context, cl *client) error {
	cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	cfgDigest, err := cl.pushBlob(ctx, authRepo, cfg)
	if err != nil {
		return err
	}
	layer := []byte("limitsbench: a small layer")
	layerDigest, err := cl.pushBlob(ctx, authRepo, layer)
	if err != nil {
		return err
	}
	man := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":%q,"digest":%q,"size":%d},"layers":[{"mediaType":%q,"digest":%q,"size":%d}]}`,
		ociManifest, ociConfig, cfgDigest, len(cfg), ociLayer, layerDigest, len(layer))
	resp, err := cl.do(ctx, http.MethodPut, "/v2/"+authRepo+"/manifests/good", "repository:"+authRepo+":pull,push",
		[]byte(man), http.Header{"Content-Type": {ociManifest}})
	if err != nil {
		return fmt.Errorf("pushing %s:good: %w", authRepo, err)
	}
	if resp.StatusCode != http.StatusCreated {
		return failure("pushing "+authRepo+":good", resp)
	}
	drain(resp)
	return nil
}

// status is the status of a GET with Basic credentials, or 0.
func status(ctx context.Context, url, user, pass string) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0
	}
	req.SetBasicAuth(user, pass)
	resp, err := probeClient.Do(req)
	if err != nil {
		return 0
	}
	drain(resp)
	return resp.StatusCode
}

func (r *authResult) opNames() string {
	var names []string
	for _, o := range r.ops {
		names = append(names, o.name)
	}
	return strings.Join(names, ", ")
}
