package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// FSIndex is an Index kept in memory and written through to one JSON file
// per repository and digest under a directory, so it survives restarts.
type FSIndex struct {
	dir string
	mu  sync.RWMutex
	m   map[string]map[v1.Hash]v1.Descriptor
}

var _ Index = (*FSIndex)(nil)

// OpenFSIndex loads the index under dir, creating dir if need be.
func OpenFSIndex(dir string) (*FSIndex, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	x := &FSIndex{dir: dir, m: map[string]map[v1.Hash]v1.Descriptor{}}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var e entry
		if err := json.Unmarshal(b, &e); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		x.put(e.Repo, e.Descriptor)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("loading index from %s: %w", dir, err)
	}
	return x, nil
}

type entry struct {
	Repo       string        `json:"repository"`
	Descriptor v1.Descriptor `json:"descriptor"`
}

func (x *FSIndex) put(repo string, d v1.Descriptor) {
	if x.m[repo] == nil {
		x.m[repo] = map[v1.Hash]v1.Descriptor{}
	}
	x.m[repo][d.Digest] = d
}

// Record implements Index.
func (x *FSIndex) Record(_ context.Context, repo string, descs []v1.Descriptor) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, d := range descs {
		have, ok := x.m[repo][d.Digest]
		merged := merge(have, d, ok)
		if ok && slices.Equal(merged.URLs, have.URLs) && merged.MediaType == have.MediaType && merged.Size == have.Size {
			continue
		}
		if err := x.write(repo, merged); err != nil {
			return err
		}
		x.put(repo, merged)
	}
	return nil
}

func merge(have, d v1.Descriptor, ok bool) v1.Descriptor {
	out := v1.Descriptor{MediaType: d.MediaType, Size: d.Size, Digest: d.Digest, URLs: slices.Clone(d.URLs)}
	if !ok {
		return out
	}
	out.URLs = slices.Clone(have.URLs)
	for _, u := range d.URLs {
		if !slices.Contains(out.URLs, u) {
			out.URLs = append(out.URLs, u)
		}
	}
	return out
}

func (x *FSIndex) path(repo string, digest v1.Hash) string {
	return filepath.Join(x.dir, filepath.FromSlash(repo), digest.Algorithm, digest.Hex+".json")
}

func (x *FSIndex) write(repo string, d v1.Descriptor) error {
	b, err := json.Marshal(entry{Repo: repo, Descriptor: d})
	if err != nil {
		return err
	}
	p := x.path(repo, d.Digest)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("index: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return fmt.Errorf("index: %w", err)
	}
	_, werr := tmp.Write(b)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("index: %w", err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("index: %w", err)
	}
	return nil
}

// Lookup implements Index.
func (x *FSIndex) Lookup(_ context.Context, repo string, digest v1.Hash) (v1.Descriptor, error) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	d, ok := x.m[repo][digest]
	if !ok {
		return v1.Descriptor{}, ErrNotFound
	}
	d.URLs = slices.Clone(d.URLs)
	return d, nil
}
