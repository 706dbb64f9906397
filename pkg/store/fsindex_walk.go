package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/foreignlayers/fl/pkg/name"
)

// IndexRepository is what the index holds for one repository: the
// manifests recorded and the layer digests known, as file names say
// (records are not read).
type IndexRepository struct {
	Repo      name.Repository
	Manifests []v1.Hash
	Layers    []v1.Hash
}

// ErrStop, returned by a Walk callback, ends the walk without an error.
var ErrStop = errors.New("stop walking")

// Walk calls fn for each repository the index holds something for, in
// directory order. It reads directory names only, one repository at a
// time, so its cost is the number of entries and its memory one
// repository's. Names that are not the index's own are skipped.
func (x *FSIndex) Walk(ctx context.Context, fn func(IndexRepository) error) error {
	return WalkFSIndex(ctx, x.dir, fn)
}

// WalkFSIndex is Walk on the index under dir, without opening it: it
// changes nothing, and finds nothing if dir does not exist.
func WalkFSIndex(ctx context.Context, dir string, fn func(IndexRepository) error) error {
	err := walkIndex(ctx, filepath.Join(dir, "_v1"), nil, fn)
	if errors.Is(err, ErrStop) {
		return nil
	}
	return err
}

func walkIndex(ctx context.Context, dir string, comps []string, fn func(IndexRepository) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("index: %w", err)
	}
	var here *IndexRepository
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		switch n := e.Name(); {
		case n == "_layers" || n == "_manifests":
			if len(comps) == 0 {
				continue
			}
			if here == nil {
				repo, err := name.ParseRepository(strings.Join(comps, "/"))
				if err != nil {
					continue
				}
				here = &IndexRepository{Repo: repo}
			}
			digests, err := recordDigests(filepath.Join(dir, n))
			if err != nil {
				return err
			}
			if n == "_layers" {
				here.Layers = digests
			} else {
				here.Manifests = digests
			}
		case strings.HasPrefix(n, "_"):
		default:
			if err := walkIndex(ctx, filepath.Join(dir, n), append(comps[:len(comps):len(comps)], n), fn); err != nil {
				return err
			}
		}
	}
	if here != nil && (len(here.Layers) > 0 || len(here.Manifests) > 0) {
		return fn(*here)
	}
	return nil
}

// recordDigests lists the digests of ALG/HEX.json files under dir.
func recordDigests(dir string) ([]v1.Hash, error) {
	algs, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	var out []v1.Hash
	for _, a := range algs {
		files, err := os.ReadDir(filepath.Join(dir, a.Name()))
		if err != nil {
			continue
		}
		for _, f := range files {
			hex, ok := strings.CutSuffix(f.Name(), ".json")
			d := v1.Hash{Algorithm: a.Name(), Hex: hex}
			if ok && f.Type().IsRegular() && checkDigest(d) == nil {
				out = append(out, d)
			}
		}
	}
	return out, nil
}
