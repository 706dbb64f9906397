package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/foreignlayers/fl/internal/testutil"
)

// flBin is the fl binary built once for the whole suite.
var flBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fl-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	flBin = filepath.Join(dir, "fl")
	build := exec.Command("go", "build", "-o", flBin, "../cmd/fl")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building fl:", err)
		os.Exit(1)
	}
	code := m.Run()
	reportSkips()
	if path := os.Getenv("FL_CLIENTS_REPORT"); path != "" {
		if err := writeReport(path); err != nil {
			fmt.Fprintln(os.Stderr, "writing the client report:", err)
			code = 1
		}
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// run runs a program and returns its stdout, failing the test on a
// non-zero exit.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, errOut, err := runErr(name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\nstderr:\n%s", filepath.Base(name), strings.Join(args, " "), err, errOut)
	}
	return out
}

func runErr(name string, args ...string) (string, string, error) {
	var out, errb bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

// tool finds a client program: on PATH, or in the repository's .tools
// where .ci/run installs the pinned Go tools.
func tool(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	_, here, _, _ := runtime.Caller(0)
	return need(t, filepath.Join(filepath.Dir(here), "..", ".tools", name))
}

func sha256Hex(b []byte) string { return testutil.Sha256(b) }
