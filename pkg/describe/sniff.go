package describe

import (
	"bytes"
	"errors"
	"fmt"
)

// Compression is how a layer's bytes are compressed.
type Compression string

// The compressions a layer may have.
const (
	Gzip Compression = "gzip"
	Zstd Compression = "zstd"
	None Compression = "none" // a plain tar archive
)

// ErrUnsupported is wrapped by the error for a format registry clients
// cannot read (xz, bzip2, ...).
var ErrUnsupported = errors.New("unsupported layer format")

// ErrNotTar is wrapped by the error for content that is not a tar archive.
var ErrNotTar = errors.New("not a tar archive")

// SniffLen is how many leading bytes Sniff wants to see.
const SniffLen = 512

type magic struct {
	name   string
	prefix []byte
	unpack string // the command that decompresses it to stdout
}

// Formats that registry clients cannot unpack, recognised so the error can
// name them.
var unsupported = []magic{
	{"xz", []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}, "xz -dc"},
	{"bzip2", []byte("BZh"), "bzip2 -dc"},
	{"lz4", []byte{0x04, 0x22, 0x4d, 0x18}, "lz4 -dc"},
	{"lzip", []byte("LZIP"), "lzip -dc"},
	{"zip", []byte("PK\x03\x04"), ""},
	{"7z", []byte{'7', 'z', 0xbc, 0xaf, 0x27, 0x1c}, ""},
	{"compress (.Z)", []byte{0x1f, 0x9d}, "gzip -dc"},
}

// Sniff tells the compression of a layer from its first bytes (up to
// SniffLen of them). It returns an error wrapping ErrUnsupported for a
// known format registry clients cannot read, and ErrNotTar for anything
// else that is not gzip, zstd or tar.
func Sniff(head []byte) (Compression, error) {
	switch {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return Gzip, nil
	case bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return Zstd, nil
	}
	for _, m := range unsupported {
		if bytes.HasPrefix(head, m.prefix) {
			hint := "repack it as a .tar.gz"
			if m.unpack != "" {
				hint = "recompress it, e.g. `" + m.unpack + " FILE | gzip > FILE.tar.gz`"
			}
			return "", fmt.Errorf("%w: the content is %s-compressed; registry clients (docker, containerd, podman) can only unpack gzip, zstd or uncompressed tar layers: %s", ErrUnsupported, m.name, hint)
		}
	}
	if isTarHeader(head) {
		return None, nil
	}
	return "", fmt.Errorf("%w: the content is neither gzip, zstd nor a tar archive", ErrNotTar)
}

// isTarHeader reports whether b starts with a tar header block: the ustar
// magic, or (for old v7 archives) a valid header checksum.
func isTarHeader(b []byte) bool {
	if len(b) < 512 {
		// An empty archive is 1024 zero bytes; anything shorter that is
		// not a header is not a tar.
		return false
	}
	if bytes.Equal(b[257:262], []byte("ustar")) {
		return true
	}
	var sum int64
	for i, c := range b[:512] {
		if i >= 148 && i < 156 {
			c = ' '
		}
		sum += int64(c)
	}
	field := bytes.Trim(b[148:156], " \x00")
	var want int64
	for _, c := range field {
		if c < '0' || c > '7' {
			return false
		}
		want = want*8 + int64(c-'0')
	}
	return len(field) > 0 && want == sum
}
