package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// memoryFigure writes the manifests, then loads fl serve with them and,
// with c.baseline, distribution v3 alone; one server at a time.
func memoryFigure(ctx context.Context, c config, work string) ([]*memRun, error) {
	dir := filepath.Join(work, "manifests")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	// Port 9 (discard) on loopback: the URLs pass the policy with
	// --allow-http --allow-private-networks; nothing is fetched.
	manifests := make([]manifestFile, c.manifests)
	for i := range manifests {
		mf, err := writeManifest(dir, i, c.layers, c.manifestSize, sha256Digest(cfg), len(cfg), "127.0.0.1:9")
		if err != nil {
			return nil, err
		}
		manifests[i] = mf
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	type server struct {
		name, log, data string
		args            []string
	}
	flData, distData := filepath.Join(work, "fl-mem"), filepath.Join(work, "dist-mem")
	servers := []server{{"fl serve", "fl-serve-memory", flData, []string{c.fl, "serve", "-q", "--addr", "ADDR", "--data-dir", flData,
		"--allow-http", "--allow-private-networks", "--max-manifest-size", strconv.FormatInt(c.manifestSize+64<<10, 10)}}}
	if c.baseline {
		servers = append(servers, server{"distribution v3 alone, as fl embeds it", "distribution-memory", distData,
			[]string{self, "-serve-distribution", distData, "-addr", "ADDR"}})
	}
	var runs []*memRun
	for _, s := range servers {
		p, err := start(ctx, work, s.log, "/v2/", s.args...)
		if err != nil {
			return nil, err
		}
		p.name = s.name
		m, err := loadManifests(ctx, p, manifests, cfg)
		p.stop()
		if err != nil {
			return nil, err
		}
		runs = append(runs, m)
		// Free the disk before the next server stores the same again.
		_ = os.RemoveAll(s.data)
	}
	return runs, nil
}

func printMemory(c config, runs []*memRun) (failed []string) {
	fmt.Printf("## Memory: %d concurrent manifest PUTs, then %d concurrent GETs\n\n", c.manifests, c.manifests)
	fmt.Printf("%d distinct OCI image manifests of %d bytes, each with %d foreign layers (one loopback URL and a padding annotation each); "+
		"fl serve --max-manifest-size %d, embedded backend, its own data dir. Peak RSS is VmHWM, reset before each phase; in brackets the largest VmRSS sampled every 20 ms. "+
		"One process for both phases: what the Go runtime kept from the PUTs counts in the GETs' peak.\n\n",
		c.manifests, c.manifestSize, c.layers, c.manifestSize+64<<10)
	fmt.Println("| server | PUTs 201 | PUT wall | peak RSS, PUTs | GETs 200, bytes verified | GET wall | RSS when GETs start | peak RSS, GETs | RSS before PUTs |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	for _, m := range runs {
		fmt.Printf("| %s | %d / %d | %.1f s | %s (%s) | %d / %d | %.1f s | %s | %s (%s) | %s |\n",
			m.server, m.putsOK, c.manifests, m.putWall.Seconds(), mib(m.putPeak), mib(m.putMax),
			m.getsOK, c.manifests, m.getWall.Seconds(), mib(m.getStart), mib(m.getPeak), mib(m.getMax), mib(m.idle))
		if !m.peakReset {
			fmt.Printf("\n(%s: VmHWM could not be reset between phases; the GET figure includes the PUTs.)\n\n", m.server)
		}
		for _, e := range m.errs {
			failed = append(failed, m.server+": "+e)
		}
	}
	fl := runs[0]
	verdict := "met"
	if fl.peak()*1024 >= 500e6 {
		verdict = "**missed**"
	}
	fmt.Printf("\nfl serve peak RSS: %s = %.0f MB (target < 500 MB: %s); all PUTs and GETs succeeded: %s.\n\n",
		mib(fl.peak()), float64(fl.peak())*1024/1e6, verdict, yes(fl.putsOK == c.manifests && fl.getsOK == c.manifests))
	return failed
}

func printAuth(c config, r *authResult) (failed []string) {
	fmt.Printf("## Auth: good credentials while %d connections send bad ones\n\n", c.attackers)
	fmt.Printf("fl serve --htpasswd (4 users, bcrypt cost 10). One client with good Basic credentials, one connection, "+
		"a request every %s for %s: %s. Then the same while %d connections send, back to back, Basic credentials of a known user "+
		"with a random wrong password (half) or of a random unknown user (half), to %s.\n\n",
		c.interval, c.authDuration, r.opNames(), c.attackers, strings.Join(r.attackPaths, " and "))
	fmt.Println("| good client | requests | not 2xx | p50 | p99 | max |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, ph := range []struct {
		name string
		g    *goodRun
	}{{"alone", r.quiet}, {fmt.Sprintf("with %d attackers", c.attackers), r.attacked}} {
		fmt.Printf("| **%s**, all requests | %d | %d | %s | %s | %s |\n", ph.name, len(ph.g.all), ph.g.failed, ms(ph.g.all.pct(50)), ms(ph.g.all.pct(99)), ms(ph.g.all.max()))
		for _, o := range r.ops {
			l := ph.g.perOp[o.name]
			fmt.Printf("| %s: %s | %d | | %s | %s | %s |\n", ph.name, o.name, len(l), ms(l.pct(50)), ms(l.pct(99)), ms(l.max()))
		}
		for _, e := range ph.g.errs {
			failed = append(failed, "good client, "+ph.name+": "+e)
		}
	}
	a := r.attackers
	var st []string
	for code, n := range a.status {
		st = append(st, fmt.Sprintf("%d × %d", n, code))
	}
	fmt.Printf("\nAttackers: %d answers in %s + 1 s ramp (%s; %d transport errors); their p50: known user %s, unknown user %s.\n",
		a.requests, c.authDuration, strings.Join(st, ", "), a.errors, ms(a.known.pct(50)), ms(a.unknown.pct(50)))
	fmt.Printf("One bad request at a time, no load (%d each): known user, wrong password p50 %s; unknown user p50 %s.\n",
		len(r.onceKnown), ms(r.onceKnown.pct(50)), ms(r.onceUnknown.pct(50)))
	verdict := "met"
	if r.attacked.all.pct(99) >= 100e6 || r.attacked.failed > 0 {
		verdict = "**missed**"
	}
	fmt.Printf("\nGood client p99 with attackers: %s (alone: %s); target < 100 ms: %s.\n\n", ms(r.attacked.all.pct(99)), ms(r.quiet.all.pct(99)), verdict)
	return failed
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "**no**"
}

func joinLines(s []string) string { return strings.Join(s, "\n  ") }
