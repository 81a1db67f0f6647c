package portfolio

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/benchctl/benchctl/portfolio/flyte"
	"github.com/benchctl/benchctl/reports/yamlpos"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/util/validation"
)

// The format's identity.
const (
	APIVersion = "benchctl/v1"
	Kind       = "Portfolio"
)

// Builtin is the name of the embedded portfolio. Passing it as a file name
// to Load includes the embedded workflows beside a user's own.
const Builtin = "builtin"

// Tiers that always exist; a portfolio file may declare more under tiers:.
const (
	TierSmoke   = "smoke"
	TierDefault = "default"
	TierScale   = "scale"
)

// Built-in settings, used when no file sets them.
const (
	defaultRepetitions = 5
	defaultWarmup      = 1
	defaultTimeout     = 10 * time.Minute
	// maxNameLen keeps execution names (workflow name plus a suffix) within
	// the 63 characters of a label value, which pods carry.
	maxNameLen = 40
)

//go:embed defaults.yaml
var builtinYAML []byte

// BuiltinYAML returns the embedded portfolio file.
func BuiltinYAML() []byte { return slices.Clone(builtinYAML) }

// Settings are how often and how long each workflow runs.
type Settings struct {
	// Repetitions are the measured executions (>= 1).
	Repetitions *int `yaml:"repetitions"`
	// Warmup executions run first; they are recorded, flagged and never
	// counted (>= 0).
	Warmup *int `yaml:"warmup"`
	// Timeout bounds each execution, from the create call to a terminal
	// phase.
	Timeout *Duration `yaml:"timeout"`
}

// over returns s with the fields that o sets replaced.
func (s Settings) over(o Settings) Settings {
	if o.Repetitions != nil {
		s.Repetitions = o.Repetitions
	}
	if o.Warmup != nil {
		s.Warmup = o.Warmup
	}
	if o.Timeout != nil {
		s.Timeout = o.Timeout
	}
	return s
}

// fileSpec is one portfolio file, as written.
type fileSpec struct {
	APIVersion  string              `yaml:"apiVersion"`
	Kind        string              `yaml:"kind"`
	Name        string              `yaml:"name"`
	Description string              `yaml:"description"`
	Defaults    Settings            `yaml:"defaults"`
	Tiers       map[string]Settings `yaml:"tiers"`
	// Workflows are decoded per tier (see WorkflowSpec), so they are kept
	// as nodes here.
	Workflows []*yaml.Node `yaml:"workflows"`
}

// WorkflowSpec is one workflow entry as written, for one tier: the entry
// with its tiers.<tier> overlay merged in.
type WorkflowSpec struct {
	// Name identifies the workflow in reports (a DNS label, <= 40 chars).
	Name string `yaml:"name"`
	// Description says in one line what the workflow measures.
	Description string `yaml:"description"`
	// Skip leaves the workflow out (usually set in a tier's overlay).
	Skip bool `yaml:"skip"`

	Repetitions *int      `yaml:"repetitions"`
	Warmup      *int      `yaml:"warmup"`
	Timeout     *Duration `yaml:"timeout"`

	// Inputs is "unique" (each execution gets its own workflow inputs, so
	// the catalog misses) or "fixed" (the same inputs every time, so after
	// the warm-up cacheable tasks hit).
	Inputs string `yaml:"inputs"`
	// OffloadClosure sets spec.offloadClosure; unset leaves the
	// controller's default.
	OffloadClosure *bool `yaml:"offloadClosure"`
	// MaxParallelism sets spec.executionConfig.maxParallelism (0 = unbounded).
	MaxParallelism int `yaml:"maxParallelism"`
	// Task is what every task node runs.
	Task TaskParams `yaml:"task"`

	// The shape: exactly one is set.
	Chain        *ChainShape    `yaml:"chain"`
	FanOut       *FanOutShape   `yaml:"fanout"`
	DAG          *DAGShape      `yaml:"dag"`
	Map          *MapShape      `yaml:"map"`
	Dynamic      *DynamicShape  `yaml:"dynamic"`
	SubWorkflows *ParallelShape `yaml:"subworkflows"`
	LaunchPlans  *ParallelShape `yaml:"launchplans"`
	// Flyte is a launch plan registered in a Flyte deployment, which the
	// flyte engine runs (the other shapes are the bundled controller's).
	Flyte *flyte.Entry `yaml:"flyte"`

	// Tiers holds per-tier overlays: partial entries merged over this one.
	Tiers map[string]*yaml.Node `yaml:"tiers"`
}

// TaskParams describe the task that nodes run. Its behaviour is declared,
// so user time is known ground truth.
type TaskParams struct {
	Duration    Duration `yaml:"duration"`
	OutputBytes ByteSize `yaml:"outputBytes"`
	Cacheable   bool     `yaml:"cacheable"`
	// Version is part of the cache key (default "v1").
	Version string `yaml:"version"`
	Retries int    `yaml:"retries"`
}

// ChainShape is Length task nodes in series.
type ChainShape struct {
	Length int `yaml:"length"`
}

// FanOutShape is Width task nodes in parallel between start and end.
type FanOutShape struct {
	Width int `yaml:"width"`
}

// DAGShape is Layers layers of Width task nodes; each node depends on two
// nodes of the layer before (the same column and the next, wrapping).
type DAGShape struct {
	Layers int `yaml:"layers"`
	Width  int `yaml:"width"`
}

// MapShape is one map node of Size items.
type MapShape struct {
	Size        int `yaml:"size"`
	Parallelism int `yaml:"parallelism"`
}

// DynamicShape is one dynamic node generating Width nodes per level, Depth
// levels deep (v1alpha1.ExpandDynamic).
type DynamicShape struct {
	Width int `yaml:"width"`
	Depth int `yaml:"depth"`
}

// ParallelShape is Count sub-workflow or launch-plan nodes in parallel,
// each running a chain of Length tasks.
type ParallelShape struct {
	Count  int `yaml:"count"`
	Length int `yaml:"length"`
}

// Input modes.
const (
	InputsUnique = "unique"
	InputsFixed  = "fixed"
)

// entry is one workflow entry of a file, kept as nodes for per-tier decoding.
type entry struct {
	file   string
	name   string
	line   int
	node   *yaml.Node            // the entry without its tiers key
	tiers  map[string]*yaml.Node // overlays
	origin map[*yaml.Node]string // overlay node -> "tiers.<tier>"
}

// Portfolio is a parsed and validated set of portfolio files.
type Portfolio struct {
	// Name is the portfolio's name (file names joined with "+" when
	// several files are merged).
	Name        string
	Description string
	// Files are the sources, in merge order.
	Files    []string
	defaults Settings
	tiers    map[string]Settings
	entries  []*entry
}

// Load reads and validates portfolio files. With no file it loads the
// embedded portfolio. Several files merge in order: their workflows are
// concatenated (a name may appear only once in all), and defaults and
// tier settings of later files override earlier ones field by field. The
// name "builtin" stands for the embedded portfolio, so
// Load("builtin", "mine.yaml") adds workflows to the built-in ones.
func Load(files ...string) (*Portfolio, error) {
	if len(files) == 0 {
		files = []string{Builtin}
	}
	p := &Portfolio{tiers: map[string]Settings{}}
	var names []string
	for _, f := range files {
		var data []byte
		var err error
		if f == Builtin {
			data = builtinYAML
		} else if data, err = os.ReadFile(f); err != nil {
			return nil, fmt.Errorf("read portfolio: %w", err)
		}
		fs, err := p.add(f, data)
		if err != nil {
			return nil, err
		}
		names = append(names, fs.Name)
		if fs.Description != "" {
			p.Description = fs.Description
		}
	}
	p.Name = strings.Join(names, "+")
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}

// Parse reads and validates one portfolio document; file names it in errors.
func Parse(file string, data []byte) (*Portfolio, error) {
	p := &Portfolio{tiers: map[string]Settings{}}
	fs, err := p.add(file, data)
	if err != nil {
		return nil, err
	}
	p.Name, p.Description = fs.Name, fs.Description
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Portfolio) add(file string, data []byte) (*fileSpec, error) {
	display := file
	if file == Builtin {
		display = "builtin:defaults.yaml"
	}
	fail := func(line int, field, format string, args ...any) error {
		return &SpecError{File: display, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fail(0, "", "file is empty; a portfolio starts with apiVersion: %s and kind: %s", APIVersion, Kind)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); errors.Is(err, io.EOF) || (err == nil && len(doc.Content) == 0) {
		return nil, fail(0, "", "file is empty; a portfolio starts with apiVersion: %s and kind: %s", APIVersion, Kind)
	} else if err != nil {
		line, msg := yamlError(err)
		return nil, fail(line, "", "invalid YAML: %s", msg)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fail(extra.Line, "", "holds more than one YAML document; put one portfolio per file")
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" && root.Value == "" {
		// Only a document marker ("---") and comments: yaml.v3 places
		// the empty value on the line after the marker, past a file that
		// ends there (found by FuzzPortfolio).
		return nil, fail(0, "", "file is empty; a portfolio starts with apiVersion: %s and kind: %s", APIVersion, Kind)
	}
	if root.Kind != yaml.MappingNode {
		return nil, fail(root.Line, "", "expected a mapping with apiVersion, kind and workflows, got %s", describe(root))
	}
	d := newDecoder(display, "")
	var fs fileSpec
	if err := d.decode(root, reflect.ValueOf(&fs).Elem(), ""); err != nil {
		return nil, err
	}
	if fs.APIVersion != APIVersion {
		return nil, d.at("apiVersion", "must be %q, got %q", APIVersion, fs.APIVersion)
	}
	if fs.Kind != Kind {
		return nil, d.at("kind", "must be %q, got %q", Kind, fs.Kind)
	}
	if fs.Name == "" {
		fs.Name = strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
	}
	if err := checkSettings(d, "defaults", fs.Defaults); err != nil {
		return nil, err
	}
	for _, t := range sortedKeys(fs.Tiers) {
		if err := checkTierName(d, "tiers."+t, t); err != nil {
			return nil, err
		}
		if err := checkSettings(d, "tiers."+t, fs.Tiers[t]); err != nil {
			return nil, err
		}
	}
	if len(fs.Workflows) == 0 {
		return nil, d.at("workflows", "no workflows; a portfolio needs at least one")
	}
	if n := len(p.entries) + len(fs.Workflows); n > maxWorkflows {
		return nil, d.at("workflows", "%d workflows (counting earlier files) are beyond the %d this harness supports", n, maxWorkflows)
	}
	known := p.knownTiers(fs.Tiers)
	if len(known) > maxTiers {
		return nil, d.at("tiers", "%d tiers (counting the built-in ones and earlier files) are beyond the %d this harness supports", len(known), maxTiers)
	}
	var added []*entry
	for i, n := range fs.Workflows {
		e, err := p.newEntry(display, i, n, known, added)
		if err != nil {
			return nil, err
		}
		added = append(added, e)
	}
	p.Files = append(p.Files, file)
	p.defaults = p.defaults.over(fs.Defaults)
	for t, s := range fs.Tiers {
		p.tiers[t] = p.tiers[t].over(s)
	}
	p.entries = append(p.entries, added...)
	return &fs, nil
}

// knownTiers are the built-in tiers plus those declared so far and in extra.
func (p *Portfolio) knownTiers(extra map[string]Settings) map[string]bool {
	known := map[string]bool{TierSmoke: true, TierDefault: true, TierScale: true}
	for t := range p.tiers {
		known[t] = true
	}
	for t := range extra {
		known[t] = true
	}
	return known
}

func (p *Portfolio) newEntry(file string, i int, n *yaml.Node, known map[string]bool, siblings []*entry) (*entry, error) {
	path := fmt.Sprintf("workflows[%d]", i)
	d := newDecoder(file, path)
	if n.Kind != yaml.MappingNode {
		return nil, d.errorf(n, "", "expected a workflow mapping with name, description and a shape, got %s", describe(n))
	}
	e := &entry{file: file, line: n.Line, tiers: map[string]*yaml.Node{}, origin: map[*yaml.Node]string{}}
	nameNode := yamlpos.Get(n, "name")
	if nameNode == nil || nameNode.Kind != yaml.ScalarNode || nameNode.Tag != "!!str" || nameNode.Value == "" {
		at := n
		if nameNode != nil {
			at = nameNode
		}
		return nil, d.errorf(at, "name", "every workflow needs a name (a string)")
	}
	e.name = nameNode.Value
	if len(validation.IsDNS1123Label(e.name)) > 0 {
		return nil, d.errorf(nameNode, "name", "%q is not a valid name: use lowercase letters, digits and '-', starting and ending with a letter or digit", e.name)
	}
	if len(e.name) > maxNameLen {
		return nil, d.errorf(nameNode, "name", "%q is %d characters; at most %d fit in execution names", e.name, len(e.name), maxNameLen)
	}
	for _, o := range slices.Concat(p.entries, siblings) {
		if o.name == e.name {
			return nil, d.errorf(nameNode, "name", "duplicate workflow %q (first defined at %s:%d)", e.name, o.file, o.line)
		}
	}
	e.node = n
	if tn := yamlpos.Get(n, "tiers"); tn != nil {
		e.node = withoutKey(n, "tiers")
		// Decode the overlay map itself strictly, so a tier that is not a
		// mapping or is unknown is reported here, with its line.
		var tiers map[string]*yaml.Node
		if err := d.decode(tn, reflect.ValueOf(&tiers).Elem(), "tiers"); err != nil {
			return nil, err
		}
		for _, t := range sortedKeys(tiers) {
			o := tiers[t]
			if !known[t] {
				return nil, d.at("tiers."+t, "unknown tier %q (known: %s)", t, strings.Join(sortedKeys(known), ", "))
			}
			if o.Kind != yaml.MappingNode && o.Tag != "!!null" {
				return nil, d.at("tiers."+t, "expected a mapping of fields to override in tier %s, got %s", t, describe(o))
			}
			if yamlpos.Get(o, "name") != nil {
				return nil, d.errorf(yamlpos.Get(o, "name"), "tiers."+t+".name", "a tier cannot rename a workflow")
			}
			if yamlpos.Get(o, "tiers") != nil {
				return nil, d.errorf(yamlpos.Get(o, "tiers"), "tiers."+t+".tiers", "tiers cannot nest")
			}
			if o.Tag == "!!null" {
				continue // "smoke:" alone changes nothing
			}
			// Decode the overlay alone first, so that it is as strict as
			// an entry (unknown fields, duplicate keys, types) and merging
			// it does work bounded by the schema, whatever aliases the
			// file holds. Semantic checks wait for the merged entry.
			var partial WorkflowSpec
			od := newDecoder(file, fmt.Sprintf("workflows[%s].tiers.%s", e.name, t))
			if err := od.decode(o, reflect.ValueOf(&partial).Elem(), ""); err != nil {
				return nil, err
			}
			e.tiers[t] = o
			collect(o, "tiers."+t, e.origin)
		}
	}
	return e, nil
}

func checkTierName(d *decoder, path, t string) error {
	if len(validation.IsDNS1123Label(t)) > 0 {
		return d.at(path, "tier name %q is not valid: use lowercase letters, digits and '-'", t)
	}
	return nil
}

func checkSettings(d *decoder, path string, s Settings) error {
	if s.Repetitions != nil && *s.Repetitions < 1 {
		return d.at(joinPath(path, "repetitions"), "must be >= 1, got %d", *s.Repetitions)
	}
	if s.Repetitions != nil && *s.Repetitions > maxRepetitions {
		return d.at(joinPath(path, "repetitions"), "%d is beyond the %d this harness supports", *s.Repetitions, maxRepetitions)
	}
	if s.Warmup != nil && *s.Warmup < 0 {
		return d.at(joinPath(path, "warmup"), "must be >= 0, got %d", *s.Warmup)
	}
	if s.Warmup != nil && *s.Warmup > maxWarmup {
		return d.at(joinPath(path, "warmup"), "%d is beyond the %d this harness supports", *s.Warmup, maxWarmup)
	}
	if s.Timeout != nil && *s.Timeout <= 0 {
		return d.at(joinPath(path, "timeout"), "must be positive, got %s", time.Duration(*s.Timeout))
	}
	if s.Timeout != nil && time.Duration(*s.Timeout) > maxTimeout {
		return d.at(joinPath(path, "timeout"), "%s is beyond the %s this harness supports", time.Duration(*s.Timeout), maxTimeout)
	}
	return nil
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): `)

// yamlError splits yaml.v3's "yaml: line N: msg" into N and msg.
func yamlError(err error) (int, string) {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return line, msg[len(m[0]):]
	}
	return 0, strings.TrimPrefix(msg, "yaml: ")
}

// Tiers returns the tier names, sorted.
func (p *Portfolio) Tiers() []string { return sortedKeys(p.knownTiers(nil)) }

// Validate checks every workflow in every tier.
func (p *Portfolio) Validate() error {
	nodes := 0 // over every tier: each is compiled to be checked
	for _, t := range p.Tiers() {
		execs := 0
		var first *WorkflowSpec // the tier's first entry: its engine is the tier's
		for _, e := range p.entries {
			w, d, err := p.resolve(e, t)
			if err != nil {
				return err
			}
			if w.Skip {
				continue
			}
			if first == nil {
				first = w
			} else if (w.Flyte != nil) != (first.Flyte != nil) {
				return d.at(w.shapes()[0], "tier %s mixes flyte: entries with the bundled controller's shapes (%s is %s): a tier runs on one engine",
					t, first.Name, first.shapeString())
			}
			s := p.settings(w, t)
			if execs += *s.Warmup + *s.Repetitions; execs > maxExecutions {
				return d.at("repetitions", "tier %s plans %d executions per config up to this workflow, beyond the %d this harness supports", t, execs, maxExecutions)
			}
			n, at := w.nodes()
			if nodes += n; nodes > maxPortfolioNodes {
				return d.at(at, "the portfolio's tiers expand to %d nodes up to this workflow in tier %s, beyond the %d this harness supports in all", nodes, t, maxPortfolioNodes)
			}
		}
	}
	return nil
}

// resolve decodes and checks entry e for tier t.
func (p *Portfolio) resolve(e *entry, tier string) (*WorkflowSpec, *decoder, error) {
	n := mergeNodes(e.node, e.tiers[tier])
	prefix := fmt.Sprintf("workflows[%s]", e.name)
	d := newDecoder(e.file, "")
	d.field = func(n *yaml.Node, path string) string {
		if o, ok := e.origin[n]; ok && n != nil {
			return joinPath(joinPath(prefix, o), path)
		}
		return joinPath(prefix, path)
	}
	var w WorkflowSpec
	if err := d.decode(n, reflect.ValueOf(&w).Elem(), ""); err != nil {
		return nil, nil, err
	}
	if err := w.check(d); err != nil {
		return nil, nil, err
	}
	s := p.settings(&w, tier)
	if *s.Warmup < 1 && w.Inputs == InputsFixed && w.Task.Cacheable {
		return nil, nil, d.at("warmup", "must be >= 1 for fixed inputs with a cacheable task: the warm-up fills the cache the measured executions hit")
	}
	return &w, d, nil
}

// settings resolves a workflow's settings for a tier. Most specific wins:
// the workflow's tier overlay, the workflow, the portfolio's tier, the
// portfolio's defaults, then the built-in values.
func (p *Portfolio) settings(w *WorkflowSpec, tier string) Settings {
	r, wu, to := defaultRepetitions, defaultWarmup, Duration(defaultTimeout)
	s := Settings{Repetitions: &r, Warmup: &wu, Timeout: &to}
	return s.over(p.defaults).over(p.tiers[tier]).over(Settings{Repetitions: w.Repetitions, Warmup: w.Warmup, Timeout: w.Timeout})
}

// shapes lists the shape fields of a WorkflowSpec that are set.
func (w *WorkflowSpec) shapes() []string {
	var s []string
	add := func(set bool, name string) {
		if set {
			s = append(s, name)
		}
	}
	add(w.Chain != nil, "chain")
	add(w.FanOut != nil, "fanout")
	add(w.DAG != nil, "dag")
	add(w.Map != nil, "map")
	add(w.Dynamic != nil, "dynamic")
	add(w.SubWorkflows != nil, "subworkflows")
	add(w.LaunchPlans != nil, "launchplans")
	add(w.Flyte != nil, "flyte")
	return s
}

// check validates a decoded entry; d locates the fields.
func (w *WorkflowSpec) check(d *decoder) error {
	if strings.TrimSpace(w.Description) == "" {
		return d.at("description", "missing: say in one line what the workflow measures")
	}
	if strings.ContainsAny(w.Description, "\n\r") {
		return d.at("description", "must be one line")
	}
	switch shapes := w.shapes(); len(shapes) {
	case 0:
		return d.at("", "missing shape: set one of chain, fanout, dag, map, dynamic, subworkflows, launchplans, flyte")
	case 1:
	default:
		return d.at(shapes[1], "conflicting shapes %s: a workflow has exactly one", strings.Join(shapes, " and "))
	}
	if err := checkSettings(d, "", Settings{Repetitions: w.Repetitions, Warmup: w.Warmup, Timeout: w.Timeout}); err != nil {
		return err
	}
	if w.Flyte != nil {
		return w.checkFlyte(d)
	}
	switch w.Inputs {
	case "":
		w.Inputs = InputsUnique
	case InputsUnique, InputsFixed:
	default:
		return d.at("inputs", "must be %q or %q, got %q", InputsUnique, InputsFixed, w.Inputs)
	}
	if w.MaxParallelism < 0 {
		return d.at("maxParallelism", "must be >= 0 (0 = unbounded), got %d", w.MaxParallelism)
	}
	if w.MaxParallelism > maxSize {
		return d.at("maxParallelism", "%d is beyond the %d this harness supports (0 = unbounded)", w.MaxParallelism, maxSize)
	}
	if w.Task.Duration < 0 {
		return d.at("task.duration", "must be >= 0, got %s", time.Duration(w.Task.Duration))
	}
	if time.Duration(w.Task.Duration) > maxTimeout {
		return d.at("task.duration", "%s is beyond the %s this harness supports", time.Duration(w.Task.Duration), maxTimeout)
	}
	if w.Task.OutputBytes < 0 {
		return d.at("task.outputBytes", "must be >= 0, got %d", w.Task.OutputBytes)
	}
	if w.Task.OutputBytes > maxOutputBytes {
		return d.at("task.outputBytes", "%d bytes is beyond the %d (1Gi) this harness supports", w.Task.OutputBytes, maxOutputBytes)
	}
	if w.Task.Retries < 0 {
		return d.at("task.retries", "must be >= 0, got %d", w.Task.Retries)
	}
	if w.Task.Retries > maxRetries {
		return d.at("task.retries", "%d is beyond the %d this harness supports", w.Task.Retries, maxRetries)
	}
	if w.Task.Version == "" {
		w.Task.Version = "v1"
	}
	type bound struct {
		path     string
		v, lo    int
		optional bool
		hi       int
	}
	var bounds []bound
	switch {
	case w.Chain != nil:
		bounds = []bound{{"chain.length", w.Chain.Length, 1, false, maxSize}}
	case w.FanOut != nil:
		bounds = []bound{{"fanout.width", w.FanOut.Width, 1, false, maxWidth}}
	case w.DAG != nil:
		bounds = []bound{{"dag.layers", w.DAG.Layers, 1, false, maxSize}, {"dag.width", w.DAG.Width, 1, false, maxWidth}}
	case w.Map != nil:
		bounds = []bound{{"map.size", w.Map.Size, 1, false, maxSize}, {"map.parallelism", w.Map.Parallelism, 0, true, maxSize}}
	case w.Dynamic != nil:
		bounds = []bound{{"dynamic.width", w.Dynamic.Width, 1, false, maxWidth}, {"dynamic.depth", w.Dynamic.Depth, 1, false, maxSize}}
	case w.SubWorkflows != nil:
		bounds = []bound{{"subworkflows.count", w.SubWorkflows.Count, 1, false, maxWidth}, {"subworkflows.length", w.SubWorkflows.Length, 1, false, maxSize}}
	case w.LaunchPlans != nil:
		bounds = []bound{{"launchplans.count", w.LaunchPlans.Count, 1, false, maxWidth}, {"launchplans.length", w.LaunchPlans.Length, 1, false, maxSize}}
	}
	for _, b := range bounds {
		_, written := d.pos[b.path]
		if !written && !b.optional {
			return d.at(b.path, "missing: must be an integer >= %d", b.lo)
		}
		if b.v < b.lo {
			return d.at(b.path, "must be >= %d, got %d", b.lo, b.v)
		}
		if b.v > b.hi {
			return d.at(b.path, "%d is beyond the %d this harness supports", b.v, b.hi)
		}
	}
	if n, at := w.size(); n > maxSize {
		return d.at(at, "the shape has %d nodes, beyond the %d this harness supports", n, maxSize)
	}
	if total := int64(w.tasks()) * int64(w.Task.OutputBytes); total > maxExecutionOutput {
		return d.at("task.outputBytes", "%d tasks writing %d bytes each write %d bytes per execution, beyond the %d (16Gi) this harness supports",
			w.tasks(), w.Task.OutputBytes, total, int64(maxExecutionOutput))
	}
	return nil
}

// bundledOnly are the fields that shape the bundled controller's
// Workflows; a flyte: entry's launch plan has its own tasks and inputs.
var bundledOnly = []string{"inputs", "offloadClosure", "maxParallelism", "task"}

// checkFlyte validates a flyte: entry.
func (w *WorkflowSpec) checkFlyte(d *decoder) error {
	// Flyte Admin takes execution names matching ^[a-z][a-z\-0-9]*$; an
	// execution's name starts with the workflow's.
	if w.Name[0] < 'a' || w.Name[0] > 'z' {
		return d.at("name", "%q: a flyte: entry's name must start with a letter (Flyte execution names do)", w.Name)
	}
	for _, f := range bundledOnly {
		if _, written := d.pos[f]; written {
			return d.at(f, "applies to the bundled controller's shapes; a flyte: entry's launch plan brings its own (inputs go under flyte.inputs)")
		}
	}
	if ps := w.Flyte.Problems(); len(ps) > 0 {
		return d.at(ps[0].Field, "%s", ps[0].Msg)
	}
	return nil
}

// nodes is the number of nodes a checked shape compiles to (a map node is
// one, whatever its items), and the field to blame when there are too many.
func (w *WorkflowSpec) nodes() (int, string) {
	switch {
	case w.Chain != nil:
		return w.Chain.Length, "chain.length"
	case w.FanOut != nil:
		return w.FanOut.Width, "fanout.width"
	case w.Map != nil:
		return 1, "map"
	}
	return w.size()
}

// tasks bounds the number of task pods one execution of a checked shape
// runs: its task nodes and map items (for a dynamic shape, every node).
func (w *WorkflowSpec) tasks() int {
	if w.Map != nil {
		return w.Map.Size
	}
	n, _ := w.nodes()
	return n
}

// size is the number of nodes a shape expands to (saturating above
// maxSize), and the field to blame when it is too many.
func (w *WorkflowSpec) size() (int, string) {
	switch {
	case w.DAG != nil:
		return w.DAG.Layers * w.DAG.Width, "dag"
	case w.SubWorkflows != nil:
		return w.SubWorkflows.Count * w.SubWorkflows.Length, "subworkflows"
	case w.LaunchPlans != nil:
		return w.LaunchPlans.Count * w.LaunchPlans.Length, "launchplans"
	case w.Dynamic != nil:
		total, level := 0, 1
		for range w.Dynamic.Depth {
			level *= w.Dynamic.Width
			if total += level; total > maxSize {
				break
			}
		}
		return total, "dynamic"
	}
	return 0, ""
}

// Limits: what this harness supports, with headroom over the largest
// legitimate entries (the scale tier's 5,000-item map and 2,000-node DAG,
// its 64 MiB outputs, 45-minute timeout and a handful of repetitions), so
// that a typo or a hostile file cannot ask for a billion pods or exhaust
// memory while planning. Each is refused at validation, naming the limit.
const (
	// maxSize bounds every size and a shape's node count, and maxWidth
	// the nodes that hang off one node (a fan-out, a DAG layer, parallel
	// sub-workflows, a dynamic level), whose edges are kept in lists.
	maxSize  = 100_000
	maxWidth = 10_000
	// maxRepetitions and maxWarmup bound a workflow's executions per
	// config, and maxExecutions those of a whole tier.
	maxRepetitions = 1_000
	maxWarmup      = 100
	maxExecutions  = 10_000
	// maxTimeout bounds an execution's timeout and a task's duration.
	maxTimeout = 24 * time.Hour
	// maxOutputBytes bounds one task's output, and maxExecutionOutput the
	// outputs of all the tasks of one execution.
	maxOutputBytes     = 1 << 30
	maxExecutionOutput = 16 << 30
	maxRetries         = 10
	// maxWorkflows and maxTiers bound a portfolio (all its files): every
	// workflow is validated in every tier.
	maxWorkflows = 500
	maxTiers     = 20
	// maxPortfolioNodes bounds the nodes of all the tiers' workflows
	// together, which validation compiles (about 5 µs and 600 bytes a
	// node): without it a 3.5 kB file of 40 100,000-node chains took 60 s
	// and 2.4 GB to validate. The built-in tiers hold 7,132.
	maxPortfolioNodes = 2_000_000
)
