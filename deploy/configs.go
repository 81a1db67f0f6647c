package deploy

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/benchctl/benchctl/reports/redact"
	"github.com/benchctl/benchctl/reports/yamlpos"

	"go.yaml.in/yaml/v3"
	"helm.sh/helm/v3/pkg/strvals"
	"k8s.io/apimachinery/pkg/util/validation"
)

//go:embed configs/*.yaml
var configFS embed.FS

// NamedConfig is a values overlay for the controller chart: the unit that
// benchctl compares. Its first line is a comment saying why it exists.
type NamedConfig struct {
	Name        string
	Description string
	// Source is "built-in" or the file it came from.
	Source string
	// Values is the overlay.
	Values map[string]any
	// file names the source in errors.
	file string
	root *yaml.Node
}

// Configs lists the built-in named configs, sorted by name with default
// first.
func Configs() ([]NamedConfig, error) {
	entries, err := fs.ReadDir(configFS, "configs")
	if err != nil {
		return nil, err
	}
	var out []NamedConfig
	for _, e := range entries {
		name := strings.TrimSuffix(e.Name(), ".yaml")
		b, err := configFS.ReadFile(path.Join("configs", e.Name()))
		if err != nil {
			return nil, err
		}
		c, err := parseConfig(name, "built-in", "deploy/configs/"+e.Name(), b)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool {
		if (out[i].Name == DefaultConfig) != (out[j].Name == DefaultConfig) {
			return out[i].Name == DefaultConfig
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// ConfigError is a bad config or value: the user's to fix.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

func configErr(err error) error {
	if err == nil {
		return nil
	}
	return &ConfigError{Err: err}
}

// DefaultConfig is the baseline config's name.
const DefaultConfig = "default"

// LoadConfig returns the built-in config with this name, or reads a values
// file when name is a path (contains a slash or ends in .yaml).
func LoadConfig(name string) (NamedConfig, error) {
	if strings.Contains(name, "/") || strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml") {
		b, err := os.ReadFile(name)
		if err != nil {
			return NamedConfig{}, fmt.Errorf("config file: %w", err)
		}
		base := strings.TrimSuffix(strings.TrimSuffix(path.Base(name), ".yaml"), ".yml")
		return parseConfig(base, name, name, b)
	}
	all, err := Configs()
	if err != nil {
		return NamedConfig{}, err
	}
	var names []string
	for _, c := range all {
		if c.Name == name {
			return c, nil
		}
		names = append(names, c.Name)
	}
	return NamedConfig{}, fmt.Errorf("unknown config %q: use one of %s, or a path to a values file (see 'benchctl configs')", name, strings.Join(names, ", "))
}

// maxConfigName is the longest config name: a config's name is its
// deployment's default name, which provision.ValidateName bounds.
const maxConfigName = 40

// maxConfigValues bounds the values a config's aliases may expand to (the
// chart has about a hundred), so that a small file cannot exhaust memory.
const maxConfigValues = 10_000

// checkConfigName refuses names that cannot name a deployment, its
// namespace and its files: a DNS label of at most maxConfigName characters.
func checkConfigName(file, name string) error {
	if len(validation.IsDNS1123Label(name)) > 0 || len(name) > maxConfigName {
		return fmt.Errorf("%s: config name %q (the file's name without .yaml) is not valid: use 1-%d lower-case letters, digits and '-', starting and ending with a letter or digit", file, name, maxConfigName)
	}
	return nil
}

// parseConfig decodes an overlay. CheckKeys and the chart's
// values.schema.json check its contents against the chart.
func parseConfig(name, source, file string, b []byte) (NamedConfig, error) {
	c := NamedConfig{Name: name, Source: source, file: file}
	if err := checkConfigName(file, name); err != nil {
		return c, err
	}
	first, _, _ := bytes.Cut(b, []byte("\n"))
	if d, ok := strings.CutPrefix(strings.TrimSpace(string(first)), "#"); ok {
		c.Description = strings.TrimSpace(d)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return c, fmt.Errorf("%s: %w", file, err)
	}
	if len(doc.Content) == 0 {
		c.Values = map[string]any{}
		return c, nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return c, fmt.Errorf("%s:%d: a config is a mapping of chart values, got a %s", file, root.Line, kindName(root.Kind))
	}
	c.root = root
	budget := maxConfigValues
	v, err := chartValue(file, root, "", &budget)
	if err != nil {
		return c, err
	}
	c.Values = v.(map[string]any)
	return c, nil
}

// chartValue converts a node to a chart value as Helm reads a values file:
// mappings with string keys, lists, strings, numbers, booleans and null,
// timestamps kept as the text written. What JSON (and so Helm's
// coalescing and schema check) cannot carry is refused on one line naming
// the file, the line and the key, rather than dropped later: NaN and
// infinities, complex and merge keys, duplicate keys. budget bounds the
// values that aliases expand to.
func chartValue(file string, n *yaml.Node, path string, budget *int) (any, error) {
	fail := func(n *yaml.Node, format string, args ...any) error {
		where := ""
		if path != "" {
			where = " " + path + ":"
		}
		return fmt.Errorf("%s:%d:%s %s", file, n.Line, where, fmt.Sprintf(format, args...))
	}
	if *budget--; *budget < 0 {
		return nil, fail(n, "the config expands (through its aliases) to more than %d values", maxConfigValues)
	}
	if n.Kind == yaml.AliasNode {
		return chartValue(file, n.Alias, path, budget)
	}
	switch n.Kind {
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		lines := make(map[string]int, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode || k.Tag == "!!merge" {
				return nil, fail(k, "unsupported key (merge keys and complex keys are not supported)")
			}
			p := yamlpos.Join(path, k.Value)
			if line, dup := lines[k.Value]; dup {
				return nil, fmt.Errorf("%s:%d: %s: duplicate key (first at line %d)", file, k.Line, p, line)
			}
			lines[k.Value] = k.Line
			v, err := chartValue(file, n.Content[i+1], p, budget)
			if err != nil {
				return nil, err
			}
			out[k.Value] = v
		}
		return out, nil
	case yaml.SequenceNode:
		out := make([]any, len(n.Content))
		for i, e := range n.Content {
			v, err := chartValue(file, e, fmt.Sprintf("%s[%d]", path, i), budget)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case yaml.ScalarNode:
		if n.Tag == "!!timestamp" {
			return n.Value, nil
		}
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, fail(n, "%s", strings.ReplaceAll(strings.TrimPrefix(err.Error(), "yaml: "), "\n", " "))
		}
		if f, ok := v.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
			return nil, fail(n, "%s is not a finite number, which chart values cannot hold", n.Value)
		}
		return v, nil
	}
	return nil, fail(n, "unsupported YAML node")
}

// CheckKeys rejects top-level keys the chart does not have, naming the
// line, since Helm would otherwise ignore a misspelt key silently.
func (c NamedConfig) CheckKeys(chartValues map[string]any) error {
	if c.root == nil {
		return nil
	}
	for i := 0; i < len(c.root.Content); i += 2 {
		k := c.root.Content[i]
		if _, ok := chartValues[k.Value]; !ok {
			known := make([]string, 0, len(chartValues))
			for name := range chartValues {
				known = append(known, name)
			}
			sort.Strings(known)
			return fmt.Errorf("%s:%d: unknown chart value %q (the chart has: %s)", c.file, k.Line, k.Value, strings.Join(known, ", "))
		}
	}
	return nil
}

// schemaError turns Helm's multi-line schema error into one line per
// violation, each naming the input that set the value: a --set flag, a
// -f file (with its line) or the config file (with its line).
func (c NamedConfig) schemaError(err error, in inputs) error {
	var parts []string
	for _, line := range strings.Split(err.Error(), "\n") {
		line = strings.TrimSpace(line)
		rest, ok := strings.CutPrefix(line, "- at '")
		if !ok {
			continue
		}
		path, msg, _ := strings.Cut(rest, "': ")
		keys := strings.Split(strings.Trim(path, "/"), "/")
		// "additional properties 'x' not allowed": point at x itself.
		if extra, ok := strings.CutPrefix(msg, "additional properties '"); ok {
			if name, _, ok := strings.Cut(extra, "'"); ok {
				keys = append(keys, name)
			}
		}
		field := strings.ReplaceAll(strings.Trim(path, "/"), "/", ".")
		parts = append(parts, fmt.Sprintf("%s: %s: %s", in.blame(c, keys), field, msg))
	}
	if len(parts) == 0 {
		return fmt.Errorf("%s: %s", c.file, redact.String(err.Error()))
	}
	// A --set argument and a value in a message may hold a credential.
	return fmt.Errorf("%s (checked against the chart's values.schema.json)", redact.String(strings.Join(parts, "; ")))
}

// inputs are the values a deployment merges over its named config, in
// the order helm applies them: -f files, then --set and --set-string.
type inputs struct {
	files []string
	set   []string // every --set and --set-string argument
}

// blame names where the value at keys came from, the last input winning
// as in helm: the --set argument, the -f file and line, or the config
// file and line.
func (in inputs) blame(c NamedConfig, keys []string) string {
	dotted := strings.Join(keys, ".")
	for i := len(in.set) - 1; i >= 0; i-- {
		// Parsed as Helm parses it (lists, escapes, ignored pieces), an
		// argument blames for what it sets, beneath it and above it.
		if set, err := strvals.Parse(in.set[i]); err == nil && sets(set, keys) {
			return "--set " + in.set[i]
		}
	}
	for i := len(in.files) - 1; i >= 0; i-- {
		b, err := os.ReadFile(in.files[i])
		if err != nil {
			continue
		}
		var doc yaml.Node
		if yaml.Unmarshal(b, &doc) != nil || len(doc.Content) == 0 {
			continue
		}
		if k, _, _, ok := yamlpos.Find(doc.Content[0], dotted); ok && k != nil {
			return fmt.Sprintf("%s:%d", in.files[i], k.Line)
		}
	}
	if c.root != nil {
		if k, _, _, ok := yamlpos.Find(c.root, dotted); ok && k != nil {
			return fmt.Sprintf("%s:%d", c.file, k.Line)
		}
	}
	return c.file
}

// sets says whether a values tree holds the value at keys (list indices
// as decimal keys, as in the JSON pointers of schema errors), a value
// beneath it, or a value that replaces one of its parents.
func sets(v any, keys []string) bool {
	for _, k := range keys {
		switch n := v.(type) {
		case map[string]any:
			e, ok := n[k]
			if !ok {
				return false
			}
			v = e
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(n) {
				return false
			}
			v = n[i]
		default:
			return true
		}
	}
	return true
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		return "scalar"
	default:
		return "document"
	}
}
