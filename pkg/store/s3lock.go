package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Record locks. versitygw v1.8.0 lets two writers win one If-Match race
// now and then (about 1 round in 10 of 32 writers, seen), while its
// If-None-Match: * creates stay atomic (CheckConditionalWrites). Every
// read-modify-write of a record is therefore done holding KEY.lock, an
// object created with If-None-Match: * and deleted after; the If-Match
// on the write stays, for stores where it is atomic. A lock its holder
// left (a crash) is broken once the S3 server's clock says it is older
// than lockStale.
const (
	lockStale = 30 * time.Second
	lockWait  = 20 * time.Second // at most, to take a lock
)

// lock takes the lock of key and returns its release.
func (l S3Location) lock(ctx context.Context, key string) (func(), error) {
	lockKey := key + ".lock"
	var token [16]byte
	_, _ = rand.Read(token[:])
	deadline := time.Now().Add(lockWait)
	for attempt := 0; ; attempt++ {
		_, err := l.Client.PutObject(ctx, &s3.PutObjectInput{
			Bucket: &l.Bucket, Key: &lockKey, Body: bytes.NewReader(token[:]), ContentLength: aws.Int64(int64(len(token))),
			IfNoneMatch: aws.String("*"),
		})
		if err == nil {
			return func() { _ = l.delete(context.WithoutCancel(ctx), lockKey) }, nil
		}
		if !isPreconditionFailed(err) {
			return nil, fmt.Errorf("s3: locking %s: %w", key, err)
		}
		if l.breakStale(ctx, lockKey) {
			continue
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("s3: %s stayed locked for %s: %w", key, lockWait, errLostRace)
		}
		if err := casBackoff(ctx, min(attempt, 3)); err != nil {
			return nil, err
		}
	}
}

// breakStale deletes the lock lockKey if the server's clock says it is
// stale; it reports whether it did.
func (l S3Location) breakStale(ctx context.Context, lockKey string) bool {
	head, err := l.Client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &l.Bucket, Key: &lockKey})
	if err != nil {
		return isNotFound(err) // released meanwhile: try again at once
	}
	now, ok := awsmiddleware.GetServerTime(head.ResultMetadata) // the Date header
	if !ok {
		now = time.Now()
	}
	if now.Sub(aws.ToTime(head.LastModified)) < lockStale {
		return false
	}
	// Only the lock seen: another breaker may have replaced it already.
	_, err = l.Client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &l.Bucket, Key: &lockKey, IfMatch: head.ETag})
	return err == nil || isNotFound(err)
}
