package aggregate

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"sigs.k8s.io/yaml"

	"github.com/benchctl/benchctl/portfolio"
	"github.com/benchctl/benchctl/reports"
)

// The environment of each config is snapshotted into the run directory
// when the run starts, so a run can be aggregated again later, after its
// cluster and deployments are gone.
func environmentPath(runDir, config string) string {
	return filepath.Join(runDir, "environment-"+config+".yaml")
}

// SaveEnvironment records a config's environment in the run directory.
func SaveEnvironment(runDir, config string, env reports.Environment) error {
	b, err := yaml.Marshal(env)
	if err != nil {
		return fmt.Errorf("encode environment of %s: %w", config, err)
	}
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return err
	}
	p := environmentPath(runDir, config)
	if err := os.WriteFile(p+".tmp", b, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	return os.Rename(p+".tmp", p)
}

// LoadEnvironment reads a config's environment from the run directory.
func LoadEnvironment(runDir, config string) (reports.Environment, error) {
	var env reports.Environment
	p := environmentPath(runDir, config)
	b, err := os.ReadFile(p)
	if err != nil {
		return env, fmt.Errorf("environment of config %s: %w", config, err)
	}
	if err := yaml.UnmarshalStrict(b, &env); err != nil {
		return env, fmt.Errorf("%s: %w", p, err)
	}
	return env, nil
}

// Output is one config's report and where it was written.
type Output struct {
	Config   string
	Report   *reports.Report
	YAML     string
	Text     string
	Markdown string
	Bench    string
}

// WriteReports builds every config's report of a run and writes, into
// outDir, <config>.yaml (the report), <config>.txt (the summary),
// <config>.md and <config>.bench (Go benchmark format for benchstat).
func WriteReports(run *portfolio.Run, outDir string) ([]Output, error) {
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, err
	}
	var outs []Output
	for _, t := range run.Manifest.Targets {
		env, err := LoadEnvironment(run.Dir, t.Config)
		if err != nil {
			return outs, err
		}
		r, err := Build(run, t.Config, env)
		if err != nil {
			return outs, err
		}
		base := filepath.Join(outDir, t.Config)
		o := Output{Config: t.Config, Report: r, YAML: base + ".yaml", Text: base + ".txt", Markdown: base + ".md", Bench: base + ".bench"}
		if err := reports.Save(o.YAML, r); err != nil {
			return outs, err
		}
		for path, write := range map[string]func(*bytes.Buffer) error{
			o.Text:     func(b *bytes.Buffer) error { return reports.WriteText(b, r, reports.DefaultRenderOptions) },
			o.Markdown: func(b *bytes.Buffer) error { return reports.WriteMarkdown(b, r, reports.DefaultRenderOptions) },
			o.Bench:    func(b *bytes.Buffer) error { return reports.WriteBenchfmt(b, r) },
		} {
			var b bytes.Buffer
			if err := write(&b); err != nil {
				return outs, fmt.Errorf("render %s: %w", path, err)
			}
			if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
				return outs, fmt.Errorf("write %s: %w", path, err)
			}
		}
		outs = append(outs, o)
	}
	return outs, nil
}
