// Package bench owns a benchmark run from end to end: the actions that
// the benchctl commands run (Benchmark for run, compare and portfolio run;
// Aggregate for aggregate), each a struct whose fields are its options,
// with Run(ctx). The stages hand typed values on:
//
//	cluster (provision.Cluster) -> deployments (deploy.Deployment)
//	  -> run records (rundir.Run) -> reports (aggregate.Output) -> diffs
//
// and no stage reads back what the one before it returned. The stages are
// small interfaces (Clusters, Deployer, Executor), so the pipeline is
// tested with fakes and no cluster.
package bench

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/benchctl/benchctl/aggregate"
	"github.com/benchctl/benchctl/portfolio"
	"github.com/benchctl/benchctl/portfolio/rundir"
	"github.com/benchctl/benchctl/reports"
	"github.com/benchctl/benchctl/reports/page"
)

// InputError is a problem with what the user asked for (a flag, a file,
// a run directory that does not match): nothing was measured, and the
// command exits 2.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

func inputErr(err error) error {
	if err == nil {
		return nil
	}
	var ie *InputError
	if errors.As(err, &ie) {
		return err
	}
	return &InputError{Err: err}
}

// inputErrorf is an InputError from a format.
func inputErrorf(format string, args ...any) error {
	return &InputError{Err: fmt.Errorf(format, args...)}
}

// PortfolioSpec says which workflows run.
type PortfolioSpec struct {
	// Files are portfolio files merged in order; none means the built-in
	// portfolio.
	Files []string
	// Tier is smoke, default, scale or one the files declare.
	Tier      string
	Overrides portfolio.Overrides
}

// Compile loads and compiles the portfolio; bad input is an InputError.
func (s PortfolioSpec) Compile() (*portfolio.Compiled, error) {
	p, err := portfolio.Load(s.Files...)
	if err != nil {
		return nil, inputErr(err)
	}
	c, err := p.Compile(s.Tier)
	if err != nil {
		return nil, inputErr(err)
	}
	if err := c.Override(s.Overrides); err != nil {
		return nil, inputErr(err)
	}
	return c, nil
}

// DefaultRunDir is where a run's records and reports go unless the user
// says otherwise: $XDG_DATA_HOME/benchctl/runs/<time>-<tier>, else
// ~/.local/share/benchctl/runs/..., outside any source tree.
func DefaultRunDir(now time.Time, tier string) string {
	base := os.Getenv("XDG_DATA_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			home = os.TempDir()
		}
		base = filepath.Join(home, ".local", "share")
	}
	return filepath.Join(base, "benchctl", "runs", now.Format("20060102-150405")+"-"+tier)
}

// Gate is what turns comparisons into a verdict.
type Gate struct {
	// Thresholds fail the run on a significant regression beyond them.
	Thresholds []reports.Threshold
	// Alpha is the significance level (default 0.05).
	Alpha float64
	// Correction is the multiple-comparison correction of the p-values
	// (reports.Corrections; default none, as in benchstat).
	Correction string
	// Markdown and JUnit, when set, receive the first diff.
	Markdown, JUnit string
}

// DiffOutput is one comparison of a target with the baseline, and where
// it was written.
type DiffOutput struct {
	Base, Head string
	Diff       *reports.Diff
	// Stem is the path of the diff's files without extension.
	Stem string
}

// Outcome is the verdict of aggregated reports and their diffs.
type Outcome struct {
	Reports []aggregate.Output
	Diffs   []DiffOutput
	// Invalid names the targets whose report is invalid.
	Invalid []string
	// Regressions names the targets with a significant regression beyond
	// a threshold.
	Regressions []string
	// HTML is the page showing it all (reports/index.html).
	HTML string
}

// Err is the outcome as an error (nil when every report is valid and no
// threshold was crossed).
func (o *Outcome) Err() error {
	var errs []error
	if len(o.Invalid) > 0 {
		errs = append(errs, fmt.Errorf("invalid report for %v: see the validity section", o.Invalid))
	}
	if len(o.Regressions) > 0 {
		errs = append(errs, fmt.Errorf("significant regression beyond a --fail-on threshold in %v", o.Regressions))
	}
	return errors.Join(errs...)
}

// report aggregates run into its reports directory and compares every
// target with the first.
func report(run *rundir.Run, dir string, g Gate, progress io.Writer) (*Outcome, error) {
	start := time.Now()
	outs, err := aggregate.WriteReports(run, dir)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(progress, "aggregated %d execution(s) into %s in %.1fs\n", len(run.Records), dir, time.Since(start).Seconds())
	o := &Outcome{Reports: outs}
	for _, out := range outs {
		if !out.Report.Validity.Valid {
			o.Invalid = append(o.Invalid, out.Target)
		}
	}
	if err := o.diff(dir, g); err != nil {
		return o, err
	}
	o.HTML = filepath.Join(dir, "index.html")
	if err := writeAll(map[string]func(io.Writer) error{o.HTML: o.page(run.Dir).Render}); err != nil {
		return o, err
	}
	return o, nil
}

// page is the outcome as one HTML page: every report with its timelines,
// and the diffs.
func (o *Outcome) page(source string) *page.Page {
	p := &page.Page{Title: "benchctl run " + filepath.Base(source)}
	for _, r := range o.Reports {
		p.Sections = append(p.Sections, page.Section{Source: r.YAML, Report: r.Report, Timelines: r.Timelines})
	}
	for _, d := range o.Diffs {
		p.Diffs = append(p.Diffs, d.Diff)
	}
	return p
}

// compare diffs every report against the first one's and gates them.
func (o *Outcome) compare(g Gate) error {
	if len(o.Reports) < 2 {
		return nil
	}
	base := o.Reports[0]
	for _, out := range o.Reports[1:] {
		opts := reports.DefaultDiffOptions
		if g.Alpha > 0 {
			opts.Alpha = g.Alpha
		}
		if g.Correction != "" {
			opts.Correction = g.Correction
		}
		opts.FileA, opts.FileB = base.YAML, out.YAML
		d, err := reports.Compare(base.Report, out.Report, opts)
		if err != nil {
			return err
		}
		if len(g.Thresholds) > 0 {
			if err := d.ApplyGate(g.Thresholds); err != nil {
				return inputErr(err)
			}
		}
		o.Diffs = append(o.Diffs, DiffOutput{Base: base.Target, Head: out.Target, Diff: d})
		if d.Gate != nil && !d.Gate.Passed() {
			o.Regressions = append(o.Regressions, out.Target)
		}
	}
	return nil
}

// diff compares and writes each diff next to the reports (and the first
// one to --markdown and --junit).
func (o *Outcome) diff(dir string, g Gate) error {
	if err := o.compare(g); err != nil {
		return err
	}
	for i := range o.Diffs {
		d := &o.Diffs[i]
		d.Stem = filepath.Join(dir, "diff-"+d.Base+"-"+d.Head)
		files := map[string]func(io.Writer) error{
			d.Stem + ".txt":  func(w io.Writer) error { return d.Diff.WriteText(w, reports.DiffRenderOptions{}) },
			d.Stem + ".md":   func(w io.Writer) error { return d.Diff.WriteMarkdown(w, reports.DiffRenderOptions{}) },
			d.Stem + ".yaml": d.Diff.WriteYAML,
		}
		if i == 0 {
			if g.Markdown != "" {
				files[g.Markdown] = files[d.Stem+".md"]
			}
			if g.JUnit != "" {
				files[g.JUnit] = d.Diff.WriteJUnit
			}
		}
		if err := writeAll(files); err != nil {
			return err
		}
	}
	return nil
}

// writeAll renders each file and writes it whole.
func writeAll(files map[string]func(io.Writer) error) error {
	for path, render := range files {
		var b bytes.Buffer
		if err := render(&b); err != nil {
			return fmt.Errorf("render %s: %w", path, err)
		}
		if err := reports.WriteFile(path, b.Bytes()); err != nil {
			return err
		}
	}
	return nil
}
