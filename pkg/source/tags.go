package source

import (
	"context"
	"fmt"
	"sort"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Tags lists every tag of a registry repository, sorted.
func Tags(ctx context.Context, repo name.Repository, opts []remote.Option) ([]string, error) {
	tags, err := remote.List(repo, append([]remote.Option{remote.WithContext(ctx)}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("listing the tags of %s: %w", repo, err)
	}
	if len(tags) == 0 {
		return nil, fmt.Errorf("%s has no tags", repo)
	}
	sort.Strings(tags)
	return tags, nil
}
