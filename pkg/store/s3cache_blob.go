package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// s3Blob is an open committed blob. ReadAt is one ranged GET; Read
// streams one GET from the offset Seek left, until the next Seek.
type s3Blob struct {
	c      *S3Cache
	e      *s3Entry
	key    string
	closed atomic.Bool

	mu   sync.Mutex
	pos  int64
	body io.ReadCloser // positioned at pos, or nil
}

var _ Blob = (*s3Blob)(nil)

func (b *s3Blob) Size() int64        { return b.e.size }
func (b *s3Blob) ModTime() time.Time { return b.e.mod }

// Sources implements Blob.
func (b *s3Blob) Sources() []string { return b.c.sources(b.e) }

// get opens the bytes [off, end) of the blob.
func (b *s3Blob) get(ctx context.Context, off, end int64) (io.ReadCloser, error) {
	out, err := b.c.loc.Client.GetObject(ctx, &s3.GetObjectInput{
		Bucket: &b.c.loc.Bucket, Key: &b.key, Range: aws.String(fmt.Sprintf("bytes=%d-%d", off, end-1)),
	})
	if isNotFound(err) {
		return nil, fmt.Errorf("cache: %s vanished (evicted by another replica?): %w", b.e.digest, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("cache: reading %s: %w", b.e.digest, err)
	}
	return out.Body, nil
}

// ReadAt implements io.ReaderAt.
func (b *s3Blob) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("cache: negative offset %d", off)
	}
	size := b.e.size
	if off >= size {
		return 0, io.EOF
	}
	end := min(off+int64(len(p)), size)
	if end == off {
		return 0, nil
	}
	body, err := b.get(context.Background(), off, end)
	if err != nil {
		return 0, err
	}
	defer body.Close()
	n, err := io.ReadFull(body, p[:end-off])
	if err != nil {
		return n, fmt.Errorf("cache: reading %s: %w", b.e.digest, err)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Read implements io.Reader.
func (b *s3Blob) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed.Load() {
		return 0, errors.New("cache: read of a closed blob")
	}
	if b.pos >= b.e.size {
		return 0, io.EOF
	}
	if b.body == nil {
		body, err := b.get(context.Background(), b.pos, b.e.size)
		if err != nil {
			return 0, err
		}
		b.body = body
	}
	n, err := b.body.Read(p)
	b.pos += int64(n)
	switch {
	case b.pos >= b.e.size:
		b.dropBody()
		return n, nil // the next Read says EOF
	case err == io.EOF:
		b.dropBody()
		return n, fmt.Errorf("cache: %s ended after %d of %d bytes: %w", b.e.digest, b.pos, b.e.size, io.ErrUnexpectedEOF)
	case err != nil:
		b.dropBody()
		return n, err
	}
	return n, nil
}

func (b *s3Blob) dropBody() {
	if b.body != nil {
		_ = b.body.Close()
		b.body = nil
	}
}

// Seek implements io.Seeker; it sends nothing.
func (b *s3Blob) Seek(off int64, whence int) (int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch whence {
	case io.SeekCurrent:
		off += b.pos
	case io.SeekEnd:
		off += b.e.size
	case io.SeekStart:
	default:
		return 0, fmt.Errorf("cache: bad whence %d", whence)
	}
	if off < 0 {
		return 0, fmt.Errorf("cache: seek to a negative offset %d", off)
	}
	if off != b.pos {
		b.dropBody()
		b.pos = off
	}
	return off, nil
}

// Close releases the blob; closing it again does nothing.
func (b *s3Blob) Close() error {
	if b.closed.Swap(true) {
		return nil
	}
	b.mu.Lock()
	b.dropBody()
	b.mu.Unlock()
	b.c.release(b.e)
	return nil
}
