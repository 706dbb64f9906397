package mirror

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/foreignlayers/fl/pkg/image"
)

// StripManifest rewrites the bytes of an image manifest so that nothing
// in it lives outside a registry: every descriptor with urls (config or
// layer) loses them, and a layer gets its distributable media type
// (image.Distributable). Every other byte stays where it was, so the
// rewrite is deterministic: `fl copy --strip-urls` and fl serve's
// strip-urls view give the same bytes, and the same digest. A manifest
// without urls comes back unchanged.
func StripManifest(raw []byte) ([]byte, error) {
	if !json.Valid(raw) {
		return nil, errors.New("rewriting manifest: not valid JSON")
	}
	var edits []edit
	s := newScanner(raw)
	err := s.object(func(m *member) (bool, error) {
		switch {
		case is(m.key, "config"):
			es, err := s.descriptor(false, nil)
			edits = append(edits, es...)
			return true, err
		case is(m.key, "layers"):
			es, err := s.descriptors(true, nil)
			edits = append(edits, es...)
			return true, err
		}
		return false, nil
	})
	if err != nil {
		return nil, fmt.Errorf("rewriting manifest: %w", err)
	}
	return splice(raw, edits), nil
}

// RewriteIndex rewrites the bytes of an index so that each entry whose
// digest is in children points at that descriptor's digest and size
// instead (its rewritten manifest), without urls. Every other byte stays.
func RewriteIndex(raw []byte, children map[v1.Hash]v1.Descriptor) ([]byte, error) {
	if !json.Valid(raw) {
		return nil, errors.New("rewriting index: not valid JSON")
	}
	var edits []edit
	s := newScanner(raw)
	err := s.object(func(m *member) (bool, error) {
		if !is(m.key, "manifests") {
			return false, nil
		}
		es, err := s.descriptors(false, children)
		edits = append(edits, es...)
		return true, err
	})
	if err != nil {
		return nil, fmt.Errorf("rewriting index: %w", err)
	}
	return splice(raw, edits), nil
}

// descriptors reads an array of descriptors, editing each.
func (s *scanner) descriptors(layer bool, children map[v1.Hash]v1.Descriptor) ([]edit, error) {
	if t, _ := s.peek(); t == 'n' { // null
		var skip json.RawMessage
		return nil, s.dec.Decode(&skip)
	}
	if err := s.delim('['); err != nil {
		return nil, err
	}
	var edits []edit
	for s.dec.More() {
		es, err := s.descriptor(layer, children)
		if err != nil {
			return nil, err
		}
		edits = append(edits, es...)
	}
	return edits, s.delim(']')
}

// descriptor reads one descriptor object and returns its edits: urls
// removed; a layer's media type made distributable; an index entry in
// children pointed at its rewritten manifest.
func (s *scanner) descriptor(layer bool, children map[v1.Hash]v1.Descriptor) ([]edit, error) {
	if t, _ := s.peek(); t != '{' {
		var skip json.RawMessage
		return nil, s.dec.Decode(&skip) // null, or not a descriptor: the parse refuses it
	}
	var members []*member
	err := s.object(func(m *member) (bool, error) {
		members = append(members, m)
		return true, s.value(m)
	})
	if err != nil {
		return nil, err
	}
	var edits []edit
	// Keys match as encoding/json matches them (case-insensitively, the
	// last one counting), which is how every Go client reads them.
	last := func(key string) *member {
		var found *member
		for _, m := range members {
			if is(m.key, key) {
				found = m
			}
		}
		return found
	}
	hasURLs := false
	remove := make([]bool, len(members))
	for i, m := range members {
		if !is(m.key, "urls") {
			continue
		}
		var urls []string
		if json.Unmarshal(m.raw, &urls) != nil || len(urls) > 0 {
			hasURLs = hasURLs || len(urls) > 0
			remove[i] = true
		}
	}
	edits = append(edits, removeMembers(s.raw, members, remove)...)
	replace := func(m *member, v any) {
		b, _ := json.Marshal(v)
		edits = append(edits, edit{start: m.valStart, end: m.valEnd, with: b})
	}
	if m := last("mediaType"); layer && hasURLs && m != nil {
		var mt string
		if json.Unmarshal(m.raw, &mt) == nil {
			d, err := image.Distributable(types.MediaType(mt))
			if err != nil {
				return nil, err
			}
			if d != types.MediaType(mt) {
				replace(m, d)
			}
		}
	}
	if m := last("digest"); children != nil && m != nil {
		var digest string
		if json.Unmarshal(m.raw, &digest) == nil {
			if h, err := v1.NewHash(digest); err == nil {
				if c, ok := children[h]; ok && c.Digest != h {
					replace(m, c.Digest)
					if sz := last("size"); sz != nil {
						replace(sz, c.Size)
					}
				}
			}
		}
	}
	return edits, nil
}

// is matches a JSON key as encoding/json does.
func is(key, name string) bool { return strings.EqualFold(key, name) }
