package mirror

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
)

// The manifest rewrite keeps every byte it does not change where it was:
// it finds the spans of the members it edits with encoding/json's
// decoder, and splices. Re-encoding the document would reorder keys and
// reformat numbers, and so change digests for no reason.

// member is one member of a JSON object: its key and where its value
// lies; from is where the member starts (just after the previous value,
// or after the object's '{').
type member struct {
	key                    string
	from, valStart, valEnd int
	raw                    json.RawMessage
}

// edit replaces raw[start:end] with with.
type edit struct {
	start, end int
	with       []byte
}

// splice applies non-overlapping edits.
func splice(raw []byte, edits []edit) []byte {
	slices.SortFunc(edits, func(a, b edit) int { return a.start - b.start })
	var out bytes.Buffer
	pos := 0
	for _, e := range edits {
		out.Write(raw[pos:e.start])
		out.Write(e.with)
		pos = e.end
	}
	out.Write(raw[pos:])
	return out.Bytes()
}

// scanner walks a JSON document, reporting byte offsets.
type scanner struct {
	raw []byte
	dec *json.Decoder
}

func newScanner(raw []byte) *scanner {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	return &scanner{raw: raw, dec: dec}
}

func (s *scanner) delim(want json.Delim) error {
	t, err := s.dec.Token()
	if err != nil {
		return err
	}
	if d, ok := t.(json.Delim); !ok || d != want {
		return fmt.Errorf("expected %q at byte %d", want, s.dec.InputOffset())
	}
	return nil
}

// object reads the object at the scanner's position, calling visit for
// each member; visit may read the member's value itself (returning true),
// or leave it to be skipped.
func (s *scanner) object(visit func(m *member) (bool, error)) error {
	if err := s.delim('{'); err != nil {
		return err
	}
	for s.dec.More() {
		from := int(s.dec.InputOffset())
		t, err := s.dec.Token()
		if err != nil {
			return err
		}
		key, ok := t.(string)
		if !ok {
			return errors.New("object key is not a string")
		}
		m := &member{key: key, from: from}
		read, err := visit(m)
		if err != nil {
			return err
		}
		if !read {
			if err := s.dec.Decode(&m.raw); err != nil {
				return err
			}
		}
	}
	return s.delim('}')
}

// value reads the value at the scanner's position into m.
func (s *scanner) value(m *member) error {
	if err := s.dec.Decode(&m.raw); err != nil {
		return err
	}
	m.valEnd = int(s.dec.InputOffset())
	m.valStart = m.valEnd - len(m.raw)
	return nil
}

// removeMembers is the edits that delete the members marked in remove
// from their object, keeping the separators of the others: a run of
// removed members after a kept one goes from that member's value to the
// run's last value; a run at the start goes up to the next key.
func removeMembers(raw []byte, members []*member, remove []bool) []edit {
	var edits []edit
	for i := 0; i < len(members); i++ {
		if !remove[i] {
			continue
		}
		j := i
		for j+1 < len(members) && remove[j+1] {
			j++
		}
		switch {
		case i > 0:
			edits = append(edits, edit{start: members[i-1].valEnd, end: members[j].valEnd})
		case j == len(members)-1:
			edits = append(edits, edit{start: keyStart(raw, members[0]), end: members[j].valEnd})
		default:
			edits = append(edits, edit{start: keyStart(raw, members[0]), end: keyStart(raw, members[j+1])})
		}
		i = j
	}
	return edits
}

// keyStart is where m's key begins: past the space and comma before it.
func keyStart(raw []byte, m *member) int {
	i := m.from
	for i < len(raw) && raw[i] != '"' {
		i++
	}
	return i
}

func skipSpace(raw []byte, i int) int {
	for i < len(raw) && (raw[i] == ' ' || raw[i] == '\t' || raw[i] == '\n' || raw[i] == '\r') {
		i++
	}
	return i
}

// peek returns the first byte of the next value.
func (s *scanner) peek() (byte, bool) {
	i := skipSpace(s.raw, int(s.dec.InputOffset()))
	for i < len(s.raw) && (s.raw[i] == ':' || s.raw[i] == ',') {
		i = skipSpace(s.raw, i+1)
	}
	if i >= len(s.raw) {
		return 0, false
	}
	return s.raw[i], true
}
