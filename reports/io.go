package reports

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	sigsyaml "sigs.k8s.io/yaml"

	"github.com/benchctl/benchctl/reports/yamlpos"
	"github.com/google/renameio/v2"

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
		v := yamlpos.Get(root, f.key)
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
		return fmt.Errorf("%s:%d: %s: %s", name, yamlpos.Line(root, fe.Path), fe.Path, fe.Msg)
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
	keys := yamlpos.Paths(root)
	var msgs []string
	for _, e := range te.Errors {
		if m := reUnknownField.FindStringSubmatch(e); m != nil {
			line, _ := strconv.Atoi(m[1])
			where := m[2]
			if p, ok := keys[yamlpos.Pos{Line: line, Key: m[2]}]; ok {
				where = p
			}
			msgs = append(msgs, fmt.Sprintf("%s:%d: unknown field %q (at %s)", name, line, m[2], where))
			continue
		}
		if m := reLine.FindStringSubmatch(e); m != nil {
			line, _ := strconv.Atoi(m[1])
			where := ""
			if p := yamlpos.PathAt(root, line); p != "" {
				where = p + ": "
			}
			msgs = append(msgs, fmt.Sprintf("%s:%d: %s%s", name, line, where, m[2]))
			continue
		}
		msgs = append(msgs, name+": "+e)
	}
	return errors.New(strings.Join(msgs, "\n"))
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
	return WriteFile(path, buf.Bytes())
}

// WriteFile writes any rendering of a report whole or not at all
// (renameio: a temporary file, synced, renamed over path).
func WriteFile(path string, data []byte) error {
	if err := renameio.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("saving %s: %w", path, err)
	}
	return nil
}

// EncodeJSON writes r as JSON: the same document as its YAML (the same
// field names and values), for tools that read JSON. Load reads it back.
func EncodeJSON(w io.Writer, r *Report) error {
	var buf bytes.Buffer
	if err := Encode(&buf, r); err != nil {
		return err
	}
	return yamlToJSON(w, buf.Bytes())
}

// yamlToJSON re-encodes a YAML document as indented JSON.
func yamlToJSON(w io.Writer, doc []byte) error {
	j, err := sigsyaml.YAMLToJSON(doc)
	if err != nil {
		return fmt.Errorf("encoding JSON: %w", err)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, j, "", "  "); err != nil {
		return fmt.Errorf("encoding JSON: %w", err)
	}
	out.WriteByte('\n')
	_, err = w.Write(out.Bytes())
	return err
}
