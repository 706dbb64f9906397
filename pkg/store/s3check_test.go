package store_test

import (
	"context"
	"testing"

	"github.com/foreignlayers/fl/internal/testutil"
	"github.com/foreignlayers/fl/pkg/store"
)

// TestCheckConditionalWrites: versitygw v1.8.0's conditional writes are
// atomic, as a replica checks at start before it coordinates through S3;
// the client is built as fl serve builds it, with credentials from the
// standard AWS chain (here the environment).
func TestCheckConditionalWrites(t *testing.T) {
	srv := testutil.Versitygw(t)
	bucket := srv.Bucket(t)
	srv.Env(t)
	ctx := context.Background()
	loc, err := store.NewS3Location(ctx, store.S3Config{Endpoint: srv.Endpoint, Bucket: bucket, Prefix: "/fl"})
	if err != nil {
		t.Fatal(err)
	}
	if loc.Prefix != "fl/" {
		t.Errorf("prefix %q", loc.Prefix)
	}
	for range 5 {
		if err := store.CheckConditionalWrites(ctx, loc.Client, bucket, loc.Prefix); err != nil {
			t.Fatal(err)
		}
	}
	if keys := listKeys(t, loc); len(keys) != 0 {
		t.Errorf("the check left %q", keys)
	}
	for _, bad := range []store.S3Config{{}, {Bucket: "b", Endpoint: "ftp://x"}, {Bucket: "b", Endpoint: "http://"}} {
		if _, err := store.NewS3Client(ctx, bad); err == nil {
			t.Errorf("NewS3Client(%+v) succeeded", bad)
		}
	}
}
