package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

const (
	ociManifest = "application/vnd.oci.image.manifest.v1+json"
	ociConfig   = "application/vnd.oci.image.config.v1+json"
	ociLayer    = "application/vnd.oci.image.layer.v1.tar+gzip"
)

// manifestFile is a manifest written to disk, to be PUT from there.
type manifestFile struct {
	path, digest string
	size         int64
}

// writeManifest writes the n-th big manifest: a valid OCI image manifest
// of exactly size bytes, whose config is the blob cfg (cfgSize bytes) and
// whose layers are `layers` foreign layers of digests distinct to n, each
// with one URL on urlHost (nothing is ever fetched from it) and an
// annotation that pads the manifest to size.
func writeManifest(dir string, n, layers int, size int64, cfg string, cfgSize int, urlHost string) (manifestFile, error) {
	head := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":%q,"digest":%q,"size":%d},"layers":[`, ociManifest, ociConfig, cfg, cfgSize)
	layer := func(j int, pad string) string {
		d := sha256.Sum256(fmt.Appendf(nil, "limitsbench manifest %d layer %d", n, j))
		sep := ","
		if j == 0 {
			sep = ""
		}
		return fmt.Sprintf(`%s{"mediaType":%q,"digest":"sha256:%s","size":%d,"urls":["http://%s/m%d/l%d.tar.gz"],"annotations":{"org.example.pad":%q}}`,
			sep, ociLayer, hex.EncodeToString(d[:]), 1<<20+j, urlHost, n, j, pad)
	}
	tailFmt := `],"annotations":{"org.example.manifest":"%d","org.example.pad":%q}}`
	// Every layer but the padding: the padding fills what remains, spread
	// over the layers, the rest in the manifest's own annotation.
	fixed := int64(len(head) + len(fmt.Sprintf(tailFmt, n, "")))
	for j := range layers {
		fixed += int64(len(layer(j, "")))
	}
	if fixed > size {
		return manifestFile{}, fmt.Errorf("%d layers take %d bytes, more than the manifest size %d", layers, fixed, size)
	}
	per := (size - fixed) / int64(layers)
	rest := size - fixed - per*int64(layers)

	path := filepath.Join(dir, fmt.Sprintf("manifest-%03d.json", n))
	f, err := os.Create(path)
	if err != nil {
		return manifestFile{}, err
	}
	defer f.Close()
	h := sha256.New()
	w := bufio.NewWriterSize(io.MultiWriter(f, h), 1<<20)
	written := int64(0)
	put := func(s string) {
		k, _ := w.WriteString(s)
		written += int64(k)
	}
	put(head)
	for j := range layers {
		put(layer(j, filler(n, j, int(per))))
	}
	put(fmt.Sprintf(tailFmt, n, filler(n, -1, int(rest))))
	if err := w.Flush(); err != nil {
		return manifestFile{}, fmt.Errorf("writing %s: %w", path, err)
	}
	if written != size {
		return manifestFile{}, fmt.Errorf("manifest %d: wrote %d bytes, meant %d", n, written, size)
	}
	return manifestFile{path: path, digest: "sha256:" + hex.EncodeToString(h.Sum(nil)), size: size}, f.Close()
}

// filler is k bytes of lower-case letters and digits (nothing JSON
// escapes), different for every manifest and layer.
func filler(n, j, k int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	var b strings.Builder
	b.Grow(k)
	x := uint64(n)*1_000_003 + uint64(j+2)*7_919 + 1
	for range k {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b.WriteByte(alphabet[x%uint64(len(alphabet))])
	}
	return b.String()
}
