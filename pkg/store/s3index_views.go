package store

import (
	"context"
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/foreignlayers/fl/pkg/name"
)

// RecordView implements Index. A view is a function of its manifest, so
// replicas that record one at once write the same bytes: the writes need
// no condition.
func (x *S3Index) RecordView(ctx context.Context, repo name.Repository, original v1.Hash, view v1.Descriptor) error {
	if err := x.checkArgs(repo, original); err != nil {
		return err
	}
	if err := checkDigest(view.Digest); err != nil {
		return fmt.Errorf("index: view of %s: %w", original, err)
	}
	mu := x.lock(repo)
	mu.Lock()
	defer mu.Unlock()
	var have strippedRecord
	if etag, err := x.loc.getJSON(ctx, x.key(repo, "_stripped", original), &have); err != nil {
		return wrapIndex(err)
	} else if etag != "" && have.View.Digest == view.Digest && have.View.Size == view.Size {
		return nil
	}
	x.views.Delete(viewKey{false, repo.String(), view.Digest})
	x.views.Delete(viewKey{true, repo.String(), original})
	if view.Digest != original {
		if _, err := x.loc.putJSON(ctx, x.key(repo, "_views", view.Digest), viewRecord{Original: original}, anyEtag); err != nil {
			return wrapIndex(err)
		}
	}
	rec := strippedRecord{View: v1.Descriptor{Digest: view.Digest, Size: view.Size}}
	if _, err := x.loc.putJSON(ctx, x.key(repo, "_stripped", original), rec, anyEtag); err != nil {
		return wrapIndex(err)
	}
	return nil
}

// ViewOf implements Index.
func (x *S3Index) ViewOf(ctx context.Context, repo name.Repository, original v1.Hash) (v1.Descriptor, error) {
	if err := x.checkArgs(repo, original); err != nil {
		return v1.Descriptor{}, errors.Join(ErrNotFound, err)
	}
	r, err := x.view(viewKey{true, repo.String(), original}, func() (v1.Descriptor, bool, error) {
		var rec strippedRecord
		etag, err := x.loc.getJSON(ctx, x.key(repo, "_stripped", original), &rec)
		return rec.View, etag != "" && checkDigest(rec.View.Digest) == nil, err
	})
	if err != nil {
		return v1.Descriptor{}, err
	}
	if !r.found {
		return v1.Descriptor{}, fmt.Errorf("index: view of %s in %s: %w", original, repo, ErrNotFound)
	}
	return r.desc, nil
}

// OriginalOf implements Index.
func (x *S3Index) OriginalOf(ctx context.Context, repo name.Repository, view v1.Hash) (v1.Hash, error) {
	if err := x.checkArgs(repo, view); err != nil {
		return v1.Hash{}, errors.Join(ErrNotFound, err)
	}
	r, err := x.view(viewKey{false, repo.String(), view}, func() (v1.Descriptor, bool, error) {
		var rec viewRecord
		etag, err := x.loc.getJSON(ctx, x.key(repo, "_views", view), &rec)
		return v1.Descriptor{Digest: rec.Original}, etag != "" && checkDigest(rec.Original) == nil, err
	})
	if err != nil {
		return v1.Hash{}, err
	}
	if !r.found {
		return v1.Hash{}, fmt.Errorf("index: manifest with view %s in %s: %w", view, repo, ErrNotFound)
	}
	return r.desc.Digest, nil
}

// view answers a view lookup from memory, or reads it with load.
func (x *S3Index) view(k viewKey, load func() (v1.Descriptor, bool, error)) (viewResult, error) {
	if s, ok := x.views.Get(k); ok && !x.now().After(s.until) {
		return s.r, nil
	}
	d, found, err := load()
	if err != nil {
		return viewResult{}, wrapIndex(err)
	}
	r := viewResult{desc: d, found: found}
	x.views.Put(k, s3Seen[viewResult]{r, x.ttl(found)})
	return r, nil
}

// forgetView drops the view records of manifest; the caller holds the
// repository's lock.
func (x *S3Index) forgetView(ctx context.Context, repo name.Repository, manifest v1.Hash) error {
	var rec strippedRecord
	etag, err := x.loc.getJSON(ctx, x.key(repo, "_stripped", manifest), &rec)
	if err != nil || etag == "" {
		return wrapIndex(err)
	}
	x.views.Delete(viewKey{true, repo.String(), manifest})
	if checkDigest(rec.View.Digest) == nil && rec.View.Digest != manifest {
		x.views.Delete(viewKey{false, repo.String(), rec.View.Digest})
		if err := x.loc.delete(ctx, x.key(repo, "_views", rec.View.Digest)); err != nil {
			return wrapIndex(err)
		}
	}
	return wrapIndex(x.loc.delete(ctx, x.key(repo, "_stripped", manifest)))
}
