package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// proc is a server process the benchmark started.
type proc struct {
	name, addr, log string
	cmd             *exec.Cmd
	exited          chan struct{} // closed when the process has exited
}

// probeClient is for one-off requests: none may hang the benchmark.
var probeClient = &http.Client{Timeout: 30 * time.Second}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// start runs a server, ADDR in args replaced by a free loopback address,
// its output in a log file under dir, and waits until probe answers
// anything at all (a 401 counts: the server is up).
func start(ctx context.Context, dir, name, probe string, args ...string) (*proc, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	for i, a := range args {
		args[i] = strings.ReplaceAll(a, "ADDR", addr)
	}
	logPath := filepath.Join(dir, name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &proc{name: name, addr: addr, log: logPath, cmd: cmd, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.exited) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+probe, nil)
		if err != nil {
			p.stop()
			return nil, err
		}
		resp, err := probeClient.Do(req)
		if err == nil {
			resp.Body.Close()
			return p, nil
		}
		select {
		case <-p.exited:
			b, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("%s exited before answering: %s\n%s", name, cmd.ProcessState, b)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.stop()
			b, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("%s did not answer %s within 30s: %w\n%s", name, probe, err, b)
		}
	}
}

// stop interrupts the process and kills it if it has not exited after 10s.
func (p *proc) stop() {
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// status reads a field of /proc/PID/status in KiB, or -1.
func (p *proc) status(field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return -1
			}
			return kb
		}
	}
	return -1
}

// resetPeak sets the process's VmHWM to its current VmRSS (Linux ≥ 4.0:
// writing 5 to clear_refs), so that the next reading of VmHWM is the peak
// of what follows.
func (p *proc) resetPeak() error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", p.cmd.Process.Pid), []byte("5"), 0)
}

// sampler reads VmRSS every interval until stopped, keeping the largest.
type sampler struct {
	done chan struct{}
	wg   sync.WaitGroup
	max  int64
	n    int
}

func (p *proc) sample(every time.Duration) *sampler {
	s := &sampler{done: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			if v := p.status("VmRSS"); v > s.max {
				s.max = v
			}
			s.n++
			select {
			case <-s.done:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// stop ends the sampling and returns the largest VmRSS seen, in KiB.
func (s *sampler) stop() int64 {
	close(s.done)
	s.wg.Wait()
	return s.max
}
