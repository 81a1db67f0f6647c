package portfolio

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/api/resource"
)

// SpecError is a problem in a portfolio file. It renders as one line,
// "FILE:LINE: FIELD: MESSAGE", so an editor can jump to it.
type SpecError struct {
	File  string
	Line  int
	Field string // dotted path, e.g. workflows[long-chain].chain.length
	Msg   string
}

func (e *SpecError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Field != "" {
		b.WriteString(": " + e.Field)
	}
	b.WriteString(": " + e.Msg)
	return oneLine(b.String())
}

// oneLine escapes what would not print on one line (a key or a tag of the
// file may hold a line break or a control character), as Go would quote it.
func oneLine(s string) string {
	if utf8.ValidString(s) && strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) < 0 {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Duration is a Go duration written as a string ("10ms", "5m").
type Duration time.Duration

func (d *Duration) decodeNode(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!str" && n.Tag != "!!int") {
		return fmt.Errorf("expected a duration such as 10ms or 5m, got %s", describe(n))
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("invalid duration %q: want a number with a unit such as 10ms, 2s or 5m", n.Value)
	}
	*d = Duration(v)
	return nil
}

// ByteSize is a size in bytes: an integer or a Kubernetes quantity ("8Mi").
type ByteSize int64

func (s *ByteSize) decodeNode(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!str" && n.Tag != "!!int") {
		return fmt.Errorf("expected a size such as 1024 or 8Mi, got %s", describe(n))
	}
	q, err := resource.ParseQuantity(n.Value)
	if err != nil {
		return fmt.Errorf("invalid size %q: want bytes or a quantity such as 512Ki, 8Mi", n.Value)
	}
	// AsInt64 fails for large binary-SI quantities (1Pi) as well as for
	// fractions, so go by the value rounded up, which is exact well
	// below the int64 range; validation names the limit of sizes.
	if math.Abs(q.AsApproximateFloat64()) >= 1<<62 {
		return fmt.Errorf("size %q is too large", n.Value)
	}
	v := q.Value()
	if q.Cmp(*resource.NewQuantity(v, resource.BinarySI)) != 0 {
		return fmt.Errorf("size %q is not a whole number of bytes", n.Value)
	}
	*s = ByteSize(v)
	return nil
}

// nodeDecoder is a scalar type with its own syntax.
type nodeDecoder interface{ decodeNode(*yaml.Node) error }

var yamlNodeType = reflect.TypeFor[*yaml.Node]()

// decoder is a strict reflection-based decoder over yaml.v3 nodes. Unlike
// yaml.Unmarshal it reports every problem with the file, line and dotted
// field path, and it remembers where each field was written so that later
// semantic checks can point at the line too.
type decoder struct {
	file string
	// field renders a path relative to the decoded value for messages; it
	// lets a workflow's per-tier overlay show as ...tiers.smoke.chain.
	field func(n *yaml.Node, path string) string
	// pos maps a relative path to the node that held its value.
	pos map[string]*yaml.Node
}

func newDecoder(file, prefix string) *decoder {
	return &decoder{
		file: file,
		pos:  map[string]*yaml.Node{},
		field: func(_ *yaml.Node, path string) string {
			return joinPath(prefix, path)
		},
	}
}

func joinPath(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	case strings.HasPrefix(b, "["):
		return a + b
	}
	return a + "." + b
}

func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) error {
	return &SpecError{File: d.file, Line: n.Line, Field: d.field(n, path), Msg: fmt.Sprintf(format, args...)}
}

// at returns an error located at the value of path, or at the nearest
// enclosing value that was written, for fields that are missing.
func (d *decoder) at(path, format string, args ...any) error {
	p := path
	for {
		if n, ok := d.pos[p]; ok {
			return d.errorf(n, path, format, args...)
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	if n, ok := d.pos[""]; ok {
		return d.errorf(n, path, format, args...)
	}
	return &SpecError{File: d.file, Field: d.field(nil, path), Msg: fmt.Sprintf(format, args...)}
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	switch n.Tag {
	case "!!null":
		return "nothing (null)"
	case "!!int":
		return "the integer " + n.Value
	case "!!float":
		return "the number " + n.Value
	case "!!bool":
		return "the boolean " + n.Value
	case "!!str":
		return fmt.Sprintf("the string %q", n.Value)
	}
	return fmt.Sprintf("%s %q", n.Tag, n.Value)
}

// decode fills v from n; path is v's location relative to the decoder's
// prefix ("" for the root).
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) error {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	d.pos[path] = n
	if v.Type() == yamlNodeType {
		v.Set(reflect.ValueOf(n))
		return nil
	}
	if v.CanAddr() {
		if nd, ok := v.Addr().Interface().(nodeDecoder); ok {
			if err := nd.decodeNode(n); err != nil {
				return d.errorf(n, path, "%v", err)
			}
			return nil
		}
		// A type of another package with its own YAML syntax (a flyte:
		// entry's input values).
		if u, ok := v.Addr().Interface().(yaml.Unmarshaler); ok {
			if err := u.UnmarshalYAML(n); err != nil {
				return d.errorf(n, path, "%s", yamlLineRE.ReplaceAllString(err.Error(), ""))
			}
			return nil
		}
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		if n.Tag == "!!null" && v.Elem().Kind() == reflect.Struct {
			// "chain:" alone still selects the shape; its fields are then
			// reported missing by validation.
			return nil
		}
		if n.Tag == "!!null" {
			return d.errorf(n, path, "expected a value, got nothing (null)")
		}
		return d.decode(n, v.Elem(), path)
	case reflect.Struct:
		if n.Tag == "!!null" {
			return nil
		}
		if n.Kind != yaml.MappingNode {
			return d.errorf(n, path, "expected a mapping, got %s", describe(n))
		}
		fields := structFields(v.Type())
		return d.eachKey(n, path, func(k, val *yaml.Node) error {
			i, ok := fields[k.Value]
			if !ok {
				return d.errorf(k, joinPath(path, k.Value), "unknown field (known: %s)", strings.Join(sortedKeys(fields), ", "))
			}
			return d.decode(val, v.Field(i), joinPath(path, k.Value))
		})
	case reflect.Map:
		if n.Tag == "!!null" {
			return nil
		}
		if n.Kind != yaml.MappingNode {
			return d.errorf(n, path, "expected a mapping, got %s", describe(n))
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(v.Type()))
		}
		return d.eachKey(n, path, func(k, val *yaml.Node) error {
			e := reflect.New(v.Type().Elem()).Elem()
			if err := d.decode(val, e, joinPath(path, k.Value)); err != nil {
				return err
			}
			v.SetMapIndex(reflect.ValueOf(k.Value), e)
			return nil
		})
	case reflect.Slice:
		if n.Tag == "!!null" {
			return nil
		}
		if n.Kind != yaml.SequenceNode {
			return d.errorf(n, path, "expected a list, got %s", describe(n))
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			if err := d.decode(c, s.Index(i), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		v.Set(s)
		return nil
	case reflect.String:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
			hint := ""
			if n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
				hint = fmt.Sprintf(` (quote it: "%s")`, n.Value)
			}
			return d.errorf(n, path, "expected a string, got %s%s", describe(n), hint)
		}
		v.SetString(n.Value)
		return nil
	case reflect.Int, reflect.Int32, reflect.Int64:
		var i int64
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || n.Decode(&i) != nil {
			return d.errorf(n, path, "expected an integer, got %s", describe(n))
		}
		if v.OverflowInt(i) {
			return d.errorf(n, path, "integer %s is out of range", n.Value)
		}
		v.SetInt(i)
		return nil
	case reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || n.Decode(&b) != nil {
			return d.errorf(n, path, "expected true or false, got %s", describe(n))
		}
		v.SetBool(b)
		return nil
	}
	return fmt.Errorf("portfolio: cannot decode into %s (a bug)", v.Type())
}

// eachKey walks a mapping's pairs, rejecting duplicate and non-string keys
// (yaml.v3 rejects duplicates only when unmarshalling, not on nodes).
func (d *decoder) eachKey(n *yaml.Node, path string, f func(k, v *yaml.Node) error) error {
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Tag == "!!merge" || k.Value == "<<" {
			return d.errorf(k, path, "unsupported key %s (merge keys and complex keys are not supported)", describe(k))
		}
		if line, dup := seen[k.Value]; dup {
			return d.errorf(k, joinPath(path, k.Value), "duplicate key (first at line %d)", line)
		}
		seen[k.Value] = k.Line
		if err := f(k, val); err != nil {
			return err
		}
	}
	return nil
}

func structFields(t reflect.Type) map[string]int {
	m := map[string]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		m[name] = i
	}
	return m
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// mergeNodes returns base with overlay applied: mappings merge key by key
// (recursively), anything else in overlay replaces base. Leaf nodes are
// shared, not copied, so positions and origins stay those of the file.
func mergeNodes(base, overlay *yaml.Node) *yaml.Node {
	if base != nil && base.Kind == yaml.AliasNode {
		base = base.Alias
	}
	if overlay != nil && overlay.Kind == yaml.AliasNode {
		overlay = overlay.Alias
	}
	if overlay == nil {
		return base
	}
	if base == nil || base.Kind != yaml.MappingNode || overlay.Kind != yaml.MappingNode {
		return overlay
	}
	out := &yaml.Node{Kind: yaml.MappingNode, Tag: base.Tag, Line: base.Line, Column: base.Column}
	idx := map[string]int{}
	for i := 0; i+1 < len(base.Content); i += 2 {
		idx[base.Content[i].Value] = len(out.Content)
		out.Content = append(out.Content, base.Content[i], base.Content[i+1])
	}
	for i := 0; i+1 < len(overlay.Content); i += 2 {
		k, v := overlay.Content[i], overlay.Content[i+1]
		if j, ok := idx[k.Value]; ok {
			out.Content[j+1] = mergeNodes(out.Content[j+1], v)
			continue
		}
		out.Content = append(out.Content, k, v)
	}
	return out
}

// withoutKey returns a mapping node without key (sharing the other pairs).
func withoutKey(n *yaml.Node, key string) *yaml.Node {
	out := *n
	out.Content = nil
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value != key {
			out.Content = append(out.Content, n.Content[i], n.Content[i+1])
		}
	}
	return &out
}

// collect adds n and every node below it to set, tagged with origin.
func collect(n *yaml.Node, origin string, set map[*yaml.Node]string) {
	if n == nil {
		return
	}
	set[n] = origin
	for _, c := range n.Content {
		collect(c, origin, set)
	}
}
