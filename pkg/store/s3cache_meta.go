package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// addSource adds source to the sources of d, merged with what other
// writers recorded, and returns them.
func (c *S3Cache) addSource(ctx context.Context, d v1.Hash, source string) ([]string, error) {
	rec, err := casUpdate(ctx, c.loc, c.metaKey(d), nil, func(m *blobMeta, _ bool) (casAction, error) {
		m.Sources = addSource(m.Sources, source)
		return casPut, nil
	})
	if err != nil {
		return nil, fmt.Errorf("cache: sources of %s: %w", d, err)
	}
	return rec.Sources, nil
}

// touch records a use of e: rewriting its sources advances the
// modification time that orders evictions after a restart. A failure is
// logged: the blob is then evicted a little earlier.
func (c *S3Cache) touch(ctx context.Context, e *s3Entry) {
	rec, err := casUpdate(ctx, c.loc, c.metaKey(e.digest), nil, func(*blobMeta, bool) (casAction, error) {
		return casPut, nil
	})
	if err != nil {
		c.log.Warn("cache: recording a use", "digest", e.digest.String(), "error", err)
		return
	}
	c.mu.Lock()
	e.sources, e.loaded = rec.Sources, true
	c.mu.Unlock()
}

// sources returns e's sources, read once.
func (c *S3Cache) sources(e *s3Entry) []string {
	c.mu.Lock()
	if e.loaded {
		defer c.mu.Unlock()
		return slices.Clone(e.sources)
	}
	c.mu.Unlock()
	var m blobMeta
	if _, err := c.loc.getJSON(context.Background(), c.metaKey(e.digest), &m); err != nil {
		// As in FSCache: no sources; the blob is fetched again.
		c.log.Warn("cache: reading a blob's sources", "digest", e.digest.String(), "error", err)
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !e.loaded {
		e.sources, e.loaded = m.Sources, true
	}
	return slices.Clone(e.sources)
}

// SweepUploads aborts the multipart uploads of the cache's blobs started
// more than olderThan ago: those of writers that died (a crash, a killed
// replica). It returns how many it aborted. Call it at start with an age
// well above the longest fetch, since other replicas' uploads in progress
// look the same.
func (c *S3Cache) SweepUploads(ctx context.Context, olderThan time.Duration) (int, error) {
	prefix := c.loc.Prefix + "cache/blobs/"
	cutoff := time.Now().Add(-olderThan)
	in := &s3.ListMultipartUploadsInput{Bucket: &c.loc.Bucket, Prefix: &prefix}
	aborted := 0
	for {
		out, err := c.loc.Client.ListMultipartUploads(ctx, in)
		if err != nil {
			return aborted, fmt.Errorf("cache: listing uploads: %w", err)
		}
		for _, u := range out.Uploads {
			if !aws.ToTime(u.Initiated).Before(cutoff) {
				continue
			}
			_, err := c.loc.Client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &c.loc.Bucket, Key: u.Key, UploadId: u.UploadId})
			if err != nil && !isNotFound(err) {
				return aborted, fmt.Errorf("cache: aborting the upload of %s: %w", aws.ToString(u.Key), err)
			}
			aborted++
		}
		if !aws.ToBool(out.IsTruncated) {
			return aborted, nil
		}
		in.KeyMarker, in.UploadIdMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
}
