package store_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/foreignlayers/fl/internal/testutil"
	"github.com/foreignlayers/fl/pkg/store"
)

// uploads lists the multipart uploads in progress in loc's bucket.
func uploads(t *testing.T, loc store.S3Location) int {
	t.Helper()
	out, err := loc.Client.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: &loc.Bucket})
	if err != nil {
		t.Fatal(err)
	}
	return len(out.Uploads)
}

// visible reports whether some object of loc holds the blob d.
func visible(t *testing.T, loc store.S3Location, d v1.Hash) bool {
	t.Helper()
	for _, k := range listKeys(t, loc) {
		if k == "fl/cache/blobs/sha256/"+d.Hex {
			return true
		}
	}
	return false
}

// waitUploadParts waits until the upload of loc holds n parts.
func waitUploadParts(t *testing.T, loc store.S3Location, n int) {
	t.Helper()
	ctx := context.Background()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		out, err := loc.Client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &loc.Bucket})
		if err != nil || len(out.Uploads) != 1 {
			continue
		}
		u := out.Uploads[0]
		parts, err := loc.Client.ListParts(ctx, &s3.ListPartsInput{Bucket: &loc.Bucket, Key: u.Key, UploadId: u.UploadId})
		if err == nil && len(parts.Parts) >= n {
			return
		}
	}
	t.Fatalf("the upload never held %d parts", n)
}

// TestS3CacheMultipart: a blob of several parts goes up while it is
// written, stays invisible until Commit (its last part held back), is
// read whole and by ranges after; Cancel and a short Commit abort the
// upload; the sweep aborts uploads left behind.
func TestS3CacheMultipart(t *testing.T) {
	t.Parallel()
	srv := testutil.Versitygw(t)
	ctx := context.Background()
	loc := s3Location(t, srv)
	c := openS3Cache(t, loc, store.S3CacheOptions{MaxBytes: 1 << 30, PartSize: store.MinPartSize, SpoolDir: t.TempDir()})
	content := make([]byte, 2*store.MinPartSize+12345)
	_, _ = rand.Read(content)
	d, _, _ := v1.SHA256(bytes.NewReader(content))

	w, err := c.Create(ctx, d, int64(len(content)))
	if err != nil {
		t.Fatal(err)
	}
	follower, err := w.NewReader()
	if err != nil {
		t.Fatal(err)
	}
	defer follower.Close()
	for off := 0; off < len(content); off += 64 << 10 {
		if _, err := w.Write(content[off:min(off+64<<10, len(content))]); err != nil {
			t.Fatal(err)
		}
	}
	waitUploadParts(t, loc, 2)
	if visible(t, loc, d) {
		t.Fatal("the blob is visible before Commit")
	}
	buf := make([]byte, 100)
	if n, err := follower.ReadAt(buf, int64(len(content))-100); n != 100 || err != nil || !bytes.Equal(buf, content[len(content)-100:]) {
		t.Fatalf("the follower read %d bytes, %v", n, err)
	}
	if err := w.Commit(ctx, "https://x/big"); err != nil {
		t.Fatal(err)
	}
	if n := uploads(t, loc); n != 0 {
		t.Errorf("%d uploads in progress after Commit", n)
	}
	if n, err := follower.ReadAt(buf, 5); n != 100 || err != nil || !bytes.Equal(buf, content[5:105]) {
		t.Errorf("the follower after Commit: %d bytes, %v", n, err)
	}
	b, err := c.Open(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(b)
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("read %d bytes back, %v", len(got), err)
	}
	off := int64(store.MinPartSize - 50) // across the first two parts
	if n, err := b.ReadAt(buf, off); n != 100 || err != nil || !bytes.Equal(buf, content[off:off+100]) {
		t.Errorf("ReadAt across parts: %d, %v", n, err)
	}
	if _, err := b.Seek(-10, io.SeekEnd); err != nil {
		t.Fatal(err)
	}
	if tail, _ := io.ReadAll(b); !bytes.Equal(tail, content[len(content)-10:]) {
		t.Errorf("read after Seek from the end: %q", tail)
	}
	_ = b.Close()

	// Cancel and a short Commit abort their uploads.
	other := append([]byte("other"), content...)
	od, _, _ := v1.SHA256(bytes.NewReader(other))
	for _, commit := range []bool{false, true} {
		w, err := c.Create(ctx, od, int64(len(other)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(other[:len(other)-1]); err != nil {
			t.Fatal(err)
		}
		waitUploadParts(t, loc, 2)
		if commit {
			if err := w.Commit(ctx, "https://x/other"); err == nil {
				t.Fatal("a short blob committed")
			}
		} else if err := w.Cancel(); err != nil {
			t.Fatal(err)
		}
		if n := uploads(t, loc); n != 0 || visible(t, loc, od) {
			t.Errorf("after %s: %d uploads, visible %v", map[bool]string{false: "Cancel", true: "a failed Commit"}[commit], n, visible(t, loc, od))
		}
	}
	if s := c.Stats(); s.Reserved != 0 || s.Blobs != 1 || s.Bytes != int64(len(content)) {
		t.Errorf("Stats = %+v", s)
	}

	// A crashed writer's upload is swept once old enough.
	_, err = loc.Client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &loc.Bucket, Key: aws.String("fl/cache/blobs/sha256/" + od.Hex)})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := c.SweepUploads(ctx, time.Hour); n != 0 || err != nil {
		t.Errorf("SweepUploads(1h) = %d, %v", n, err)
	}
	if n, err := c.SweepUploads(ctx, -time.Minute); n != 1 || err != nil {
		t.Errorf("SweepUploads(now) = %d, %v", n, err)
	}
	if n := uploads(t, loc); n != 0 {
		t.Errorf("%d uploads after the sweep", n)
	}
}

// TestS3CacheReplicas: two caches over one bucket, as two replicas: a
// blob one commits, the other opens; both committing it keep one object
// and both sources.
func TestS3CacheReplicas(t *testing.T) {
	t.Parallel()
	srv := testutil.Versitygw(t)
	ctx := context.Background()
	loc := s3Location(t, srv)
	o := store.S3CacheOptions{MaxBytes: 1 << 20, SpoolDir: t.TempDir()}
	a, b := openS3Cache(t, loc, o), openS3Cache(t, loc, o)
	d := putBlob(t, a, "shared blob", "https://a/blob")
	blob, err := b.Open(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(blob); string(got) != "shared blob" {
		t.Errorf("read %q", got)
	}
	_ = blob.Close()
	putBlob(t, b, "shared blob", "https://b/blob")
	if s := b.Stats(); s.Blobs != 1 || s.Bytes != 11 {
		t.Errorf("Stats = %+v", s)
	}
	fresh := openS3Cache(t, loc, o)
	blob, err = fresh.Open(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	defer blob.Close()
	if src := blob.Sources(); len(src) != 2 || src[0] != "https://a/blob" || src[1] != "https://b/blob" {
		t.Errorf("Sources = %q", src)
	}
	if err := a.Remove(ctx, d); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(blob); err == nil {
		t.Error("read a blob another replica removed")
	}
}
