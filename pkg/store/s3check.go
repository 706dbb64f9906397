package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// ErrNotAtomic: the S3 store's conditional writes let more than one
// writer win a race, or none; coordination across replicas cannot rely
// on them.
var ErrNotAtomic = errors.New("conditional writes are not atomic")

// conditionalRacers is how many writers race in CheckConditionalWrites.
const conditionalRacers = 32

// CheckConditionalWrites checks that the store's conditional creates are
// atomic: 32 concurrent creates of one new key with If-None-Match: * must
// give exactly one winner. Leases and record locks (s3lock.go) rely on
// that alone; If-Match is not checked, since versitygw v1.8.0 lets two
// writers win an If-Match race about one round in ten (seen), and fl
// does not rely on it. The key is under PREFIX/check/ and is deleted
// afterwards. Requests are not retried, so that a retry cannot turn a
// winner into a loser.
func CheckConditionalWrites(ctx context.Context, client *s3.Client, bucket, prefix string) error {
	var r [8]byte
	_, _ = rand.Read(r[:])
	key := NormalizePrefix(prefix) + "check/conditional-" + hex.EncodeToString(r[:])
	defer func() {
		_, _ = client.DeleteObject(context.WithoutCancel(ctx), &s3.DeleteObjectInput{Bucket: &bucket, Key: &key})
	}()
	etag, err := race(ctx, client, bucket, key, func(in *s3.PutObjectInput) { in.IfNoneMatch = aws.String("*") })
	if err != nil {
		return fmt.Errorf("s3: %d concurrent creates with If-None-Match: *: %w", conditionalRacers, err)
	}
	if etag == "" {
		return fmt.Errorf("s3: the winning create has no ETag: %w", ErrNotAtomic)
	}
	return nil
}

// race sends conditionalRacers conditional writes of key at once, and
// returns the ETag of the one winner.
func race(ctx context.Context, client *s3.Client, bucket, key string, cond func(*s3.PutObjectInput)) (string, error) {
	var (
		wg            sync.WaitGroup
		mu            sync.Mutex
		winners, lost int
		etag          string
		otherErrs     []error
		start         = make(chan struct{})
	)
	noRetry := func(o *s3.Options) { o.RetryMaxAttempts = 1 }
	for i := range conditionalRacers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := fmt.Appendf(nil, "racer %d", i)
			in := &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: bytes.NewReader(b), ContentLength: aws.Int64(int64(len(b)))}
			cond(in)
			<-start
			out, err := client.PutObject(ctx, in, noRetry)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				winners++
				etag = aws.ToString(out.ETag)
			case isPreconditionFailed(err):
				lost++
			default:
				otherErrs = append(otherErrs, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if len(otherErrs) > 0 {
		return "", fmt.Errorf("%d writers failed otherwise: %w", len(otherErrs), errors.Join(otherErrs...))
	}
	if winners != 1 {
		return "", fmt.Errorf("%d winners and %d losers, want exactly 1 winner: %w", winners, lost, ErrNotAtomic)
	}
	return etag, nil
}
