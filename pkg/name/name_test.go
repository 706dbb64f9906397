package name

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

// The distribution reference grammar for a path component, as a regular
// expression: the hand-written matcher must agree with it.
var componentRE = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$`)

func TestParseRepository(t *testing.T) {
	t.Parallel()
	good := []string{"a", "library/ubuntu", "a/b/c", "a.b", "a_b", "a__b", "a---b", "0", "x-1/y.2/z__3", strings.Repeat("a", 255)}
	bad := []string{"", "..", ".", "a/..", "../a", "a/../b", "a//b", "/a", "a/", "A", "a b", "a%2Fb", "a\\b", "a/./b",
		"a___b", "a..b", "a._b", "-a", "a-", "_a", "a_", ".a", "a.", strings.Repeat("a", 256), "a\x00", "é", "a:b", "a@b"}
	for _, s := range good {
		if r, err := ParseRepository(s); err != nil || r.String() != s {
			t.Errorf("ParseRepository(%q) = %v, %v", s, r, err)
		}
	}
	for _, s := range bad {
		if _, err := ParseRepository(s); !errors.Is(err, ErrRepository) {
			t.Errorf("ParseRepository(%q) accepted (err %v)", s, err)
		}
	}
}

func TestDigestAndTag(t *testing.T) {
	t.Parallel()
	hex := strings.Repeat("a", 64)
	for _, s := range []string{"sha256:" + hex, "sha512:" + strings.Repeat("0", 128), "sha384:abc", "multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8"} {
		if err := CheckDigest(s); err != nil {
			t.Errorf("CheckDigest(%q): %v", s, err)
		}
	}
	for _, s := range []string{"", "sha256", "sha256:", ":abc", "sha256:" + hex[1:], "sha256:" + strings.ToUpper(hex), "SHA256:" + hex, "sha256:../x", "sha-:x", "+sha:x"} {
		if err := CheckDigest(s); !errors.Is(err, ErrDigest) {
			t.Errorf("CheckDigest(%q) accepted", s)
		}
	}
	for _, s := range []string{"latest", "24.04", "_x", "A-b.c_D", strings.Repeat("t", 128)} {
		if err := CheckTag(s); err != nil {
			t.Errorf("CheckTag(%q): %v", s, err)
		}
	}
	for _, s := range []string{"", ".x", "-x", "a/b", "a:b", "a b", strings.Repeat("t", 129), ".."} {
		if err := CheckTag(s); !errors.Is(err, ErrTag) {
			t.Errorf("CheckTag(%q) accepted", s)
		}
	}
}

func FuzzComponent(f *testing.F) {
	for _, s := range []string{"a", "a.b", "a__b", "a---b", "a..b", "..", "a_-b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := component(s), componentRE.MatchString(s); got != want {
			t.Fatalf("component(%q) = %v, the grammar says %v", s, got, want)
		}
	})
}

func FuzzParseRepository(f *testing.F) {
	f.Add("library/ubuntu")
	f.Add("a/../b")
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRepository(s)
		if err != nil {
			return
		}
		for _, c := range r.Components() {
			if c == "." || c == ".." || c == "" || !componentRE.MatchString(c) {
				t.Fatalf("%q accepted with component %q", s, c)
			}
		}
		if len(s) > MaxRepositoryLength || strings.ContainsAny(s, "\\%:@ \x00") {
			t.Fatalf("%q accepted", s)
		}
	})
}
