package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
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
// It reports whether any checksum file gave a digest for the layer.
func (s *source) expectChecksums(sets []*checksumSet, urlLayers int) (listed bool, err error) {
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
			return false, fmt.Errorf("%w: %s holds one bare hash and no file name, and its own name does not say which of the %d URL layers it is for: name it LAYERFILE.sha256, or pin the layer with URL#sha256=HEX", ErrSpec, set.file.Source, urlLayers)
		default:
			continue
		}
		for _, e := range s.expect {
			if e.hex != hex {
				return false, fmt.Errorf("layer %s: %w: %s says sha256:%s, but %s says sha256:%s", s.name(), ErrDigestMismatch, e.who, e.hex, who, hex)
			}
		}
		s.expect = append(s.expect, expectation{hex: hex, who: who})
		listed = true
	}
	return listed, nil
}

// ErrNotListed is wrapped when no checksum file lists a layer that is
// not pinned either: a wrong checksum file must not turn checking off.
var ErrNotListed = errors.New("no checksum file lists the layer")

// notListed explains which name was looked up, and a few names the
// checksum files do list.
func (s *source) notListed(sets []*checksumSet) error {
	var sources, names []string
	for _, set := range sets {
		sources = append(sources, set.file.Source)
		for n := range set.file.ByName {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	more := ""
	if len(names) > 5 {
		more = fmt.Sprintf(", and %d more", len(names)-5)
		names = names[:5]
	}
	listed := "no file names at all"
	if len(names) > 0 {
		quoted := make([]string, len(names))
		for i, n := range names {
			quoted[i] = strconv.Quote(n)
		}
		listed = "names such as " + strings.Join(quoted, ", ") + more
	}
	return fmt.Errorf("layer %s: %w: fl looked up %q in %s, which %s %s. Check the --checksums URL, pin the layer with URL#sha256=HEX, or accept it unchecked with --checksums-optional",
		s.name(), ErrNotListed, s.fileName(), strings.Join(sources, " and "), plural(len(sources), "lists", "list"), listed)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
