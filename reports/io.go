package reports

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Load reads and strictly checks a report file: an unknown field, a wrong
// apiVersion or kind, a type mismatch or a summary that its samples do
// not give is an error naming the file, the line and the field.
func Load(path string) (*Report, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading report: %w", err)
	}
	return Decode(data, path)
}

// Decode is Load for bytes already read; name is used in errors.
func Decode(data []byte, name string) (*Report, error) {
	// The happy path decodes once; the node tree that maps errors to
	// lines is parsed only when there is an error to place.
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var r Report
	derr := dec.Decode(&r)
	if derr == io.EOF {
		return nil, fmt.Errorf("%s: empty file, want a %s %s", name, APIVersion, KindReport)
	}
	if derr == nil && r.APIVersion == APIVersion && r.Kind == KindReport {
		var extra yaml.Node
		if err := dec.Decode(&extra); err != io.EOF {
			return nil, fmt.Errorf("%s: more than one YAML document; a report file holds exactly one", name)
		}
		verr := r.Validate()
		if verr == nil {
			return &r, nil
		}
		return nil, placeError(name, data, verr)
	}
	return nil, placeError(name, data, derr)
}

// placeError names the file and line of a decoding or validation error.
// The schema is checked first, so a v2 report or another kind of file
// gets that message rather than a list of unknown fields.
func placeError(name string, data []byte, err error) error {
	var doc yaml.Node
	if perr := yaml.Unmarshal(data, &doc); perr != nil {
		return fmt.Errorf("%s: not a YAML report: %w", name, perr)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return fmt.Errorf("%s: empty file, want a %s %s", name, APIVersion, KindReport)
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return fmt.Errorf("%s:%d: want a mapping with apiVersion: %s and kind: %s", name, root.Line, APIVersion, KindReport)
	}
	for _, f := range []struct{ key, want string }{{"apiVersion", APIVersion}, {"kind", KindReport}} {
		v := mapValue(root, f.key)
		switch {
		case v == nil:
			return fmt.Errorf("%s:%d: field %s is missing; want %s: %s", name, root.Line, f.key, f.key, f.want)
		case v.Value != f.want:
			return fmt.Errorf("%s:%d: field %s is %q; want %q (this benchctl reads %s %s files)", name, v.Line, f.key, v.Value, f.want, APIVersion, KindReport)
		}
	}
	var fe *FieldError
	switch {
	case err == nil:
		return fmt.Errorf("%s: not a %s %s", name, APIVersion, KindReport)
	case errors.As(err, &fe):
		return fmt.Errorf("%s:%d: %s: %s", name, lineOf(root, fe.Path), fe.Path, fe.Msg)
	}
	return decodeError(name, root, err)
}

var (
	reUnknownField = regexp.MustCompile(`^line (\d+): field (\S+) not found in type (\S+)$`)
	reLine         = regexp.MustCompile(`^line (\d+): (.*)$`)
)

// decodeError rewrites yaml.v3's type errors as "file:line: field path:
// message" lines.
func decodeError(name string, root *yaml.Node, err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return fmt.Errorf("%s: %w", name, err)
	}
	keys := keyPaths(root)
	var msgs []string
	for _, e := range te.Errors {
		if m := reUnknownField.FindStringSubmatch(e); m != nil {
			line, _ := strconv.Atoi(m[1])
			where := m[2]
			if p, ok := keys[lineKey{line, m[2]}]; ok {
				where = p
			}
			msgs = append(msgs, fmt.Sprintf("%s:%d: unknown field %q (at %s)", name, line, m[2], where))
			continue
		}
		if m := reLine.FindStringSubmatch(e); m != nil {
			line, _ := strconv.Atoi(m[1])
			where := ""
			if p := pathAtLine(root, line); p != "" {
				where = p + ": "
			}
			msgs = append(msgs, fmt.Sprintf("%s:%d: %s%s", name, line, where, m[2]))
			continue
		}
		msgs = append(msgs, name+": "+e)
	}
	return errors.New(strings.Join(msgs, "\n"))
}

type lineKey struct {
	line int
	key  string
}

// keyPaths maps every mapping key (line, name) to its path.
func keyPaths(root *yaml.Node) map[lineKey]string {
	out := map[lineKey]string{}
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				p := joinPath(path, k.Value)
				out[lineKey{k.Line, k.Value}] = p
				walk(n.Content[i+1], p)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, fmt.Sprintf("%s[%d]", path, i))
			}
		}
	}
	walk(root, "")
	return out
}

// pathAtLine is the path of the last value that starts on line.
func pathAtLine(root *yaml.Node, line int) string {
	found := ""
	for k, p := range keyPaths(root) {
		if k.line == line && (found == "" || len(p) > len(found)) {
			found = p
		}
	}
	return found
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

var reSegment = regexp.MustCompile(`([^.\[\]]+)|\[(\d+)\]`)

// lineOf finds the line of a path such as workflows[0].wall.median; where
// the path ends in a field that is absent it gives the deepest line found.
func lineOf(root *yaml.Node, path string) int {
	n, line := root, root.Line
	for _, m := range reSegment.FindAllStringSubmatch(path, -1) {
		var next *yaml.Node
		if m[2] != "" {
			i, _ := strconv.Atoi(m[2])
			if n.Kind == yaml.SequenceNode && i < len(n.Content) {
				next = n.Content[i]
			}
		} else if n.Kind == yaml.MappingNode {
			next = mapValue(n, m[1])
		}
		if next == nil {
			return line
		}
		n, line = next, next.Line
	}
	return line
}

func mapValue(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// Encode writes r as YAML after validating it.
func Encode(w io.Writer, r *Report) error {
	if err := r.Validate(); err != nil {
		return fmt.Errorf("refusing to write an inconsistent report: %w", err)
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("encoding report: %w", err)
	}
	return enc.Close()
}

// Save validates r and writes it to path atomically (a temporary file in
// the same directory, synced, then renamed), so a crash never leaves a
// half-written report behind.
func Save(path string, r *Report) error {
	var buf bytes.Buffer
	if err := Encode(&buf, r); err != nil {
		return fmt.Errorf("saving %s: %w", path, err)
	}
	return writeAtomic(path, buf.Bytes())
}

func writeAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("saving %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("saving %s: %w", path, err)
	}
	if err = f.Chmod(0o644); err != nil {
		return fmt.Errorf("saving %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("saving %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("saving %s: %w", path, err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("saving %s: %w", path, err)
	}
	return nil
}
