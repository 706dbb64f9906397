package build

import (
	"errors"
	"strings"
	"testing"
)

// TestParseFileErrors: every mistake in a build file is named with its
// line and column.
func TestParseFileErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, yaml, want string }{
		{"unknown key", "platforms:\n  - platfrom: linux/amd64\n", `b.yaml:2:5: unknown key "platfrom" in platforms[0] (known keys: platform, base, layers`},
		{"unknown top key", "format: oci\nchecksum: x\n", `b.yaml:2:1: unknown key "checksum" in the build file`},
		{"syntax", "platforms:\n  - platform: linux/amd64\n   layers: [\n", "b.yaml:3:4: YAML syntax:"},
		{"tab", "platforms:\n\t- x\n", "b.yaml:2:1: YAML syntax:"},
		{"list wanted", "platforms: linux/amd64\n", `b.yaml:1:12: platforms: want a list, got "linux/amd64"`},
		{"string wanted", "platforms:\n  - platform: [a]\n", "b.yaml:2:15: platform: want a string, got a list"},
		{"bool wanted", "nondistributable: maybe\n", `b.yaml:1:19: nondistributable: want true or false, got "maybe"`},
		{"twice", "format: oci\nformat: docker\n", `b.yaml:2:1: key "format" given twice`},
		{"empty", "", "is empty"},
	} {
		_, err := parseFile("b.yaml", []byte(tc.yaml))
		if !errors.Is(err, ErrSpec) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v\nwant %q", tc.name, err, tc.want)
		}
	}
}

func TestParseFile(t *testing.T) {
	t.Parallel()
	s, err := parseFile("b.yaml", []byte(`format: oci
checksums-optional: true
annotations: {a: b}
platforms:
  - platform: linux/arm64
    layers:
      - url: https://example.com/a.tar.gz
        sha256: abc
      - urls: [https://a/x, https://b/x]
      - path: ./dir
    env: [A=1]
    labels: {x: y}
`))
	if err != nil {
		t.Fatal(err)
	}
	p := s.Platforms[0]
	if s.Format != "oci" || !s.ChecksumsOptional || s.Annotations["a"] != "b" || p.Platform != "linux/arm64" ||
		len(p.Layers) != 3 || p.Layers[0].SHA256 != "abc" || len(p.Layers[1].URLs) != 2 || p.Layers[2].Path != "./dir" ||
		p.Env[0] != "A=1" || p.Labels["x"] != "y" {
		t.Errorf("%+v", s)
	}
}
