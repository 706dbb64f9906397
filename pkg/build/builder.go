package build

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/foreignlayers/fl/pkg/fetch"
	"github.com/foreignlayers/fl/pkg/image"
	"github.com/foreignlayers/fl/pkg/progress"
)

// Builder builds images. Fetch and TempDir are required.
type Builder struct {
	Fetch    *fetch.Client
	Remote   []remote.Option // for reading base images: auth, transport
	NameOpts []name.Option   // for parsing base references
	Progress *progress.Reporter
	Logger   *slog.Logger
	// TempDir holds tarred directories until they are published; the
	// caller removes it.
	TempDir string
	// Created is the time written into configs and history.
	Created time.Time
	// Jobs bounds how many layers are read at once.
	Jobs int
}

// Build reads, checks and composes everything s describes. It returns an
// error, and nothing to publish, if any layer fails its checks.
func (b *Builder) Build(ctx context.Context, s *Spec) (*image.Artifact, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if b.Logger == nil {
		b.Logger = slog.New(slog.DiscardHandler)
	}
	sums, err := b.loadChecksums(ctx, s.Checksums)
	if err != nil {
		return nil, err
	}
	layers, err := b.resolveLayers(ctx, s, sums)
	if err != nil {
		return nil, err
	}
	var ms []*image.Manifest
	for i, p := range s.Platforms {
		m, err := b.buildPlatform(ctx, s, p, layers[i])
		if err != nil {
			return nil, err
		}
		ms = append(ms, m)
	}
	return image.NewArtifact(s.Format, ms, s.Annotations)
}

func (b *Builder) buildPlatform(ctx context.Context, s *Spec, p PlatformSpec, added []image.Layer) (*image.Manifest, error) {
	var want *v1.Platform
	if p.Platform != "" {
		var err error
		if want, err = v1.ParsePlatform(p.Platform); err != nil {
			return nil, fmt.Errorf("%w: platform %q: %v", ErrSpec, p.Platform, err)
		}
	}
	base, err := b.loadBase(ctx, s, p.Base, want)
	if err != nil {
		return nil, err
	}
	cfg := composeConfig(base.config, want, p, added, b.Created)
	all := append(base.layers, added...)
	return image.NewManifest(s.Format, cfg, all, s.Annotations)
}
