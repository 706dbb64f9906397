package commands

import (
	"encoding/json"
	"runtime"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	r := mustFL(t, "version")
	if !strings.HasPrefix(r.stdout, "fl ") || !strings.Contains(r.stdout, "go:      "+runtime.Version()) {
		t.Errorf("fl version printed:\n%s", r.stdout)
	}
	if r.stderr != "" {
		t.Errorf("fl version wrote to stderr: %q", r.stderr)
	}
	if long := mustFL(t, "--version"); long.stdout != r.stdout {
		t.Errorf("fl --version printed\n%s\nfl version printed\n%s", long.stdout, r.stdout)
	}
}

// The variables set at link time win over the build info.
func TestVersionLinkTime(t *testing.T) {
	old := [3]string{Version, Commit, Date}
	t.Cleanup(func() { Version, Commit, Date = old[0], old[1], old[2] })
	Version, Commit, Date = "v9.8.7", "0123456789abcdef", "2025-01-02T03:04:05Z"

	var b buildInfo
	if err := json.Unmarshal([]byte(mustFL(t, "version", "--json").stdout), &b); err != nil {
		t.Fatal(err)
	}
	want := buildInfo{Version: "v9.8.7", Commit: "0123456789abcdef", Date: "2025-01-02T03:04:05Z", GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if b != want {
		t.Errorf("fl version --json: %+v, want %+v", b, want)
	}
	if r := mustFL(t, "--version"); !strings.HasPrefix(r.stdout, "fl v9.8.7\ncommit:  0123456789abcdef\nbuilt:   2025-01-02T03:04:05Z\n") {
		t.Errorf("fl --version:\n%s", r.stdout)
	}
}
