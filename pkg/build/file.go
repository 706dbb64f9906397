package build

import (
	"fmt"
	"os"

	"sigs.k8s.io/yaml"
)

// LoadFile reads a YAML build file (see docs/BUILDFILE.md). Unknown keys
// are errors, so a typo is not silently ignored.
func LoadFile(path string) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading build file: %w", err)
	}
	var s Spec
	if err := yaml.UnmarshalStrict(data, &s); err != nil {
		return nil, fmt.Errorf("%w: build file %s: %v", ErrSpec, path, err)
	}
	return &s, nil
}
