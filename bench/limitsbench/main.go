// Command limitsbench measures how fl serve holds up under hostile load,
// side by side in one run, on loopback (invariant 8 of issue 8):
//
//   - memory: the peak RSS (VmHWM, and VmRSS sampled every 20 ms) of an
//     fl serve process while 100 clients PUT distinct 4 MiB manifests at
//     once, then GET them back at once; beside it, distribution v3 alone,
//     as fl embeds it, under the same load;
//   - auth: the latency of one client with good credentials, alone and
//     while 32 connections send bad credentials back to back, against
//     fl serve --htpasswd (bcrypt cost 10).
//
// Run it through bench/limits.sh, which builds fl from the tree.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"
)

type config struct {
	fl, only, label string
	manifests       int
	manifestSize    int64
	layers          int
	baseline        bool
	attackers       int
	authDuration    time.Duration
	interval        time.Duration
}

func main() {
	distribution := flag.String("serve-distribution", "", "internal: run distribution v3, as fl embeds it, on this data dir")
	addr := flag.String("addr", "", "internal: address for -serve-distribution")

	var c config
	flag.StringVar(&c.fl, "fl", "", "path of the fl binary to measure")
	flag.StringVar(&c.only, "only", "", "run only this figure: memory or auth")
	flag.StringVar(&c.label, "label", "", "what is measured, for the report (e.g. the commit)")
	flag.IntVar(&c.manifests, "manifests", 100, "memory: manifests PUT (then GET) at once")
	flag.Int64Var(&c.manifestSize, "manifest-size", 4<<20-256, "memory: bytes per manifest (distribution refuses more than 4 MiB)")
	flag.IntVar(&c.layers, "layers", 1024, "memory: foreign layers per manifest (each padded by an annotation)")
	flag.BoolVar(&c.baseline, "baseline", true, "memory: also measure distribution v3 alone under the same load")
	flag.IntVar(&c.attackers, "attackers", 32, "auth: connections sending bad credentials")
	flag.DurationVar(&c.authDuration, "auth-d", 10*time.Second, "auth: how long the good client is measured, alone and attacked")
	flag.DurationVar(&c.interval, "interval", 10*time.Millisecond, "auth: pause between the good client's requests")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var err error
	switch {
	case *distribution != "":
		err = serveDistribution(ctx, *addr, *distribution)
	case c.fl == "":
		fmt.Fprintln(os.Stderr, "usage: limitsbench -fl PATH [-only memory|auth] [-label TEXT] [-auth-d 10s]")
		os.Exit(2)
	default:
		err = run(ctx, c)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "limitsbench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, c config) error {
	work, err := os.MkdirTemp("", "limitsbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	if c.label != "" {
		fmt.Printf("Measured: %s, %s.\n\n", c.label, time.Now().UTC().Format("2006-01-02"))
	}
	var failed []string
	if c.only == "" || c.only == "memory" {
		runs, err := memoryFigure(ctx, c, work)
		if err != nil {
			return err
		}
		failed = append(failed, printMemory(c, runs)...)
	}
	if c.only == "" || c.only == "auth" {
		r, err := authFigure(ctx, c, work)
		if err != nil {
			return err
		}
		failed = append(failed, printAuth(c, r)...)
	}
	if len(failed) > 0 {
		return fmt.Errorf("requests failed:\n  %s", joinLines(failed))
	}
	return nil
}
