package build

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/foreignlayers/fl/pkg/checksum"
)

// checksumSet is one published checksum file.
type checksumSet struct {
	file *checksum.File
	base string // the checksum file's own base name, e.g. "x.tar.gz.sha256"
}

func (b *Builder) loadChecksums(ctx context.Context, locations []string) ([]*checksumSet, error) {
	var out []*checksumSet
	for _, loc := range locations {
		var (
			rc   io.ReadCloser
			base string
			err  error
		)
		if strings.Contains(loc, "://") {
			rc, err = b.Fetch.Open(ctx, loc)
			if u, perr := url.Parse(loc); perr == nil {
				base = path.Base(u.Path)
			}
		} else {
			rc, err = os.Open(loc)
			base = filepath.Base(loc)
		}
		if err != nil {
			return nil, fmt.Errorf("reading checksum file: %w", err)
		}
		f, err := checksum.Parse(loc, rc)
		_ = rc.Close()
		if err != nil {
			return nil, err
		}
		out = append(out, &checksumSet{file: f, base: base})
	}
	return out, nil
}

// fileName is the name a checksum file would list this layer under.
func (s *source) fileName() string {
	if s.path != "" {
		return filepath.Base(s.path)
	}
	u, err := url.Parse(s.urls[0])
	if err != nil {
		return ""
	}
	return path.Base(u.Path)
}

// expectChecksums records what each checksum file says of this layer, and
// fails at once if two sources of truth disagree, before any download.
// urlLayers is how many URL layers the build has: a bare hash with no
// file name applies to the only one.
func (s *source) expectChecksums(sets []*checksumSet, urlLayers int) error {
	name := s.fileName()
	for _, set := range sets {
		who := "checksum file " + set.file.Source
		hex, ok := set.file.Lookup(name)
		switch {
		case ok:
		case set.file.Bare != "" && (set.base == name+".sha256" || set.base == name+".sha256sum"):
			hex = set.file.Bare
		case set.file.Bare != "" && urlLayers == 1 && s.path == "":
			hex = set.file.Bare
		case set.file.Bare != "" && urlLayers > 1:
			return fmt.Errorf("%w: %s holds one bare hash and no file name, and its own name does not say which of the %d URL layers it is for: name it LAYERFILE.sha256, or pin the layer with URL#sha256=HEX", ErrSpec, set.file.Source, urlLayers)
		default:
			continue
		}
		for _, e := range s.expect {
			if e.hex != hex {
				return fmt.Errorf("layer %s: %w: %s says sha256:%s, but %s says sha256:%s", s.name(), ErrDigestMismatch, e.who, e.hex, who, hex)
			}
		}
		s.expect = append(s.expect, expectation{hex: hex, who: who})
	}
	return nil
}
