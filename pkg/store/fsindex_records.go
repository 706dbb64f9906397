package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/foreignlayers/fl/pkg/name"
)

// layerRecord is what a repository knows of one digest: its media type
// and size, and per manifest that declared it, the URLs it declared, in
// the order the manifests were recorded.
type layerRecord struct {
	MediaType types.MediaType `json:"mediaType"`
	Size      int64           `json:"size"`
	Digest    v1.Hash         `json:"digest"`
	Manifests []declaration   `json:"manifests"`
}

type declaration struct {
	Manifest v1.Hash  `json:"manifest"`
	URLs     []string `json:"urls"`
}

// manifestRecord lists the digests a manifest declared, so that Forget
// knows which layer records to visit.
type manifestRecord struct {
	Layers []v1.Hash `json:"layers"`
}

// descriptor merges the declarations: the union of their URLs, in the
// order first seen.
func (r *layerRecord) descriptor() v1.Descriptor {
	d := v1.Descriptor{MediaType: r.MediaType, Size: r.Size, Digest: r.Digest}
	for _, m := range r.Manifests {
		d.URLs = appendNew(d.URLs, m.URLs...)
	}
	return d
}

// declare adds (or extends) manifest's declaration; it reports whether
// anything changed.
func (r *layerRecord) declare(manifest v1.Hash, urls []string) bool {
	for i := range r.Manifests {
		if r.Manifests[i].Manifest == manifest {
			n := len(r.Manifests[i].URLs)
			r.Manifests[i].URLs = appendNew(r.Manifests[i].URLs, urls...)
			return len(r.Manifests[i].URLs) != n
		}
	}
	r.Manifests = append(r.Manifests, declaration{Manifest: manifest, URLs: appendNew(nil, urls...)})
	return true
}

// undeclare drops manifest's declaration; it reports whether it had one.
func (r *layerRecord) undeclare(manifest v1.Hash) bool {
	n := len(r.Manifests)
	r.Manifests = slices.DeleteFunc(r.Manifests, func(d declaration) bool { return d.Manifest == manifest })
	return len(r.Manifests) != n
}

// appendNew appends the elements of add that dst does not hold yet.
func appendNew[T comparable](dst []T, add ...T) []T {
	for _, a := range add {
		if !slices.Contains(dst, a) {
			dst = append(dst, a)
		}
	}
	return dst
}

// readLayer returns the record of digest in repo, or nil if there is none.
func (x *FSIndex) readLayer(repo name.Repository, digest v1.Hash) (*layerRecord, error) {
	var rec layerRecord
	ok, err := readJSON(x.layerPath(repo, digest), &rec)
	if err != nil || !ok {
		return nil, err
	}
	if rec.Digest != digest {
		return nil, fmt.Errorf("index: %s holds %s", x.layerPath(repo, digest), rec.Digest)
	}
	return &rec, nil
}

// readManifest returns the record of manifest in repo, or nil. Its
// digests are checked: they become paths.
func (x *FSIndex) readManifest(repo name.Repository, manifest v1.Hash) (*manifestRecord, error) {
	var rec manifestRecord
	p := x.manifestPath(repo, manifest)
	ok, err := readJSON(p, &rec)
	if err != nil || !ok {
		return nil, err
	}
	for _, d := range rec.Layers {
		if err := checkDigest(d); err != nil {
			return nil, fmt.Errorf("index: %s: %w", p, err)
		}
	}
	return &rec, nil
}

func readJSON(path string, v any) (bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("index: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		// Torn by a power loss between a write and its sync: read as
		// absent. The next PUT or GET of a manifest that declares it
		// writes it again.
		return false, nil
	}
	return true, nil
}

func (x *FSIndex) writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("index: %w", err)
	}
	if err := writeFileAtomic(x.tmpDir(), path, b, false); err != nil {
		return fmt.Errorf("index: %w", err)
	}
	return nil
}

// removeRecord deletes a record file and, if it was the last of its
// algorithm, the directory that held it. Only the holder of the
// repository's lock creates files there.
func removeRecord(path string) error {
	if err := removeIfExists(path); err != nil {
		return fmt.Errorf("index: %w", err)
	}
	_ = os.Remove(filepath.Dir(path)) // fails while not empty
	return nil
}

// durable makes every write before it durable, once per operation.
func (x *FSIndex) durable() error {
	if err := syncFS(x.dir); err != nil {
		return fmt.Errorf("index: syncing %s: %w", x.dir, err)
	}
	return nil
}
