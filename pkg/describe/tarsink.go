package describe

import (
	"archive/tar"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
)

// tarSink takes the decompressed stream in chunks, hashes it (the
// diff_id) and walks it as a tar archive, in a goroutine of its own. It
// seeks over file contents instead of copying them. Sends fail fast once
// the stream is known not to be a tar.
type tarSink struct {
	ch     chan []byte
	done   chan struct{}
	failed chan struct{}
	h      hash.Hash
	err    error // set by the goroutine before done closes

	// reader side
	n        int64 // bytes received (and hashed)
	pos      int64 // bytes consumed by the tar reader
	cur, buf []byte
}

var _ io.ReadSeeker = (*tarSink)(nil)

func newTarSink(depth int) *tarSink {
	s := &tarSink{ch: make(chan []byte, depth), done: make(chan struct{}), failed: make(chan struct{}), h: sha256.New()}
	go s.run()
	return s
}

func (s *tarSink) run() {
	defer close(s.done)
	tr := tar.NewReader(s)
	entries := 0
	for {
		_, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			s.err = tarError(entries, err)
			close(s.failed)
			break
		}
		entries++
	}
	// Hash whatever follows the end-of-archive marker, and keep the sender
	// from blocking after a failure.
	for s.next() {
		s.pos += int64(len(s.cur))
		s.cur = nil
	}
	if s.err == nil && s.n < 512 {
		s.err = fmt.Errorf("%w: the decompressed content is only %d bytes, too short for a tar archive", ErrNotTar, s.n)
	}
}

func tarError(entries int, err error) error {
	if entries == 0 {
		return fmt.Errorf("%w: the decompressed content has no valid tar header (%v)", ErrNotTar, err)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: the tar archive is truncated after %d entries", ErrNotTar, entries)
	}
	return fmt.Errorf("%w: tar entry %d: %v", ErrNotTar, entries+1, err)
}

// next makes the next chunk current, hashing it; false at the end.
func (s *tarSink) next() bool {
	if s.buf != nil {
		putChunk(s.buf)
		s.buf = nil
	}
	c, ok := <-s.ch
	if !ok {
		return false
	}
	s.h.Write(c)
	s.n += int64(len(c))
	s.cur, s.buf = c, c
	return true
}

// Read is the tar reader's side.
func (s *tarSink) Read(p []byte) (int, error) {
	if len(s.cur) == 0 && !s.next() {
		return 0, io.EOF
	}
	n := copy(p, s.cur)
	s.cur = s.cur[n:]
	s.pos += int64(n)
	return n, nil
}

// Seek skips forward (io.SeekCurrent only), which archive/tar uses to pass
// over file contents. Like a lazy file seek it does not report a short
// stream; the tar reader's next read does.
func (s *tarSink) Seek(offset int64, whence int) (int64, error) {
	if whence != io.SeekCurrent || offset < 0 {
		return s.pos, errors.New("tarSink: only forward relative seeks")
	}
	for offset > 0 {
		if len(s.cur) == 0 && !s.next() {
			break
		}
		k := min(offset, int64(len(s.cur)))
		s.cur = s.cur[k:]
		s.pos += k
		offset -= k
	}
	return s.pos, nil
}

// send hands a pooled chunk to the goroutine, which owns it from then on.
func (s *tarSink) send(c []byte) error {
	select {
	case <-s.failed:
		putChunk(c)
		return s.err
	case s.ch <- c:
		return nil
	}
}

// Wait ends the stream and returns the diff_id, the uncompressed size, and
// any tar error.
func (s *tarSink) Wait() ([]byte, int64, error) {
	close(s.ch)
	<-s.done
	return s.h.Sum(nil), s.n, s.err
}
