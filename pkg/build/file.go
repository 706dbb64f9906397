package build

import (
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// LoadFile reads a YAML build file (see docs/BUILDFILE.md). Every error
// says where: FILE:LINE:COLUMN. Unknown keys are errors, named with their
// line, so a typo is not silently ignored.
func LoadFile(path string) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading build file: %w", err)
	}
	return parseFile(path, data)
}

func parseFile(path string, data []byte) (*Spec, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrSpec, syntaxError(path, data, err))
	}
	var s Spec
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("%w: build file %s is empty", ErrSpec, path)
	}
	d := decoder{path: path}
	if err := d.decode(doc.Content[0], reflect.ValueOf(&s).Elem(), "the build file"); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSpec, err)
	}
	return &s, nil
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxError puts a YAML parser's error in FILE:LINE:COLUMN: form. The
// parser names the line where the construct began; the line that broke
// it is the first whose prefix of the file no longer parses, and the
// column is where that line's text starts.
func syntaxError(path string, data []byte, err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	m := yamlLine.FindStringSubmatch(err.Error())
	if m == nil {
		return fmt.Sprintf("%s: YAML syntax: %s", path, msg)
	}
	msg = m[2]
	lines := strings.SplitAfter(string(data), "\n")
	for k := 1; k <= len(lines); k++ {
		var n yaml.Node
		if yaml.Unmarshal([]byte(strings.Join(lines[:k], "")), &n) != nil {
			text := strings.TrimRight(lines[k-1], "\r\n")
			col := len(text) - len(strings.TrimLeft(text, " ")) + 1
			return fmt.Sprintf("%s:%d:%d: YAML syntax: %s", path, k, col, msg)
		}
	}
	return fmt.Sprintf("%s:%s: YAML syntax: %s", path, m[1], msg)
}

// decoder fills Go values from YAML nodes by their json tags, so the
// build file's keys are the Spec's JSON names.
type decoder struct{ path string }

func (d decoder) errorf(n *yaml.Node, format string, args ...any) error {
	return fmt.Errorf("%s:%d:%d: %s", d.path, n.Line, n.Column, fmt.Sprintf(format, args...))
}

func (d decoder) decode(n *yaml.Node, v reflect.Value, what string) error {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	switch v.Kind() {
	case reflect.Struct:
		return d.decodeStruct(n, v, what)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return d.errorf(n, "%s: want a list, got %s", what, kindOf(n))
		}
		out := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			if err := d.decode(c, out.Index(i), fmt.Sprintf("%s[%d]", what, i)); err != nil {
				return err
			}
		}
		v.Set(out)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return d.errorf(n, "%s: want KEY: VALUE pairs, got %s", what, kindOf(n))
		}
		m := reflect.MakeMap(v.Type())
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			elem := reflect.New(v.Type().Elem()).Elem()
			if err := d.decode(val, elem, what+"."+k.Value); err != nil {
				return err
			}
			m.SetMapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key()), elem)
		}
		v.Set(m)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			return d.errorf(n, "%s: want a string, got %s", what, kindOf(n))
		}
		v.SetString(n.Value)
	case reflect.Bool:
		b, err := strconv.ParseBool(n.Value)
		if n.Kind != yaml.ScalarNode || err != nil {
			return d.errorf(n, "%s: want true or false, got %s", what, kindOf(n))
		}
		v.SetBool(b)
	default:
		return d.errorf(n, "%s: cannot hold a %s", what, v.Kind())
	}
	return nil
}

func (d decoder) decodeStruct(n *yaml.Node, v reflect.Value, what string) error {
	if n.Kind != yaml.MappingNode {
		return d.errorf(n, "%s: want KEY: VALUE pairs, got %s", what, kindOf(n))
	}
	fields := map[string]int{}
	var known []string
	for i := 0; i < v.NumField(); i++ {
		tag, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("json"), ",")
		if tag != "" && tag != "-" {
			fields[tag] = i
			known = append(known, tag)
		}
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		idx, ok := fields[k.Value]
		if !ok {
			return d.errorf(k, "unknown key %q in %s (known keys: %s)", k.Value, what, strings.Join(known, ", "))
		}
		if seen[k.Value] {
			return d.errorf(k, "key %q given twice in %s", k.Value, what)
		}
		seen[k.Value] = true
		if err := d.decode(val, v.Field(idx), k.Value); err != nil {
			return err
		}
	}
	return nil
}

func kindOf(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "KEY: VALUE pairs"
	}
	if slices.Contains([]string{"!!int", "!!float", "!!bool", "!!str"}, n.Tag) {
		return fmt.Sprintf("%q", n.Value)
	}
	return n.Tag
}
