package flyte

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Entry is a portfolio entry's flyte: block: which registered launch
// plan to execute, and with what inputs.
//
//	flyte:
//	  launchPlan: bench.chain_10
//	  version: v3
//	  project: flytesnacks   # optional, else the client's
//	  domain: development    # optional, else the client's
//	  inputs: {n: 100, sleep: 0.5, label: fast, dry: false}
type Entry struct {
	LaunchPlan string           `json:"launchPlan" yaml:"launchPlan"`
	Version    string           `json:"version" yaml:"version"`
	Project    string           `json:"project,omitempty" yaml:"project,omitempty"`
	Domain     string           `json:"domain,omitempty" yaml:"domain,omitempty"`
	Inputs     map[string]Value `json:"inputs,omitempty" yaml:"inputs,omitempty"`
}

// Admin's identifier rules are loose (names are any string); these keep
// what benchctl sends inside the URL paths and labels Flyte derives.
var (
	projectRe = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	nameRe    = regexp.MustCompile(`^[A-Za-z0-9_.\-]+$`)
	inputRe   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// FieldError is one problem of an entry: its field under flyte (e.g.
// flyte.inputs.n) and what is wrong with it.
type FieldError struct {
	Field, Msg string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// Problems lists every problem of the entry, in field order.
func (e Entry) Problems() []*FieldError {
	var out []*FieldError
	bad := func(field, format string, args ...any) {
		out = append(out, &FieldError{Field: "flyte." + field, Msg: fmt.Sprintf(format, args...)})
	}
	switch {
	case e.LaunchPlan == "":
		bad("launchPlan", "required: the name of a registered launch plan")
	case !nameRe.MatchString(e.LaunchPlan):
		bad("launchPlan", "%q: only letters, digits, '_', '.' and '-'", e.LaunchPlan)
	}
	switch {
	case e.Version == "":
		bad("version", "required: the registered version of launch plan %q", e.LaunchPlan)
	case !nameRe.MatchString(e.Version):
		bad("version", "%q: only letters, digits, '_', '.' and '-'", e.Version)
	}
	if e.Project != "" && !projectRe.MatchString(e.Project) {
		bad("project", "%q: lower-case letters, digits and '-'", e.Project)
	}
	if e.Domain != "" && !projectRe.MatchString(e.Domain) {
		bad("domain", "%q: lower-case letters, digits and '-'", e.Domain)
	}
	for _, k := range slices.Sorted(maps.Keys(e.Inputs)) {
		if !inputRe.MatchString(k) {
			bad("inputs."+k, "not a valid input name")
			continue
		}
		if err := e.Inputs[k].check(); err != nil {
			bad("inputs."+k, "%v", err)
		}
	}
	return out
}

// Validate reports every problem, each naming its field under flyte.
func (e Entry) Validate() error {
	var errs []error
	for _, p := range e.Problems() {
		errs = append(errs, p)
	}
	return errors.Join(errs...)
}

// LaunchPlanID resolves the entry's launch plan, with the client's
// project and domain where the entry sets none.
func (e Entry) LaunchPlanID(project, domain string) Identifier {
	id := Identifier{ResourceType: ResourceLaunchPlan, Project: e.Project, Domain: e.Domain, Name: e.LaunchPlan, Version: e.Version}
	if id.Project == "" {
		id.Project = project
	}
	if id.Domain == "" {
		id.Domain = domain
	}
	return id
}

// LiteralMap converts the inputs into core.LiteralMap. The inputs must
// have passed Validate.
func (e Entry) LiteralMap() (LiteralMap, error) {
	m := LiteralMap{Literals: make(map[string]Literal, len(e.Inputs))}
	for _, k := range slices.Sorted(maps.Keys(e.Inputs)) {
		l, err := e.Inputs[k].literal()
		if err != nil {
			return LiteralMap{}, fmt.Errorf("flyte.inputs.%s: %w", k, err)
		}
		m.Literals[k] = l
	}
	return m, nil
}

// ---- LiteralMap: core.LiteralMap as Admin's JSON spells it. Only
// primitives: the portfolio's inputs are scalars.

// LiteralMap is core.LiteralMap.
type LiteralMap struct {
	Literals map[string]Literal `json:"literals"`
}

// Literal is core.Literal (scalar only).
type Literal struct {
	Scalar *Scalar `json:"scalar,omitempty"`
}

// Scalar is core.Scalar (primitive only).
type Scalar struct {
	Primitive *Primitive `json:"primitive,omitempty"`
}

// Primitive is core.Primitive: exactly one field is set. integer is an
// int64, hence a JSON string.
type Primitive struct {
	Integer     *Int64   `json:"integer,omitempty"`
	FloatValue  *float64 `json:"float_value,omitempty"`
	StringValue *string  `json:"string_value,omitempty"`
	Boolean     *bool    `json:"boolean,omitempty"`
}

// ---- Value: one input.

// Kind is an input's type.
type Kind int

const (
	KindInvalid Kind = iota
	KindInt
	KindFloat
	KindString
	KindBool
)

// Value is one scalar input. A list, map or null decodes (so that
// Validate can name the field) but does not validate.
type Value struct {
	kind Kind
	i    int64
	f    float64
	s    string
	b    bool
	bad  string // what an invalid value was
}

// Int, Float, String and Bool make values.
func Int(i int64) Value     { return Value{kind: KindInt, i: i} }
func Float(f float64) Value { return Value{kind: KindFloat, f: f} }
func String(s string) Value { return Value{kind: KindString, s: s} }
func Bool(b bool) Value     { return Value{kind: KindBool, b: b} }

// ValueOf converts a Go value (as from a generic decoder).
func ValueOf(x any) Value {
	switch v := x.(type) {
	case int:
		return Int(int64(v))
	case int32:
		return Int(int64(v))
	case int64:
		return Int(v)
	case float32:
		return Float(float64(v))
	case float64:
		return Float(v)
	case string:
		return String(v)
	case bool:
		return Bool(v)
	case json.Number:
		return numberValue(string(v))
	case nil:
		return Value{bad: "null"}
	case []any:
		return Value{bad: "a list"}
	case map[string]any:
		return Value{bad: "a map"}
	}
	return Value{bad: fmt.Sprintf("a %T", x)}
}

// Kind is the value's type.
func (v Value) Kind() Kind { return v.kind }

// Any is the Go value (nil if invalid).
func (v Value) Any() any {
	switch v.kind {
	case KindInt:
		return v.i
	case KindFloat:
		return v.f
	case KindString:
		return v.s
	case KindBool:
		return v.b
	}
	return nil
}

func (v Value) check() error {
	switch {
	case v.kind == KindInvalid:
		what := v.bad
		if what == "" {
			// YAML decodes a null into the zero Value without calling
			// UnmarshalYAML.
			what = "null"
		}
		return fmt.Errorf("%s is not a scalar: inputs take int, float, string or bool", what)
	case v.kind == KindFloat && (math.IsNaN(v.f) || math.IsInf(v.f, 0)):
		return fmt.Errorf("%v: a float input must be finite", v.f)
	}
	return nil
}

func (v Value) literal() (Literal, error) {
	if err := v.check(); err != nil {
		return Literal{}, err
	}
	p := &Primitive{}
	switch v.kind {
	case KindInt:
		i := Int64(v.i)
		p.Integer = &i
	case KindFloat:
		f := v.f
		p.FloatValue = &f
	case KindString:
		s := v.s
		p.StringValue = &s
	case KindBool:
		b := v.b
		p.Boolean = &b
	}
	return Literal{Scalar: &Scalar{Primitive: p}}, nil
}

// UnmarshalYAML keeps YAML's own typing: 3 is an int, 3.0 a float (a
// launch plan with a float input needs 3.0), "3" a string.
func (v *Value) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.SequenceNode:
		*v = Value{bad: "a list"}
		return nil
	case yaml.MappingNode:
		*v = Value{bad: "a map"}
		return nil
	case yaml.AliasNode:
		return v.UnmarshalYAML(n.Alias)
	}
	switch n.ShortTag() {
	case "!!int":
		var i int64
		if err := n.Decode(&i); err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		*v = Int(i)
	case "!!float":
		var f float64
		if err := n.Decode(&f); err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		*v = Float(f)
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		*v = Bool(b)
	case "!!str":
		*v = String(n.Value)
	case "!!null":
		*v = Value{bad: "null"}
	default:
		*v = Value{bad: "a " + n.ShortTag() + " value"}
	}
	return nil
}

// MarshalYAML writes the scalar back.
func (v Value) MarshalYAML() (any, error) { return v.Any(), nil }

// UnmarshalJSON: a number with a fraction or exponent is a float.
func (v *Value) UnmarshalJSON(b []byte) error {
	var x any
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	if err := dec.Decode(&x); err != nil {
		return err
	}
	*v = ValueOf(x)
	return nil
}

// MarshalJSON writes the scalar (null if invalid).
func (v Value) MarshalJSON() ([]byte, error) { return json.Marshal(v.Any()) }

func numberValue(s string) Value {
	if !strings.ContainsAny(s, ".eE") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return Int(i)
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return Value{bad: "number " + s}
	}
	return Float(f)
}
