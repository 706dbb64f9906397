package store_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/foreignlayers/fl/pkg/name"

	"github.com/foreignlayers/fl/internal/testutil"
	"github.com/foreignlayers/fl/pkg/store"
	"github.com/foreignlayers/fl/pkg/store/storetest"
)

// s3Location is a new bucket of srv, under a prefix.
func s3Location(t *testing.T, srv *testutil.S3Server) store.S3Location {
	t.Helper()
	return store.S3Location{Client: srv.Client(), Bucket: srv.Bucket(t), Prefix: "fl/"}
}

// TestS3Index runs the Index suite on versitygw: each test in a bucket
// of its own; reopening makes a new index over the same objects.
func TestS3Index(t *testing.T) {
	t.Parallel()
	srv := testutil.Versitygw(t)
	storetest.TestIndex(t, func(t *testing.T) (store.Index, func(*testing.T) store.Index) {
		loc := s3Location(t, srv)
		return newS3Index(t, loc), func(t *testing.T) store.Index { return newS3Index(t, loc) }
	})
}

func newS3Index(t *testing.T, loc store.S3Location) *store.S3Index {
	t.Helper()
	x, err := store.NewS3Index(loc, store.S3IndexOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// listKeys lists every key of loc's bucket.
func listKeys(t *testing.T, loc store.S3Location) []string {
	t.Helper()
	var keys []string
	p := s3.NewListObjectsV2Paginator(loc.Client, &s3.ListObjectsV2Input{Bucket: &loc.Bucket})
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range out.Contents {
			keys = append(keys, *o.Key)
		}
	}
	return keys
}

// TestS3IndexReplicas: indexes over one bucket (replicas, whose writes
// only the conditional writes order) record and forget manifests that
// share a layer at once; no declaration is lost.
func TestS3IndexReplicas(t *testing.T) {
	t.Parallel()
	srv := testutil.Versitygw(t)
	loc := s3Location(t, srv)
	ctx := context.Background()
	repo := name.MustRepository("lib/shared")
	const replicas = 6
	layer := func(url string) v1.Descriptor {
		return v1.Descriptor{MediaType: types.DockerForeignLayer, Size: 5, Digest: sha256Of("layer"), URLs: []string{url}}
	}
	var wg sync.WaitGroup
	for i := range replicas {
		x := newS3Index(t, loc)
		wg.Go(func() {
			m := sha256Of(fmt.Sprint("manifest ", i))
			for round := range 3 {
				if err := x.Record(ctx, repo, m, []v1.Descriptor{layer(fmt.Sprintf("https://r%d/%d", i, round))}); err != nil {
					t.Error(err)
					return
				}
			}
			if i%2 == 1 {
				if err := x.Forget(ctx, repo, m); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	got, err := newS3Index(t, loc).LookupFresh(ctx, repo, sha256Of("layer"))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := 0; i < replicas; i += 2 {
		for round := range 3 {
			want = append(want, fmt.Sprintf("https://r%d/%d", i, round))
		}
	}
	slices.Sort(got.URLs)
	if !slices.Equal(got.URLs, want) {
		t.Errorf("URLs = %q, want %q", got.URLs, want)
	}
}

// TestS3Cache runs the Cache suite on versitygw: each test in a bucket of
// its own; reopening makes a new cache over the same objects.
func TestS3Cache(t *testing.T) {
	t.Parallel()
	srv := testutil.Versitygw(t)
	storetest.TestCache(t, func(t *testing.T, o storetest.CacheOptions) (store.Cache, func(*testing.T) store.Cache) {
		loc := s3Location(t, srv)
		so := store.S3CacheOptions{MaxBytes: o.MaxBytes, SpoolDir: t.TempDir()}
		return openS3Cache(t, loc, so), func(t *testing.T) store.Cache { return openS3Cache(t, loc, so) }
	})
}

func openS3Cache(t *testing.T, loc store.S3Location, o store.S3CacheOptions) *store.S3Cache {
	t.Helper()
	c, err := store.OpenS3Cache(context.Background(), loc, o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
