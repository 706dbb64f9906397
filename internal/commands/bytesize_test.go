package commands

import "testing"

func TestParseByteSize(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{
		"0": 0, "1048576": 1 << 20, "512KiB": 512 << 10, "20GiB": 20 << 30, "1tib": 1 << 40,
		"1.5MiB": 3 << 19, "1GB": 1e9, "10 MB": 10e6, "4m": 4 << 20, "100b": 100,
	} {
		got, err := parseByteSize(in)
		if err != nil || got != want {
			t.Errorf("parseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "x", "-1", "1XB", "1e30GiB", "GiB"} {
		if _, err := parseByteSize(in); err == nil {
			t.Errorf("parseByteSize(%q) accepted", in)
		}
	}
	if s := formatSize(20 << 30); s != "20GiB" {
		t.Errorf("formatSize = %s", s)
	}
}
