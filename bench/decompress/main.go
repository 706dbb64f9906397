// Command decompress only decompresses a gzip file to nowhere: the
// irreducible serial work of describing a layer, which `fl build` is
// measured against. -impl picks the decompressor, so they can be compared.
package main

import (
	"bufio"
	"compress/gzip"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	kgzip "github.com/klauspost/compress/gzip"
	"github.com/klauspost/pgzip"
)

func main() {
	impl := flag.String("impl", "klauspost", "decompressor: klauspost, pgzip or stdlib")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: decompress [-impl NAME] FILE.gz")
		os.Exit(2)
	}
	f, err := os.Open(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer f.Close()
	start := time.Now()
	n, err := decompress(*impl, bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "%s: %d bytes in %v\n", *impl, n, time.Since(start).Round(time.Millisecond))
}

func decompress(impl string, r io.Reader) (int64, error) {
	var zr io.Reader
	var err error
	switch impl {
	case "klauspost":
		zr, err = kgzip.NewReader(r)
	case "pgzip":
		zr, err = pgzip.NewReader(r)
	case "stdlib":
		zr, err = gzip.NewReader(r)
	default:
		return 0, fmt.Errorf("unknown -impl %q", impl)
	}
	if err != nil {
		return 0, err
	}
	return io.Copy(io.Discard, zr)
}
