package describe

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Result is what one pass over a layer found.
type Result struct {
	Digest           v1.Hash // sha256 of the bytes as read
	Size             int64   // number of bytes as read
	DiffID           v1.Hash // sha256 of the uncompressed tar
	UncompressedSize int64
	Compression      Compression
}

// ErrCorrupt is wrapped by the error for a compressed stream that does not
// decompress (truncated or damaged).
var ErrCorrupt = errors.New("corrupt compressed stream")

// queue depth, in 1 MiB chunks, between decompression and each hasher
const depth = 8

// Reader reads r to its end once and describes it. Errors from r itself
// are returned as they are, so a caller can tell a network failure from
// bad content.
//
// Three goroutines share the work: one reads r and hashes it, this one
// decompresses, and one hashes the tar and walks its headers.
func Reader(ctx context.Context, r io.Reader) (*Result, error) {
	ra := newReadAhead(ctx, r, depth)
	res, err := decode(bufio.NewReaderSize(ra, 64<<10))
	if err != nil {
		ra.Abort()
		var src srcError
		if errors.As(err, &src) {
			return nil, src.err
		}
		return nil, err
	}
	digest, size, err := ra.Finish()
	if err != nil {
		return nil, err
	}
	res.Digest = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(digest)}
	res.Size = size
	return res, nil
}

func decode(br *bufio.Reader) (*Result, error) {
	head, err := br.Peek(SniffLen)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	comp, err := Sniff(head)
	if err != nil {
		return nil, err
	}
	var dec io.Reader = br
	switch comp {
	case Gzip:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, corrupt(comp, err)
		}
		defer zr.Close()
		dec = zr
	case Zstd:
		zr, err := zstd.NewReader(br, zstd.WithDecoderMaxWindow(1<<27))
		if err != nil {
			return nil, corrupt(comp, err)
		}
		defer zr.Close()
		dec = zr
	}
	sink := newTarSink(depth)
	decErr := pump(dec, sink)
	diffID, usize, tarErr := sink.Wait()
	switch {
	case tarErr != nil && (decErr == nil || errors.Is(decErr, ErrNotTar)):
		return nil, tarErr
	case decErr != nil:
		if errors.As(decErr, new(srcError)) {
			return nil, decErr
		}
		return nil, corrupt(comp, decErr)
	case tarErr != nil:
		return nil, tarErr
	}
	return &Result{
		DiffID:           v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(diffID)},
		UncompressedSize: usize,
		Compression:      comp,
	}, nil
}

// pump decompresses straight into pooled chunks and hands them to sink.
func pump(dec io.Reader, sink *tarSink) error {
	for {
		c := getChunk()
		n, err := fill(dec, c)
		if n > 0 {
			if serr := sink.send(c[:n]); serr != nil {
				return serr
			}
		} else {
			putChunk(c)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func corrupt(c Compression, err error) error {
	if c == None {
		return err
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: the %s stream ends early (the file is truncated): %v", ErrCorrupt, c, err)
	}
	return fmt.Errorf("%w: %s: %v", ErrCorrupt, c, err)
}

// srcError marks an error that came from the source reader, not from
// decoding, so it is reported as it is.
type srcError struct{ err error }

func (e srcError) Error() string { return e.err.Error() }
func (e srcError) Unwrap() error { return e.err }
