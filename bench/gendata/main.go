// Command gendata writes a realistic root-filesystem tarball for the
// benchmarks: a tar of many files, text-like, binary-like and already
// compressed, deterministic for a seed, sized so that gzip compresses it
// about 3:1 (as distribution rootfs tarballs are).
package main

import (
	"archive/tar"
	"bufio"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"time"
)

func main() {
	size := flag.Int64("size", 600<<20, "bytes of file content to write")
	seed := flag.Uint64("seed", 1, "random seed")
	out := flag.String("o", "-", "output tar file, or - for stdout")
	flag.Parse()
	w := os.Stdout
	if *out != "-" {
		f, err := os.Create(*out)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer f.Close()
		w = f
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	if err := write(bw, *size, *seed); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := bw.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func write(w *bufio.Writer, total int64, seed uint64) error {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	words := vocabulary(r, 4000)
	tw := tar.NewWriter(w)
	mtime := time.Unix(1700000000, 0)
	var written int64
	buf := make([]byte, 0, 8<<20)
	for i := 0; written < total; i++ {
		// File sizes spread as in a real rootfs: many small, a few large.
		n := int(min(int64(256+r.ExpFloat64()*60_000), total-written, 8<<20))
		buf = buf[:0]
		kind := r.IntN(100)
		switch {
		case kind < 70:
			buf = text(r, words, buf, n)
		case kind < 97:
			buf = binary(r, buf, n)
		default:
			buf = noise(r, buf, n)
		}
		hdr := &tar.Header{Name: fmt.Sprintf("usr/share/f%03d/file%06d", i%500, i), Mode: 0o644, Size: int64(len(buf)), ModTime: mtime, Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := tw.Write(buf); err != nil {
			return err
		}
		written += int64(len(buf))
	}
	return tw.Close()
}

func vocabulary(r *rand.Rand, n int) []string {
	const letters = "etaoinshrdlcumwfgypbvkjxqz_"
	out := make([]string, n)
	for i := range out {
		var b strings.Builder
		for range 2 + r.IntN(9) {
			b.WriteByte(letters[min(int(r.ExpFloat64()*6), len(letters)-1)])
		}
		out[i] = b.String()
	}
	return out
}

// text is source-code and documentation-like: words with a Zipf-ish skew.
func text(r *rand.Rand, words []string, buf []byte, n int) []byte {
	for len(buf) < n {
		w := words[min(int(r.ExpFloat64()*16), len(words)-1)]
		buf = append(buf, w...)
		switch r.IntN(12) {
		case 0:
			buf = append(buf, '\n')
		case 1:
			buf = append(buf, "(); "...)
		default:
			buf = append(buf, ' ')
		}
	}
	return buf[:n]
}

// binary is executable-like: small values and repeats, some entropy.
func binary(r *rand.Rand, buf []byte, n int) []byte {
	for len(buf) < n {
		switch r.IntN(6) {
		case 0, 1:
			buf = append(buf, 0, 0, 0, byte(r.IntN(16)))
		case 2:
			buf = append(buf, byte(r.IntN(256)), byte(r.IntN(256)))
		default:
			buf = append(buf, byte(0x40+r.IntN(24)), 0x89, byte(r.IntN(8)))
		}
	}
	return buf[:n]
}

// noise is already-compressed content (images, archives).
func noise(r *rand.Rand, buf []byte, n int) []byte {
	for len(buf) < n {
		v := r.Uint64()
		buf = append(buf, byte(v), byte(v>>8), byte(v>>16), byte(v>>24), byte(v>>32), byte(v>>40), byte(v>>48), byte(v>>56))
	}
	return buf[:n]
}
