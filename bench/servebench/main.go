// Command servebench measures fl serve side by side, in one run, on
// loopback, with baselines in processes of their own:
//
//   - warm: wrk GETs of a cached foreign blob (4 KiB, 1 MiB, 64 MiB) from
//     fl serve, from a minimal Go http.ServeContent server on the same
//     file, and from distribution v3 serving the same bytes as an ordinary
//     blob;
//   - cold fan-out: 200 concurrent clients on one uncached 256 MB foreign
//     layer, counting upstream fetches, and the same against Debian's
//     docker-registry 2.8 as a pull-through proxy;
//   - redirect mode: wrk req/s and p99;
//   - the peak RSS of every fl serve process.
//
// Run it through bench/serve.sh.
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	// Re-executed as a baseline server.
	baseline := flag.String("serve-file", "", "internal: serve this file with http.ServeContent")
	distribution := flag.String("serve-distribution", "", "internal: run distribution v3, as fl embeds it, on this data dir")
	stock := flag.String("serve-distribution-stock", "", "internal: run distribution v3's own server, default config, on this data dir")
	only := flag.String("only", "", "run only this part: warm, cold, view or redirect")
	addr := flag.String("addr", "", "internal: address for -serve-file / -serve-distribution")

	flBin := flag.String("fl", "", "path of the fl binary")
	registryBin := flag.String("docker-registry", "/usr/bin/docker-registry", "Debian's docker-registry, for the pull-through baseline")
	duration := flag.String("d", "8s", "wrk duration per warm measurement")
	clients := flag.Int("clients", 200, "cold fan-out clients")
	coldMiB := flag.Int("cold-mib", 256, "cold fan-out layer size, MiB")
	flag.Parse()
	var err error
	switch {
	case *baseline != "":
		err = serveFile(*addr, *baseline)
	case *distribution != "":
		err = serveDistribution(*addr, *distribution)
	case *stock != "":
		err = serveDistributionStock(*addr, *stock)
	case *flBin == "":
		fmt.Fprintln(os.Stderr, "usage: servebench -fl PATH [-d 8s] [-clients 200] [-cold-mib 256]")
		os.Exit(2)
	default:
		err = run(config{fl: *flBin, registry: *registryBin, duration: *duration, clients: *clients, coldSize: int64(*coldMiB) << 20, only: *only})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "servebench:", err)
		os.Exit(1)
	}
}
