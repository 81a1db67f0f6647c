package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/benchctl/benchctl/reports"
)

// Diff compares two saved reports: 'benchctl diff'.
type Diff struct {
	// A is the baseline's file, B the other's.
	A, B    string
	Options reports.DiffOptions
	Gate    []reports.Threshold
	// JUnit, when set, receives the comparison as JUnit XML, or the
	// reason there is none, so a CI test tab shows why the job failed.
	JUnit string
}

// DiffResult is the comparison and the verdict on it.
type DiffResult struct {
	// A and B are the reports compared.
	A, B *reports.Report
	Diff *reports.Diff
	// Invalid is an InputError when either report is an invalid run: its
	// numbers cannot gate anything.
	Invalid error
	// Regressions counts the rows whose whole shift interval lies beyond a threshold.
	Regressions int
}

// Run loads, compares and gates. A report that cannot be read or
// compared is an InputError (also written to JUnit).
func (d *Diff) Run(ctx context.Context) (*DiffResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	fail := func(name string, err error) error {
		if d.JUnit != "" {
			var buf bytes.Buffer
			if jerr := reports.WriteJUnitError(&buf, name, err.Error()); jerr == nil {
				if werr := reports.WriteFile(d.JUnit, buf.Bytes()); werr != nil {
					err = errors.Join(err, fmt.Errorf("writing --junit: %w", werr))
				}
			}
		}
		return inputErr(err)
	}
	a, err := reports.Load(d.A)
	if err != nil {
		return nil, fail("load", err)
	}
	b, err := reports.Load(d.B)
	if err != nil {
		return nil, fail("load", err)
	}
	opts := d.Options
	opts.FileA, opts.FileB = d.A, d.B
	diff, err := reports.Compare(a, b, opts)
	if err != nil {
		return nil, fail("comparability", err)
	}
	if len(d.Gate) > 0 {
		if err := diff.ApplyGate(d.Gate); err != nil {
			return nil, fail("fail-on", err)
		}
	}
	if d.JUnit != "" {
		if err := writeAll(map[string]func(io.Writer) error{d.JUnit: diff.WriteJUnit}); err != nil {
			return nil, err
		}
	}
	res := &DiffResult{A: a, B: b, Diff: diff}
	for _, s := range []struct {
		file string
		r    *reports.Report
	}{{d.A, a}, {d.B, b}} {
		if !s.r.Validity.Valid && res.Invalid == nil {
			res.Invalid = inputErrorf("%s is an invalid run (%s); fix the run, its numbers cannot gate anything", s.file, s.r.Validity.Summary())
		}
	}
	if diff.Gate != nil && !diff.Gate.Passed() {
		res.Regressions = len(diff.Gate.Violations)
	}
	return res, nil
}
