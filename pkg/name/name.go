// Package name validates what a registry request names: repositories,
// tags and digests. A Repository can only be made by ParseRepository, so
// code that takes one (the index, the cache, paths on disk) cannot be
// handed an unvalidated name.
package name

import (
	"errors"
	"fmt"
	"strings"
)

// MaxRepositoryLength is the longest repository name, as distribution's
// reference grammar allows.
const MaxRepositoryLength = 255

// Errors, for errors.Is.
var (
	ErrRepository = errors.New("invalid repository name")
	ErrTag        = errors.New("invalid tag")
	ErrDigest     = errors.New("invalid digest")
)

// Repository is a validated repository name: path components of lower-case
// letters and digits joined by one '.' or '_', two '_', or any number of
// '-', separated by '/', at most 255 characters (the distribution
// reference grammar, without a domain). No component is "." or "..", and
// nothing in it needs escaping in a URL or a file path.
type Repository struct{ s string }

// ParseRepository validates s.
func ParseRepository(s string) (Repository, error) {
	if err := checkRepository(s); err != nil {
		return Repository{}, err
	}
	return Repository{s}, nil
}

// MustRepository is ParseRepository for names known to be valid (tests,
// constants); it panics on an invalid one.
func MustRepository(s string) Repository {
	r, err := ParseRepository(s)
	if err != nil {
		panic(err)
	}
	return r
}

// String returns the name.
func (r Repository) String() string { return r.s }

// IsZero reports whether r is the zero Repository, which names nothing.
func (r Repository) IsZero() bool { return r.s == "" }

// Components returns the '/'-separated components, each a valid path
// element.
func (r Repository) Components() []string { return strings.Split(r.s, "/") }

func checkRepository(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("%w: empty", ErrRepository)
	case len(s) > MaxRepositoryLength:
		return fmt.Errorf("%w: %d characters, more than %d", ErrRepository, len(s), MaxRepositoryLength)
	}
	for comp := range strings.SplitSeq(s, "/") {
		if !component(comp) {
			return fmt.Errorf("%w: %q: component %q must be lower-case letters and digits, separated by '.', '_', '__' or '-' (example: library/ubuntu)", ErrRepository, s, comp)
		}
	}
	return nil
}

// component matches [a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)* without a
// regular expression: it runs on every request.
func component(c string) bool {
	if c == "" {
		return false
	}
	i := 0
	for {
		start := i
		for i < len(c) && alnum(c[i]) {
			i++
		}
		if i == start {
			return false // a separator must be followed by alphanumerics
		}
		if i == len(c) {
			return true
		}
		switch {
		case c[i] == '.':
			i++
		case c[i] == '_':
			i++
			if i < len(c) && c[i] == '_' {
				i++
			}
		case c[i] == '-':
			for i < len(c) && c[i] == '-' {
				i++
			}
		default:
			return false
		}
	}
}

func alnum(b byte) bool { return b >= 'a' && b <= 'z' || b >= '0' && b <= '9' }

// CheckTag validates a tag: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}.
func CheckTag(s string) error {
	if s == "" || len(s) > 128 {
		return fmt.Errorf("%w: %q must be 1 to 128 characters", ErrTag, s)
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		ok := alnum(b) || b >= 'A' && b <= 'Z' || b == '_' || i > 0 && (b == '.' || b == '-')
		if !ok {
			return fmt.Errorf("%w: %q: letters, digits, '_', and after the first character '.' and '-'", ErrTag, s)
		}
	}
	return nil
}

// CheckDigest validates the syntax of a digest, ALGORITHM:ENCODED, as the
// OCI image spec defines it; for sha256 and sha512 the encoded part must be
// lower-case hex of the right length. Other algorithms are syntax-checked
// only: whether fl can verify them is the caller's question.
func CheckDigest(s string) error {
	alg, enc, ok := strings.Cut(s, ":")
	if !ok || alg == "" || enc == "" {
		return fmt.Errorf("%w: %q is not ALGORITHM:HEX", ErrDigest, s)
	}
	if !algorithm(alg) {
		return fmt.Errorf("%w: %q: bad algorithm %q", ErrDigest, s, alg)
	}
	for i := 0; i < len(enc); i++ {
		b := enc[i]
		if !(alnum(b) || b >= 'A' && b <= 'Z' || b == '=' || b == '_' || b == '-') {
			return fmt.Errorf("%w: %q: bad character in the encoded part", ErrDigest, s)
		}
	}
	if n, known := hexLen[alg]; known {
		if len(enc) != n || strings.Trim(enc, "0123456789abcdef") != "" {
			return fmt.Errorf("%w: %q: %s needs %d lower-case hex digits", ErrDigest, s, alg, n)
		}
	}
	return nil
}

var hexLen = map[string]int{"sha256": 64, "sha512": 128}

// Verifiable reports whether fl can verify content against a digest of
// this algorithm: sha256, the one the OCI image spec requires every
// implementation to support (and the one go-containerregistry knows).
func Verifiable(algorithm string) bool { return algorithm == "sha256" }

// algorithm matches [a-z0-9]+([+._-][a-z0-9]+)*.
func algorithm(a string) bool {
	prevSep := true
	for i := 0; i < len(a); i++ {
		switch b := a[i]; {
		case alnum(b):
			prevSep = false
		case b == '+' || b == '.' || b == '_' || b == '-':
			if prevSep {
				return false
			}
			prevSep = true
		default:
			return false
		}
	}
	return !prevSep
}
