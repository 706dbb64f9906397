package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// committing: an S3 writer's Commit is uploading.
const committing = cancelled + 1

// s3Writer writes a blob into a local spool file, and from there into a
// multipart upload, a part at a time, in the background. The last part,
// and the upload's completion, wait for Commit.
type s3Writer struct {
	c      *S3Cache
	digest v1.Hash
	size   int64 // reserved
	key    string
	ctx    context.Context // of the uploads; stop cancels it
	stop   context.CancelFunc

	mu       sync.Mutex
	f        *os.File
	n        int64 // written
	state    writerState
	uploadID string
	parts    []types.CompletedPart
	uploaded int64 // bytes in parts
	upErr    error
	pumping  bool
	pumped   sync.WaitGroup

	victims []*s3Entry // marked at Create, for the cap; guarded by c.mu

	// Guarded by c.mu: the readers NewReader opened, and after Commit the
	// blob they read, which they keep from eviction.
	readers int
	entry   *s3Entry
}

var _ Writer = (*s3Writer)(nil)

// Write implements Writer. Bytes past the reserved size are refused.
func (w *s3Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.state != writing {
		return 0, fmt.Errorf("cache: %s: write after Commit or Cancel", w.digest)
	}
	if w.upErr != nil {
		return 0, w.upErr
	}
	if int64(len(p)) > w.size-w.n {
		return 0, fmt.Errorf("cache: %s: writing %d bytes after %d would pass the %d reserved", w.digest, len(p), w.n, w.size)
	}
	n, err := w.f.Write(p)
	w.n += int64(n)
	if err != nil {
		return n, fmt.Errorf("cache: %w", err)
	}
	if !w.pumping && w.n-w.uploaded > w.c.partSize {
		w.pumping = true
		w.pumped.Add(1)
		go w.pump()
	}
	return n, nil
}

// pump uploads full parts while more than a part is waiting: the bytes
// after them stay back for the last part.
func (w *s3Writer) pump() {
	defer w.pumped.Done()
	for {
		w.mu.Lock()
		if w.state == cancelled || w.upErr != nil || w.n-w.uploaded <= w.c.partSize {
			w.pumping = false
			w.mu.Unlock()
			return
		}
		off, num := w.uploaded, int32(len(w.parts)+1)
		w.mu.Unlock()
		err := w.ensureUpload()
		var etag string
		if err == nil {
			etag, err = w.uploadPart(num, off, w.c.partSize)
		}
		w.mu.Lock()
		if err != nil {
			w.upErr = fmt.Errorf("cache: %s: uploading part %d: %w", w.digest, num, err)
		} else {
			w.parts = append(w.parts, types.CompletedPart{ETag: aws.String(etag), PartNumber: aws.Int32(num)})
			w.uploaded += w.c.partSize
		}
		w.mu.Unlock()
	}
}

// ensureUpload starts the multipart upload once.
func (w *s3Writer) ensureUpload() error {
	w.mu.Lock()
	id := w.uploadID
	w.mu.Unlock()
	if id != "" {
		return nil
	}
	out, err := w.c.loc.Client.CreateMultipartUpload(w.ctx, &s3.CreateMultipartUploadInput{Bucket: &w.c.loc.Bucket, Key: &w.key})
	if err != nil {
		return err
	}
	w.mu.Lock()
	w.uploadID = aws.ToString(out.UploadId)
	w.mu.Unlock()
	return nil
}

func (w *s3Writer) uploadPart(num int32, off, n int64) (string, error) {
	out, err := w.c.loc.Client.UploadPart(w.ctx, &s3.UploadPartInput{
		Bucket: &w.c.loc.Bucket, Key: &w.key, UploadId: aws.String(w.uploadID), PartNumber: aws.Int32(num),
		Body: io.NewSectionReader(w.f, off, n), ContentLength: aws.Int64(n),
	})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.ETag), nil
}

// NewReader implements Writer. Before Commit it reads the spool file
// (and keeps reading it after Commit removed it); after Commit it opens
// the blob.
func (w *s3Writer) NewReader() (ReaderAtCloser, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch w.state {
	case committed:
		return w.c.Open(context.Background(), w.digest)
	case cancelled:
		return nil, fmt.Errorf("cache: %s: reading a cancelled write", w.digest)
	}
	f, err := os.Open(w.f.Name())
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	w.c.mu.Lock()
	w.readers++
	w.c.mu.Unlock()
	return &s3SpoolReader{f: f, w: w}, nil
}

// Commit implements Writer. Every failure is final: the upload is
// aborted, the spool removed and the reservation released.
func (w *s3Writer) Commit(ctx context.Context, source string) error {
	w.mu.Lock()
	if w.state != writing {
		w.mu.Unlock()
		return fmt.Errorf("cache: %s: Commit after Commit or Cancel", w.digest)
	}
	w.state = committing
	w.mu.Unlock()
	w.pumped.Wait() // the parts in flight
	c := w.c
	lock := &c.commits[w.digest.Hex[0]%byte(len(c.commits))]
	lock.Lock()
	err := w.commit(ctx, source)
	var sources []string
	if err == nil {
		sources, err = c.addSource(ctx, w.digest, source)
	}
	if err != nil {
		w.abort()
	}
	var victims []*s3Entry
	over := int64(0)
	w.mu.Lock()
	c.mu.Lock()
	if err == nil {
		c.commitLocked(w, sources)
		w.state = committed
	} else {
		w.state = cancelled
	}
	c.releaseLocked(w)
	if err == nil {
		// The room marked at Create is made now, planned again.
		victims, over = c.makeRoomLocked(w.digest)
	}
	c.mu.Unlock()
	w.mu.Unlock()
	lock.Unlock()
	w.stop()
	_ = w.f.Close()
	_ = os.Remove(w.f.Name()) // followers keep reading their open files
	c.finishEvictions(ctx, victims)
	logOver(c.log, w.digest, over, c.max)
	return err
}

// commitLocked accounts the committed blob, or updates the one there.
func (c *S3Cache) commitLocked(w *s3Writer, sources []string) {
	now := time.Now()
	e := c.blobs[w.digest]
	if e == nil {
		e = &s3Entry{digest: w.digest, size: w.n, mod: now, persisted: now}
		e.el = c.order.PushBack(e)
		c.blobs[w.digest] = e
		c.used += e.size
	}
	e.sources, e.loaded = sources, true
	e.lastUse = now
	c.order.MoveToBack(e.el)
	e.open += w.readers
	w.entry = e
}

// commit checks that the blob is whole and makes it the object: a
// PutObject, or the last part and the upload's completion. An object
// that is there already (another writer committed it) is kept.
func (w *s3Writer) commit(ctx context.Context, source string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if source == "" {
		return fmt.Errorf("cache: %s: Commit without a source", w.digest)
	}
	if w.upErr != nil {
		return w.upErr
	}
	if w.n != w.size {
		return fmt.Errorf("cache: %s: %d bytes written of %d", w.digest, w.n, w.size)
	}
	c := w.c
	c.mu.Lock()
	known := c.blobs[w.digest] != nil
	c.mu.Unlock()
	if known {
		w.abort() // nothing to upload
		return nil
	}
	if w.uploadID == "" {
		_, err := c.loc.Client.PutObject(ctx, &s3.PutObjectInput{
			Bucket: &c.loc.Bucket, Key: &w.key, Body: io.NewSectionReader(w.f, 0, w.n), ContentLength: aws.Int64(w.n),
			IfNoneMatch: aws.String("*"),
		})
		if err != nil && !isPreconditionFailed(err) {
			return fmt.Errorf("cache: %s: %w", w.digest, err)
		}
		return nil
	}
	num := int32(len(w.parts) + 1)
	etag, err := w.uploadPart(num, w.uploaded, w.n-w.uploaded)
	if err != nil {
		return fmt.Errorf("cache: %s: uploading the last part: %w", w.digest, err)
	}
	parts := append(w.parts, types.CompletedPart{ETag: aws.String(etag), PartNumber: aws.Int32(num)})
	_, err = c.loc.Client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &c.loc.Bucket, Key: &w.key, UploadId: &w.uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
		IfNoneMatch:     aws.String("*"),
	})
	switch {
	case err == nil:
		w.uploadID = "" // complete: nothing to abort
	case isPreconditionFailed(err): // committed by another writer
		w.abort()
	default:
		return fmt.Errorf("cache: %s: completing the upload: %w", w.digest, err)
	}
	return nil
}

// abort ends the multipart upload, if one is open.
func (w *s3Writer) abort() {
	if w.uploadID == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := w.c.loc.Client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &w.c.loc.Bucket, Key: &w.key, UploadId: &w.uploadID})
	if err != nil && !isNotFound(err) {
		w.c.log.Warn("cache: aborting an upload (the sweep will)", "digest", w.digest.String(), "error", err)
	}
	w.uploadID = ""
}

// Cancel implements Writer.
func (w *s3Writer) Cancel() error {
	w.mu.Lock()
	if w.state != writing {
		w.mu.Unlock()
		return nil
	}
	w.state = cancelled
	w.mu.Unlock()
	w.stop()
	w.pumped.Wait()
	w.abort()
	err := errors.Join(w.f.Close(), os.Remove(w.f.Name()))
	w.c.mu.Lock()
	w.c.releaseLocked(w)
	w.c.mu.Unlock()
	if err != nil {
		return fmt.Errorf("cache: cancelling %s: %w", w.digest, err)
	}
	return nil
}
