// Command buildbench measures `fl build` on one large foreign layer served
// on loopback, side by side in one run with the shell pipeline a user would
// write by hand and with decompression alone. It reports medians, ratios,
// and fl's peak memory, and checks that fl and the pipeline agree on the
// digests. Run it through bench/build.sh.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

type sample struct {
	wall   time.Duration
	maxRSS int64 // KiB
	stdout string
}

func main() {
	flBin := flag.String("fl", "", "path of the fl binary")
	decBin := flag.String("decompress", "", "path of the decompress program")
	data := flag.String("data", "", "the .tar.gz layer to serve")
	rounds := flag.Int("rounds", 3, "rounds; each runs all three, interleaved")
	flag.Parse()
	if *flBin == "" || *decBin == "" || *data == "" {
		fmt.Fprintln(os.Stderr, "usage: buildbench -fl PATH -decompress PATH -data FILE.tar.gz [-rounds N]")
		os.Exit(2)
	}
	if err := run(*flBin, *decBin, *data, *rounds); err != nil {
		fmt.Fprintln(os.Stderr, "buildbench:", err)
		os.Exit(1)
	}
}

func run(flBin, decBin, data string, rounds int) error {
	fi, err := os.Stat(data)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, data) })}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	url := fmt.Sprintf("http://localhost:%d/%s", ln.Addr().(*net.TCPAddr).Port, filepath.Base(data))
	tmp, err := os.MkdirTemp("", "buildbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	cases := []struct {
		name string
		cmd  func(i int) *exec.Cmd
	}{
		{"fl build --output oci-layout", func(i int) *exec.Cmd {
			return exec.Command(flBin, "build", "-q", "--json", "--output", fmt.Sprintf("oci-layout:%s/out%d", tmp, i), "--layer", url)
		}},
		{"curl | tee >(sha256sum) | gzip -dc | sha256sum", func(int) *exec.Cmd {
			return exec.Command("bash", "-c", fmt.Sprintf("curl -s %s | tee >(sha256sum >&2) | gzip -dc | sha256sum", url))
		}},
		{"decompress only (Go, klauspost gzip)", func(int) *exec.Cmd { return exec.Command(decBin, data) }},
	}
	samples := make([][]sample, len(cases))
	for i := range rounds {
		for c, tc := range cases {
			s, err := measure(tc.cmd(i))
			if err != nil {
				return fmt.Errorf("%s: %w", tc.name, err)
			}
			samples[c] = append(samples[c], s)
			fmt.Fprintf(os.Stderr, "round %d  %-50s %v\n", i+1, tc.name, s.wall.Round(time.Millisecond))
		}
	}
	if err := agree(samples[0][0].stdout, samples[1][0].stdout); err != nil {
		return err
	}

	med := make([]time.Duration, len(cases))
	for c := range cases {
		med[c] = median(samples[c])
	}
	fmt.Printf("Layer: %.0f MB gzip, served on loopback; %d rounds, interleaved; median wall time.\n\n", float64(fi.Size())/1e6, rounds)
	fmt.Println("| run | median | min | max | peak RSS |")
	fmt.Println("|---|---|---|---|---|")
	for c, tc := range cases {
		lo, hi := spread(samples[c])
		fmt.Printf("| `%s` | %.2f s | %.2f s | %.2f s | %s |\n", strings.ReplaceAll(tc.name, "|", `\|`), med[c].Seconds(), lo.Seconds(), hi.Seconds(), rss(samples[c]))
	}
	fmt.Printf("\nfl / decompress-only = %.2f× (target ≤ 1.2×)\n", med[0].Seconds()/med[2].Seconds())
	fmt.Printf("pipeline / fl = %.2f× (target ≥ 1.5×)\n", med[1].Seconds()/med[0].Seconds())
	return nil
}

func measure(cmd *exec.Cmd) (sample, error) {
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return sample{}, fmt.Errorf("%v: %s", err, errb.String())
	}
	s := sample{wall: time.Since(start), stdout: out.String() + errb.String()}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		s.maxRSS = ru.Maxrss
	}
	return s, nil
}

// agree checks that fl's digest and diff_id are the pipeline's two sums.
func agree(flOut, pipeOut string) error {
	start := strings.Index(flOut, "{")
	if start < 0 {
		return fmt.Errorf("fl printed no JSON: %s", flOut)
	}
	var s struct {
		Manifests []struct {
			Layers []struct {
				Digest string `json:"digest"`
				DiffID string `json:"diff_id"`
			}
		}
	}
	if err := json.Unmarshal([]byte(flOut[start:]), &s); err != nil {
		return fmt.Errorf("fl JSON: %w", err)
	}
	l := s.Manifests[0].Layers[0]
	for _, d := range []string{l.Digest, l.DiffID} {
		if !strings.Contains(pipeOut, strings.TrimPrefix(d, "sha256:")) {
			return fmt.Errorf("fl says %s, the pipeline printed %q", d, pipeOut)
		}
	}
	return nil
}

func median(s []sample) time.Duration {
	d := make([]time.Duration, len(s))
	for i := range s {
		d[i] = s[i].wall
	}
	slices.Sort(d)
	return d[len(d)/2]
}

func spread(s []sample) (time.Duration, time.Duration) {
	lo, hi := s[0].wall, s[0].wall
	for _, x := range s {
		lo, hi = min(lo, x.wall), max(hi, x.wall)
	}
	return lo, hi
}

func rss(s []sample) string {
	var m int64
	for _, x := range s {
		m = max(m, x.maxRSS)
	}
	return fmt.Sprintf("%d MiB", m/1024)
}
