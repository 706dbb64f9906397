package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/foreignlayers/fl/pkg/name"
)

// The strip-urls views of a repository's manifests, both ways:
//
//	DIR/_v1/REPO/_views/ALG/HEX.json     a view digest: the manifest it is the view of
//	DIR/_v1/REPO/_stripped/ALG/HEX.json  a manifest: its view's digest and size
//
// A manifest that is its own view (no urls) has only the second.

// viewKey names a remembered view lookup: which way, repo, digest.
type viewKey struct {
	stripped bool // ViewOf (true) or OriginalOf
	repo     string
	digest   v1.Hash
}

// viewResult is a remembered view lookup; found false for none.
type viewResult struct {
	desc  v1.Descriptor
	found bool
}

type viewRecord struct {
	Original v1.Hash `json:"original"`
}

type strippedRecord struct {
	View v1.Descriptor `json:"view"`
}

func (x *FSIndex) viewPath(repo name.Repository, d v1.Hash) string {
	return filepath.Join(x.repoDir(repo), "_views", d.Algorithm, d.Hex+".json")
}

func (x *FSIndex) strippedPath(repo name.Repository, d v1.Hash) string {
	return filepath.Join(x.repoDir(repo), "_stripped", d.Algorithm, d.Hex+".json")
}

// RecordView implements Index.
func (x *FSIndex) RecordView(_ context.Context, repo name.Repository, original v1.Hash, view v1.Descriptor) error {
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
	var back viewRecord
	if ok, err := readJSON(x.strippedPath(repo, original), &have); err != nil {
		return err
	} else if ok && have.View.Digest == view.Digest && have.View.Size == view.Size {
		// Recorded; the way back may be gone with another manifest that
		// had the same view.
		if found, err := readJSON(x.viewPath(repo, view.Digest), &back); err != nil || found || view.Digest == original {
			return err
		}
	}
	x.views.Delete(viewKey{false, repo.String(), view.Digest})
	x.views.Delete(viewKey{true, repo.String(), original})
	if view.Digest != original {
		if err := x.writeJSON(x.viewPath(repo, view.Digest), viewRecord{Original: original}); err != nil {
			return err
		}
	}
	if err := x.writeJSON(x.strippedPath(repo, original), strippedRecord{View: v1.Descriptor{Digest: view.Digest, Size: view.Size}}); err != nil {
		return err
	}
	return x.durable()
}

// ViewOf implements Index.
func (x *FSIndex) ViewOf(_ context.Context, repo name.Repository, original v1.Hash) (v1.Descriptor, error) {
	if err := x.checkArgs(repo, original); err != nil {
		return v1.Descriptor{}, errors.Join(ErrNotFound, err)
	}
	k := viewKey{true, repo.String(), original}
	r, hit := x.views.Get(k)
	if !hit {
		mu := x.lock(repo)
		mu.RLock()
		var rec strippedRecord
		ok, err := readJSON(x.strippedPath(repo, original), &rec)
		mu.RUnlock()
		if err != nil {
			return v1.Descriptor{}, err
		}
		r = viewResult{desc: rec.View, found: ok && checkDigest(rec.View.Digest) == nil}
		x.views.Put(k, r)
	}
	if !r.found {
		return v1.Descriptor{}, fmt.Errorf("index: view of %s in %s: %w", original, repo, ErrNotFound)
	}
	return r.desc, nil
}

// OriginalOf implements Index.
func (x *FSIndex) OriginalOf(_ context.Context, repo name.Repository, view v1.Hash) (v1.Hash, error) {
	if err := x.checkArgs(repo, view); err != nil {
		return v1.Hash{}, errors.Join(ErrNotFound, err)
	}
	k := viewKey{false, repo.String(), view}
	r, hit := x.views.Get(k)
	if !hit {
		mu := x.lock(repo)
		mu.RLock()
		var rec viewRecord
		ok, err := readJSON(x.viewPath(repo, view), &rec)
		mu.RUnlock()
		if err != nil {
			return v1.Hash{}, err
		}
		r = viewResult{desc: v1.Descriptor{Digest: rec.Original}, found: ok && checkDigest(rec.Original) == nil}
		x.views.Put(k, r)
	}
	if !r.found {
		return v1.Hash{}, fmt.Errorf("index: manifest with view %s in %s: %w", view, repo, ErrNotFound)
	}
	return r.desc.Digest, nil
}

// forgetViewLocked drops the view records of manifest.
func (x *FSIndex) forgetViewLocked(repo name.Repository, manifest v1.Hash) error {
	var rec strippedRecord
	ok, err := readJSON(x.strippedPath(repo, manifest), &rec)
	if err != nil || !ok {
		return err
	}
	x.views.Delete(viewKey{true, repo.String(), manifest})
	if checkDigest(rec.View.Digest) == nil && rec.View.Digest != manifest {
		// The way back goes only if it leads here: other manifests may
		// share the view (the same image pushed with other URLs).
		var back viewRecord
		if ok, err := readJSON(x.viewPath(repo, rec.View.Digest), &back); err != nil {
			return err
		} else if ok && back.Original == manifest {
			x.views.Delete(viewKey{false, repo.String(), rec.View.Digest})
			if err := removeRecord(x.viewPath(repo, rec.View.Digest)); err != nil {
				return err
			}
		}
	}
	return removeRecord(x.strippedPath(repo, manifest))
}
