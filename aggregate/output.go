package aggregate

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/benchctl/benchctl/portfolio/rundir"
	"github.com/benchctl/benchctl/reports"
)

// Output is one target's report and where it was written.
type Output struct {
	Target   string
	Report   *reports.Report
	YAML     string
	Text     string
	Markdown string
	Bench    string
	// Timelines are the measured executions drawn in time, for the HTML
	// report.
	Timelines []reports.Timeline
}

// Reports builds every target's report of a run, with its timelines,
// without writing anything.
func Reports(run *rundir.Run) ([]Output, error) {
	ms := measureAll(run)
	var outs []Output
	for _, t := range run.Manifest.Targets {
		r, timelines, err := buildReport(run, t.Name, ms)
		if err != nil {
			return nil, err
		}
		outs = append(outs, Output{Target: t.Name, Report: r, Timelines: timelines})
	}
	return outs, nil
}

// WriteReports builds every target's report of a run and writes, into
// outDir, <target>.yaml (the report), <target>.txt (the summary),
// <target>.md and <target>.bench (Go benchmark format for benchstat).
func WriteReports(run *rundir.Run, outDir string) ([]Output, error) {
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", outDir, err)
	}
	ms := measureAll(run)
	var outs []Output
	for _, t := range run.Manifest.Targets {
		r, timelines, err := buildReport(run, t.Name, ms)
		if err != nil {
			return outs, err
		}
		base := filepath.Join(outDir, t.Name)
		o := Output{Target: t.Name, Report: r, Timelines: timelines, YAML: base + ".yaml", Text: base + ".txt", Markdown: base + ".md", Bench: base + ".bench"}
		if err := reports.Save(o.YAML, r); err != nil {
			return outs, err
		}
		for _, f := range []struct {
			path  string
			write func(*bytes.Buffer) error
		}{
			{o.Text, func(b *bytes.Buffer) error { return reports.WriteText(b, r, reports.DefaultRenderOptions) }},
			{o.Markdown, func(b *bytes.Buffer) error { return reports.WriteMarkdown(b, r, reports.DefaultRenderOptions) }},
			{o.Bench, func(b *bytes.Buffer) error { return reports.WriteBenchfmt(b, r) }},
		} {
			var b bytes.Buffer
			if err := f.write(&b); err != nil {
				return outs, fmt.Errorf("render %s: %w", f.path, err)
			}
			if err := reports.WriteFile(f.path, b.Bytes()); err != nil {
				return outs, err
			}
		}
		outs = append(outs, o)
	}
	return outs, nil
}
