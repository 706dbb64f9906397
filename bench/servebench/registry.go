package main

import (
	"fmt"
	"io"
	"os"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// pushBlob uploads a file as an ordinary blob to repo.
func pushBlob(repo, path string) error {
	r, err := name.NewRepository(repo)
	if err != nil {
		return err
	}
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return os.Open(path) })
	if err != nil {
		return err
	}
	if err := remote.WriteLayer(r, l); err != nil {
		return fmt.Errorf("pushing %s to %s: %w", path, repo, err)
	}
	return nil
}
