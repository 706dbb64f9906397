// Package checksum parses the checksum files that distributions publish
// beside their tarballs, so that fl can check a layer against the
// upstream's own word for its digest.
//
// It reads GNU coreutils output (`HEX  name`, `HEX *name`), the BSD form
// (`SHA256 (name) = HEX`), and single-hash `.sha256` files that hold only a
// hex digest.
package checksum

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

// ErrInvalid is wrapped by every parse error.
var ErrInvalid = errors.New("invalid checksum file")

// File is a parsed checksum file.
type File struct {
	// Source names where the file came from, for messages.
	Source string
	// ByName maps a file name (its base name) to its sha256 hex digest.
	ByName map[string]string
	// Bare is the digest of a single-hash file that names no file.
	Bare string
}

// maxSize caps how much of a checksum file is read.
const maxSize = 4 << 20

// Parse reads a checksum file. Lines for other algorithms (by digest
// length) are skipped; a file with no sha256 entry at all is an error.
func Parse(source string, r io.Reader) (*File, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading checksum file %s: %w", source, err)
	}
	if len(data) > maxSize {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrInvalid, source, maxSize)
	}
	f := &File{Source: source, ByName: map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	lines, other := 0, 0
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "-----") {
			continue
		}
		lines++
		hexd, name, ok := parseLine(line)
		if !ok {
			// Signed SHA256SUMS files carry PGP armour lines; skip
			// anything that is not a checksum line.
			other++
			continue
		}
		hexd = strings.ToLower(hexd)
		if !IsHex256(hexd) {
			other++
			continue
		}
		if name == "" {
			if f.Bare != "" {
				return nil, fmt.Errorf("%w: %s has more than one bare hash", ErrInvalid, source)
			}
			f.Bare = hexd
			continue
		}
		f.ByName[path.Base(name)] = hexd
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrInvalid, source, err)
	}
	if f.Bare == "" && len(f.ByName) == 0 {
		return nil, fmt.Errorf("%w: %s has no sha256 checksum line (expected `HEX  name` lines or a single hex digest)", ErrInvalid, source)
	}
	return f, nil
}

// parseLine splits one line into digest and file name. A line that is only
// a digest gives an empty name.
func parseLine(line string) (hexd, name string, ok bool) {
	// BSD: SHA256 (name) = HEX
	if rest, found := strings.CutPrefix(line, "SHA256 ("); found {
		n, h, found := strings.Cut(rest, ") = ")
		return strings.TrimSpace(h), n, found
	}
	fields := strings.Fields(line)
	switch len(fields) {
	case 1:
		return fields[0], "", true
	case 0:
		return "", "", false
	}
	// GNU: HEX  name, or HEX *name (binary mode). Names may hold spaces.
	hexd = fields[0]
	name = strings.TrimLeft(strings.TrimSpace(line[len(hexd):]), "*")
	return hexd, name, name != ""
}

// Lookup returns the digest the file gives for name (a base name).
func (f *File) Lookup(name string) (string, bool) {
	h, ok := f.ByName[name]
	return h, ok
}

// IsHex256 reports whether s is 64 lower-case hex digits.
func IsHex256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
