package describe

import (
	"context"
	"crypto/sha256"
	"hash"
	"io"
	"sync"
)

const chunkSize = 1 << 20

var chunks = sync.Pool{New: func() any { b := make([]byte, chunkSize); return &b }}

func getChunk() []byte { return *chunks.Get().(*[]byte) }

func putChunk(b []byte) {
	b = b[:cap(b)]
	chunks.Put(&b)
}

// fill reads into buf until it is full or r fails; unlike io.ReadFull it
// passes r's own error through unchanged (a decompressor's
// io.ErrUnexpectedEOF means truncated input, not a short last chunk).
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// readAhead reads a source in its own goroutine, in chunks, and hashes
// what it reads, so that network reads and the compressed digest overlap
// with decompression. Memory is bounded by depth chunks.
type readAhead struct {
	ch   chan []byte
	stop chan struct{}
	done chan struct{}
	h    hash.Hash
	n    int64
	err  error // the source's error; read after done

	cur, buf []byte
}

func newReadAhead(ctx context.Context, src io.Reader, depth int) *readAhead {
	ra := &readAhead{ch: make(chan []byte, depth), stop: make(chan struct{}), done: make(chan struct{}), h: sha256.New()}
	go ra.run(ctx, src)
	return ra
}

func (ra *readAhead) run(ctx context.Context, src io.Reader) {
	defer close(ra.done)
	defer close(ra.ch)
	for {
		if err := ctx.Err(); err != nil {
			ra.err = err
			return
		}
		c := getChunk()
		n, err := fill(src, c)
		if n > 0 {
			ra.h.Write(c[:n])
			ra.n += int64(n)
			select {
			case ra.ch <- c[:n]:
			case <-ra.stop:
				putChunk(c)
				return
			}
		} else {
			putChunk(c)
		}
		if err == io.EOF {
			return
		}
		if err != nil {
			ra.err = err
			return
		}
	}
}

// Read hands out the chunks read ahead.
func (ra *readAhead) Read(p []byte) (int, error) {
	if len(ra.cur) == 0 {
		if ra.buf != nil {
			putChunk(ra.buf)
			ra.buf = nil
		}
		c, ok := <-ra.ch
		if !ok {
			<-ra.done
			if ra.err != nil {
				return 0, srcError{ra.err}
			}
			return 0, io.EOF
		}
		ra.cur, ra.buf = c, c
	}
	n := copy(p, ra.cur)
	ra.cur = ra.cur[n:]
	return n, nil
}

// Finish reads the source to its end, so the digest covers all of it,
// and returns the digest, the byte count and the source's error.
func (ra *readAhead) Finish() ([]byte, int64, error) {
	for c := range ra.ch {
		putChunk(c)
	}
	<-ra.done
	return ra.h.Sum(nil), ra.n, ra.err
}

// Abort stops reading and waits for the goroutine.
func (ra *readAhead) Abort() {
	close(ra.stop)
	for c := range ra.ch {
		putChunk(c)
	}
	<-ra.done
}
