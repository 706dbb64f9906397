package build

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

	"github.com/foreignlayers/fl/pkg/describe"
	"github.com/foreignlayers/fl/pkg/fetch"
	"github.com/foreignlayers/fl/pkg/image"
)

// ErrDigestMismatch is wrapped when a layer's content does not have the
// digest it was pinned to or that a checksum file gives.
var ErrDigestMismatch = errors.New("digest mismatch")

// source is one distinct layer input, read once however many platforms
// use it.
type source struct {
	spec   LayerSpec
	urls   []string
	path   string // a local file, or a directory tarred into blob
	blob   string // the file whose bytes are the layer, for local layers
	expect []expectation
	res    *describe.Result
}

// expectation is someone's word for a layer's digest.
type expectation struct {
	hex string
	who string // "the #sha256 pin", "SHA256SUMS (URL)"
}

func (s *source) key() string {
	if s.path != "" {
		return "path:" + s.path
	}
	return "url:" + strings.Join(s.urls, "\n")
}

func (s *source) name() string {
	if s.path != "" {
		return s.path
	}
	return s.urls[0]
}

// historyName is the source as the image's history records it: a URL,
// or a local path as it was given, never made absolute, so that the same
// content built from another directory gives the same config.
func (s *source) historyName() string {
	if s.path != "" {
		return s.spec.Path
	}
	return s.urls[0]
}

// resolveLayers reads every distinct layer once, concurrently, and returns
// the new layers of each platform in order.
func (b *Builder) resolveLayers(ctx context.Context, s *Spec, sums []*checksumSet) ([][]image.Layer, error) {
	bySource := map[string]*source{}
	var order []*source
	refs := make([][]*source, len(s.Platforms))
	for i, p := range s.Platforms {
		for _, l := range p.Layers {
			src, err := newSource(l)
			if err != nil {
				return nil, err
			}
			if have, ok := bySource[src.key()]; ok {
				src = have
			} else {
				bySource[src.key()] = src
				order = append(order, src)
			}
			refs[i] = append(refs[i], src)
		}
	}
	urlLayers := 0
	for _, src := range order {
		if src.path == "" {
			urlLayers++
		}
	}
	for _, src := range order {
		listed, err := src.expectChecksums(sums, urlLayers)
		if err != nil {
			return nil, err
		}
		if listed || len(sums) == 0 || src.path != "" || len(src.expect) > 0 {
			continue
		}
		nl := src.notListed(sums)
		if !s.ChecksumsOptional {
			return nil, nl
		}
		b.Logger.WarnContext(ctx, "layer not checked: --checksums-optional", "layer", src.name(), "err", nl)
	}

	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(b.Jobs, 1))
	for _, src := range order {
		g.Go(func() error { return b.read(gctx, src) })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}

	out := make([][]image.Layer, len(s.Platforms))
	for i := range s.Platforms {
		for _, src := range refs[i] {
			l, err := src.layer(s)
			if err != nil {
				return nil, err
			}
			out[i] = append(out[i], l)
		}
	}
	return out, nil
}

func newSource(l LayerSpec) (*source, error) {
	urls, pin, err := l.sources()
	if err != nil {
		return nil, err
	}
	src := &source{spec: l, urls: urls}
	if pin != "" {
		src.expect = append(src.expect, expectation{hex: pin, who: "the pinned #sha256"})
	}
	if l.Path != "" {
		abs, err := filepath.Abs(l.Path)
		if err != nil {
			return nil, fmt.Errorf("%w: layer path %q: %v", ErrSpec, l.Path, err)
		}
		if _, err := os.Stat(abs); err != nil {
			return nil, fmt.Errorf("%w: layer %q is not a URL, and as a local path: %v", ErrSpec, l.Path, err)
		}
		src.path = abs
	}
	return src, nil
}

// read describes the source: downloads a URL, reads a file, or tars a
// directory first.
func (b *Builder) read(ctx context.Context, src *source) error {
	var err error
	if src.path != "" {
		src.res, src.blob, err = b.readLocal(ctx, src.path)
	} else {
		src.res, err = b.readURLs(ctx, src.urls)
	}
	if err != nil {
		return err
	}
	return src.check()
}

// readURLs reads the first mirror that answers; a mirror that fails part
// way, after its own retries, hands over to the next.
func (b *Builder) readURLs(ctx context.Context, urls []string) (*describe.Result, error) {
	var errs []error
	for i, u := range urls {
		body, err := b.Fetch.Open(ctx, u)
		if err != nil {
			errs = append(errs, err)
			if i+1 < len(urls) {
				b.Logger.WarnContext(ctx, "cannot read layer URL, trying the next mirror", "url", u, "err", err)
			}
			continue
		}
		bar := b.Progress.Start(u, body.Size())
		res, err := describe.Reader(ctx, bar.Wrap(body))
		bar.Done(err)
		_ = body.Close()
		if err == nil {
			b.Logger.InfoContext(ctx, "read layer", "url", u, "digest", res.Digest, "size", res.Size, "diff_id", res.DiffID, "compression", res.Compression)
			return res, nil
		}
		var fe *fetch.Error
		if !errors.As(err, &fe) || ctx.Err() != nil {
			// Bad content is bad from every mirror: the digest is the same.
			return nil, fmt.Errorf("layer %s: %w", u, err)
		}
		errs = append(errs, err)
		if i+1 < len(urls) {
			b.Logger.WarnContext(ctx, "layer URL failed part way, trying the next mirror", "url", u, "err", err)
		}
	}
	return nil, fmt.Errorf("layer %s: %w", urls[0], errors.Join(errs...))
}

// check compares the digest read with every expectation.
func (s *source) check() error {
	for _, e := range s.expect {
		if e.hex != s.res.Digest.Hex {
			return fmt.Errorf("layer %s: %w: %s says sha256:%s, the content read is %s", s.name(), ErrDigestMismatch, e.who, e.hex, s.res.Digest)
		}
	}
	return nil
}

// layer is the image layer for this source in the build's format.
func (s *source) layer(spec *Spec) (image.Layer, error) {
	foreign := s.path == ""
	mt, err := spec.Format.LayerType(s.res.Compression, foreign, spec.Nondistributable)
	if err != nil {
		return image.Layer{}, fmt.Errorf("layer %s: %w", s.name(), err)
	}
	l := image.Layer{
		Descriptor: v1.Descriptor{MediaType: mt, Size: s.res.Size, Digest: s.res.Digest},
		DiffID:     s.res.DiffID,
		Source:     s.historyName(),
	}
	if foreign {
		l.Descriptor.URLs = s.urls
		return l, nil
	}
	l.Blob, err = image.FileBlob(s.blob, l.Descriptor, l.DiffID)
	return l, err
}
