package mirror

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/foreignlayers/fl/pkg/fetch"
	"github.com/foreignlayers/fl/pkg/progress"
)

// ErrMismatch is wrapped when downloaded content is not what the
// descriptor says.
var ErrMismatch = errors.New("content does not match the descriptor")

// Fetcher downloads foreign layers.
type Fetcher struct {
	Client *fetch.Client
	// Local, if set, is looked in first: an OCI layout that carries the
	// blob (one made with --materialize). It returns an error wrapping
	// fs.ErrNotExist when it does not have it.
	Local func(v1.Hash) (io.ReadCloser, error)
	// Registry, if set, is asked for the blob before the URLs: a registry
	// such as fl serve may have it.
	Registry *name.Repository
	Remote   []remote.Option
	Progress *progress.Reporter
	Logger   *slog.Logger
}

// Layer returns a layer whose content is downloaded, and verified, when
// read.
func (f *Fetcher) Layer(ctx context.Context, desc v1.Descriptor, diffID v1.Hash) (v1.Layer, error) {
	return partial.CompressedToLayer(&fetched{ctx: ctx, f: f, desc: desc, diffID: diffID})
}

type fetched struct {
	ctx    context.Context
	f      *Fetcher
	desc   v1.Descriptor
	diffID v1.Hash
}

var _ partial.CompressedLayer = (*fetched)(nil)

func (l *fetched) Digest() (v1.Hash, error)            { return l.desc.Digest, nil }
func (l *fetched) Size() (int64, error)                { return l.desc.Size, nil }
func (l *fetched) MediaType() (types.MediaType, error) { return l.desc.MediaType, nil }
func (l *fetched) DiffID() (v1.Hash, error) {
	if l.diffID.Hex == "" {
		return v1.Hash{}, errors.New("diff_id unknown")
	}
	return l.diffID, nil
}

// Compressed opens the first source that has the blob. The reader fails
// at the end, instead of returning io.EOF, if the size or digest is wrong.
func (l *fetched) Compressed() (io.ReadCloser, error) {
	var errs []error
	if l.f.Local != nil {
		rc, err := l.f.Local(l.desc.Digest)
		if err == nil {
			return l.verify(rc, "the source layout"), nil
		}
		errs = append(errs, err)
	}
	if l.f.Registry != nil {
		rc, err := l.fromRegistry()
		if err == nil {
			return l.verify(rc, l.f.Registry.String()), nil
		}
		errs = append(errs, fmt.Errorf("registry %s: %w", l.f.Registry, err))
	}
	if len(l.desc.URLs) == 0 {
		return nil, fmt.Errorf("layer %s: no source has it: %w", l.desc.Digest, errors.Join(errs...))
	}
	body, err := l.f.Client.OpenAny(l.ctx, l.desc.URLs)
	if err != nil {
		return nil, fmt.Errorf("layer %s: %w", l.desc.Digest, errors.Join(append(errs, err)...))
	}
	return l.verify(body, body.URL()), nil
}

func (l *fetched) fromRegistry() (io.ReadCloser, error) {
	ref := l.f.Registry.Digest(l.desc.Digest.String())
	rl, err := remote.Layer(ref, append([]remote.Option{remote.WithContext(l.ctx)}, l.f.Remote...)...)
	if err != nil {
		return nil, err
	}
	return rl.Compressed()
}

func (l *fetched) verify(rc io.ReadCloser, from string) io.ReadCloser {
	bar := l.f.Progress.Start(l.desc.Digest.String()[:19], l.desc.Size)
	return &verifier{rc: rc, r: bar.Wrap(rc), bar: bar, desc: l.desc, h: sha256.New(), from: from}
}

// verifier checks size and digest as the bytes stream.
type verifier struct {
	rc   io.ReadCloser
	r    io.Reader
	bar  *progress.Bar
	desc v1.Descriptor
	h    hash.Hash
	n    int64
	from string
	done bool
}

func (v *verifier) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	v.n += int64(n)
	v.h.Write(p[:n])
	if v.n > v.desc.Size {
		return n, v.fail(fmt.Errorf("%w: %s sent more than the %d bytes of %s", ErrMismatch, v.from, v.desc.Size, v.desc.Digest))
	}
	if err != nil && err != io.EOF {
		return n, v.fail(err)
	}
	if err == io.EOF {
		if v.n != v.desc.Size {
			return n, v.fail(fmt.Errorf("%w: %s sent %d bytes of %s, the descriptor says %d", ErrMismatch, v.from, v.n, v.desc.Digest, v.desc.Size))
		}
		if got := "sha256:" + hex.EncodeToString(v.h.Sum(nil)); got != v.desc.Digest.String() {
			return n, v.fail(fmt.Errorf("%w: %s sent content with digest %s, the descriptor says %s", ErrMismatch, v.from, got, v.desc.Digest))
		}
		if !v.done {
			v.done = true
			v.bar.Done(nil)
		}
	}
	return n, err
}

func (v *verifier) fail(err error) error {
	if !v.done {
		v.done = true
		v.bar.Done(err)
	}
	return err
}

// Close ends the bar of a stream left part way.
func (v *verifier) Close() error {
	if !v.done {
		v.done = true
		v.bar.Done(errors.New("closed before the end"))
	}
	return v.rc.Close()
}
