package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/foreignlayers/fl/pkg/store"
)

// indexConcurrent: goroutines record, look up and forget manifests that
// share a layer; each checks what it alone decides, and the end state is
// known.
func indexConcurrent(t *testing.T, x indexUnderTest) {
	const workers, rounds = 8, 8
	shared := desc("shared")
	url := func(g int) string { return fmt.Sprintf("https://g%d/shared", g) }
	own := func(g int) string { return fmt.Sprintf("own %d", g) }

	var wg sync.WaitGroup
	errs := make(chan error, workers+1)
	stop := make(chan struct{})
	wg.Add(1)
	go func() { // a reader that only looks
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			got, err := x.Lookup(ctx, repoA, shared.Digest)
			if err != nil && !errors.Is(err, store.ErrNotFound) || err == nil && got.Size != shared.Size {
				errs <- fmt.Errorf("reader: %+v, %v", got, err)
				return
			}
		}
	}()
	var writers sync.WaitGroup
	for g := range workers {
		writers.Add(1)
		go func() {
			defer writers.Done()
			m := manifest(100 + g)
			for i := range rounds {
				if err := x.Record(ctx, repoA, m, []v1.Descriptor{desc("shared", url(g)), desc(own(g), url(g))}); err != nil {
					errs <- err
					return
				}
				got, err := x.Lookup(ctx, repoA, shared.Digest)
				if err != nil || !slices.Contains(got.URLs, url(g)) {
					errs <- fmt.Errorf("worker %d: shared layer while its manifest declares it: %+v, %v", g, got, err)
					return
				}
				if last := i == rounds-1; !last && i%2 == 1 || last && g%2 == 1 {
					if err := x.Forget(ctx, repoA, m); err != nil {
						errs <- err
						return
					}
					if _, err := x.Lookup(ctx, repoA, digest(own(g))); !errors.Is(err, store.ErrNotFound) {
						errs <- fmt.Errorf("worker %d: own layer after Forget: %v", g, err)
						return
					}
				}
			}
		}()
	}
	writers.Wait()
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	// Even workers end recorded (their last round does not forget), odd
	// ones forgotten.
	got, err := x.Lookup(ctx, repoA, shared.Digest)
	if err != nil {
		t.Fatal(err)
	}
	for g := range workers {
		if slices.Contains(got.URLs, url(g)) != (g%2 == 0) {
			t.Errorf("shared layer's URLs %q, worker %d", got.URLs, g)
		}
		_, err := x.Lookup(ctx, repoA, digest(own(g)))
		if (err == nil) != (g%2 == 0) {
			t.Errorf("worker %d's own layer: %v", g, err)
		}
	}
	if len(got.URLs) != workers/2 {
		t.Errorf("shared layer's URLs %q", got.URLs)
	}
}
