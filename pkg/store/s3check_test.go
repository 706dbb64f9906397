package store_test

import (
	"context"
	"testing"

	"github.com/foreignlayers/fl/internal/testutil"
	"github.com/foreignlayers/fl/pkg/store"
)

// TestCheckConditionalWrites: versitygw v1.8.0's conditional writes are
// atomic, as a replica checks at start before it coordinates through S3.
func TestCheckConditionalWrites(t *testing.T) {
	t.Parallel()
	srv := testutil.Versitygw(t)
	bucket := srv.Bucket(t)
	for range 3 {
		if err := store.CheckConditionalWrites(context.Background(), srv.Client(), bucket, "fl"); err != nil {
			t.Fatal(err)
		}
	}
}
