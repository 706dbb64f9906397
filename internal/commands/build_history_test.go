package commands

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/foreignlayers/fl/pkg/image"
)

// The same directory content built from two places gives the same image:
// the history records the path as given, not made absolute (what makes
// scripts/image.sh reproducible).
func TestBuildLocalLayerSameDigestElsewhere(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	digest := func() string {
		dir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(dir, "rootfs", "etc"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "rootfs", "etc", "hello"), []byte("hi\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Chdir(dir)
		var s image.Summary
		r := mustFL(t, "build", "-q", "--json", "--output", "oci-layout:"+filepath.Join(dir, "out"), "--layer", "rootfs")
		if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
			t.Fatal(err)
		}
		return s.Digest
	}
	if a, b := digest(), digest(); a != b || a == "" {
		t.Errorf("the same layer built in two directories: %s and %s", a, b)
	}
}
