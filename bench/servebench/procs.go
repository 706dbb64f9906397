package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// proc is a server process the benchmark started.
type proc struct {
	name string
	cmd  *exec.Cmd
	addr string
}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// start runs a server and waits until url answers.
func start(name string, probe string, args ...string) (*proc, string, error) {
	addr := freeAddr()
	for i, a := range args {
		args[i] = strings.ReplaceAll(a, "ADDR", addr)
	}
	cmd := exec.Command(args[0], args[1:]...)
	logf, _ := os.CreateTemp("", "servebench-"+name+"-*.log")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	p := &proc{name: name, cmd: cmd, addr: addr}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + probe)
		if err == nil {
			resp.Body.Close()
			return p, addr, nil
		}
		if time.Now().After(deadline) {
			p.stop()
			b, _ := os.ReadFile(logf.Name())
			return nil, "", fmt.Errorf("%s did not start: %v\n%s", name, err, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *proc) stop() {
	_ = p.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}

// peakRSS is the process's high-water resident set, in MiB.
func (p *proc) peakRSS() float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb / 1024
		}
	}
	return -1
}
