package imageref

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
)

// Example is a valid reference, shown with every parse error.
const Example = "localhost:5000/team/app:1.0 (or REPO@sha256:HEX, docker://REF, oci:DIR:TAG)"

var (
	tagRE       = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	digestRE    = regexp.MustCompile(`^sha256:[a-f0-9]{64}$`)
	componentRE = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$`)
)

// diagnose says in words what is wrong with a registry reference, or ""
// when it finds nothing (go-containerregistry then has the last word).
func diagnose(s string) string {
	if s == "" {
		return "it is empty"
	}
	if i := strings.IndexFunc(s, unicode.IsSpace); i >= 0 {
		return fmt.Sprintf("it contains white space at byte %d", i)
	}
	rest, dig, hasDigest := strings.Cut(s, "@")
	if hasDigest {
		if dig == "" {
			return "nothing after '@': give a digest, sha256: and 64 hex digits"
		}
		if !digestRE.MatchString(dig) {
			return fmt.Sprintf("digest %q is not sha256: and 64 lower-case hex digits", dig)
		}
	}
	repo, tag := rest, ""
	if i := strings.LastIndex(rest, ":"); i > strings.LastIndex(rest, "/") {
		repo, tag = rest[:i], rest[i+1:]
		if tag == "" {
			return "nothing after the last ':': give a tag (REPO:TAG) or a digest (REPO@sha256:HEX), or neither for :latest"
		}
		if !tagRE.MatchString(tag) {
			return fmt.Sprintf("tag %q: tags are up to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'", tag)
		}
	}
	path := repo
	if first, after, ok := strings.Cut(repo, "/"); ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		path = after
	}
	if path == "" {
		return "no repository: give REGISTRY/REPO"
	}
	for _, c := range strings.Split(path, "/") {
		if c == "" {
			return fmt.Sprintf("repository %q has an empty path component (two slashes, or a slash at an end)", path)
		}
		if componentRE.MatchString(c) {
			continue
		}
		if strings.ContainsFunc(c, unicode.IsUpper) && componentRE.MatchString(strings.ToLower(c)) {
			return fmt.Sprintf("repository %q has upper-case letters: repository names are lower case (%q)", path, strings.ToLower(path))
		}
		for _, r := range c {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
				return fmt.Sprintf("repository %q contains %q: repository names hold lower-case letters, digits and the separators '.', '_', '-', with '/' between components", path, r)
			}
		}
		return fmt.Sprintf("repository component %q must start and end with a letter or digit, and separators cannot repeat", c)
	}
	return ""
}
