package e2e

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/foreignlayers/fl/internal/testutil"
)

// suites names the tests a newcomer reads as a suite in the skip lines.
var suites = map[string]string{
	"TestClientMatrix":                           "client matrix",
	"TestClientFaults":                           "client faults",
	"TestConformance":                            "conformance suite",
	"TestBuildPushToDockerRegistryReadWithCrane": "crane tests",
	"TestAuthDocker":                             "docker tests",
	"TestDockerPullThroughServe":                 "docker tests",
	"TestDockerRoundTripSave":                    "docker tests",
	"TestSaveDockerLoad":                         "docker tests",
	"TestSaveOCISkopeoInspect":                   "skopeo tests",
	"TestCopyReferenceForms":                     "skopeo and podman tests",
}

// skipped records, per suite, the programs that were missing.
var skipped struct {
	mu      sync.Mutex
	order   []string
	missing map[string][]string
}

// need returns path, or skips the test (fails it under FL_E2E=require)
// when the program is missing, and records why for the summary.
func need(t *testing.T, path string) string {
	t.Helper()
	if _, err := os.Stat(path); err != nil && !testutil.RequireE2E() {
		recordSkip(t, filepath.Base(path))
	}
	return testutil.NeedBinary(t, path)
}

func recordSkip(t *testing.T, program string) {
	top, _, _ := strings.Cut(t.Name(), "/")
	suite := suites[top]
	if suite == "" {
		suite = top
	}
	skipped.mu.Lock()
	defer skipped.mu.Unlock()
	if skipped.missing == nil {
		skipped.missing = map[string][]string{}
	}
	if _, ok := skipped.missing[suite]; !ok {
		skipped.order = append(skipped.order, suite)
	}
	if !slices.Contains(skipped.missing[suite], program) {
		skipped.missing[suite] = append(skipped.missing[suite], program)
	}
}

// reportSkips prints one line per skipped suite, and why. go test shows a
// passing package's output only under -v, and a skip read as a pass is
// the trap: so the lines go to the terminal (or log) go test itself
// writes to.
func reportSkips() {
	skipped.mu.Lock()
	defer skipped.mu.Unlock()
	if len(skipped.order) == 0 {
		return
	}
	w, closeW := skipWriter()
	defer closeW()
	for _, suite := range skipped.order {
		fmt.Fprintf(w, "e2e: %s skipped: %s not found (bash .ci/run installs %s)\n",
			suite, strings.Join(skipped.missing[suite], ", "), pronoun(len(skipped.missing[suite])))
	}
}

func pronoun(n int) string {
	if n == 1 {
		return "it"
	}
	return "them"
}

// skipWriter is the go command's own stderr when go test runs this binary
// (its output is otherwise shown only for failures or under -v), else
// this process's stdout.
func skipWriter() (io.Writer, func()) {
	if testing.Verbose() {
		return os.Stdout, func() {}
	}
	ppid := os.Getppid()
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", ppid))
	if err == nil && strings.TrimSpace(string(comm)) == "go" {
		if f, err := os.OpenFile(fmt.Sprintf("/proc/%d/fd/2", ppid), os.O_WRONLY|os.O_APPEND, 0); err == nil {
			return f, func() { f.Close() }
		}
	}
	return os.Stdout, func() {}
}
