package deploy

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
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

// parseConfig decodes an overlay. CheckKeys and the chart's
// values.schema.json check its contents against the chart.
func parseConfig(name, source, file string, b []byte) (NamedConfig, error) {
	c := NamedConfig{Name: name, Source: source, file: file}
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
	if err := root.Decode(&c.Values); err != nil {
		return c, fmt.Errorf("%s: %w", file, err)
	}
	if c.Values == nil {
		c.Values = map[string]any{}
	}
	return c, nil
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
