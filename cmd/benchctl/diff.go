package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/benchctl/benchctl/cmd/internal/bench"
	"github.com/benchctl/benchctl/reports"
	"github.com/benchctl/benchctl/reports/page"
)

func init() { register(newDiffCmd) }

func newDiffCmd(*globals) *cobra.Command {
	var (
		output  *outputFlag
		failOn  []string
		junit   string
		showAll bool
	)
	opts := reports.DefaultDiffOptions
	cmd := &cobra.Command{
		Use:   "diff A.yaml B.yaml",
		Short: "Compare two reports with significance tests; gate CI on regressions",
		Long: `Compare report B against baseline A: every workflow (wall, setup, teardown,
user, kubernetes, controller), the nodes with the most overhead, and every
infrastructure metric. Each row shows A, B, the delta and the % change of the
medians, the shift: the Hodges-Lehmann estimate of B - A (the median of all
pairwise differences) with its distribution-free confidence interval at
1 - --alpha, in % of A's median (e.g. "+3.1% [+1.2%, +5.0%]"), and the
Mann-Whitney U test over the raw samples (golang.org/x/perf/benchmath, as
benchstat): '~' when the difference is not significant at --alpha, with p and
n either way. With few samples the interval cannot reach the level asked
(3+3 samples reach at most 90%): it then shows the level it has. A warning
says when there are too few samples for any difference ever to be
significant (n=3 can never reach p<0.05). Geomean rows summarise each
workflow metric.

A diff tests about 200 rows: at alpha 0.05 about 10 are significant by
chance alone, and the legend says how many. --correction holm bounds the
chance of any false significant row by alpha; --correction bh bounds the
expected share of false ones among the significant rows. Either adjusts p
(shown beside it) and the '~' verdicts; the intervals and --fail-on are not
adjusted.

Reports of a different schema, provider, portfolio hash, cluster node count
or Kubernetes version are refused unless --force, which the diff records.
Other environment differences (tier, host) are shown as warnings.

Gate (--fail-on, repeatable):
` + indentHelp(reports.ThresholdHelp) + `

Exit status:
  0  B is the same or better (no threshold exceeded)
  1  a regression beyond a --fail-on threshold: the whole interval of the
     shift lies beyond it
  2  usage error, unreadable or incomparable reports, or an invalid run
     (a report whose validity verdict is invalid)`,
		Example: `  # What changed between two configs:
  benchctl diff out/default.yaml out/workers-800.yaml

  # CI: fail when the wall time's interval lies wholly above +5%, or the
  # controller overhead's wholly above +20ms; write JUnit for the CI's test tab:
  benchctl diff base.yaml head.yaml --fail-on 'wall>+5%' --fail-on 'controller>20ms' --junit diff.xml

  # Gate one workflow's CRD updates and every p95 latency:
  benchctl diff base.yaml head.yaml --fail-on 'long-chain:crd.updates.count>+0' --fail-on '*.p95>+25%'

  # A page to read in a browser (self-contained, works offline):
  benchctl diff base.yaml head.yaml -o html > diff.html

  # A pull-request comment, every row included:
  benchctl diff base.yaml head.yaml -o markdown --all > comment.md

  # Stricter significance, machine-readable:
  benchctl diff base.yaml head.yaml --alpha 0.01 -o json

  # Hold the false discovery rate over all rows at 5%:
  benchctl diff base.yaml head.yaml --correction bh`,
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !(opts.Alpha > 0 && opts.Alpha < 1) {
				return usageError(fmt.Errorf("--alpha %v: want a level between 0 and 1, such as 0.05", opts.Alpha))
			}
			if !slices.Contains(reports.Corrections, opts.Correction) {
				return usageError(fmt.Errorf("--correction %q: want one of %s", opts.Correction, strings.Join(reports.Corrections, ", ")))
			}
			if opts.TopNodes < 0 {
				return usageError(fmt.Errorf("--top-nodes %d: want 0 or more", opts.TopNodes))
			}
			if err := output.check(); err != nil {
				return err
			}
			act := &bench.Diff{A: args[0], B: args[1], Options: opts, JUnit: junit}
			for _, f := range failOn {
				th, err := reports.ParseThreshold(f)
				if err != nil {
					return usageError(fmt.Errorf("--fail-on: %w", err))
				}
				act.Gate = append(act.Gate, th)
			}
			res, err := act.Run(cmd.Context())
			if err != nil {
				return err
			}
			d := res.Diff
			out := cmd.OutOrStdout()
			ro := reports.DiffRenderOptions{All: showAll}
			switch output.format {
			case formatText:
				err = d.WriteText(out, ro)
			case formatMarkdown:
				err = d.WriteMarkdown(out, ro)
			case formatYAML:
				err = d.WriteYAML(out)
			case formatJSON:
				err = d.WriteJSON(out)
			case formatHTML:
				err = page.Write(out, page.Page{Title: "benchctl diff", Diffs: []*reports.Diff{d},
					Sections:    []page.Section{{Source: args[0], Report: res.A}, {Source: args[1], Report: res.B}},
					NoTimelines: "Timelines come from runs' records: benchctl report show -o html RUN_DIR draws them."})
			}
			if err != nil {
				return err
			}
			if res.Invalid != nil {
				return res.Invalid
			}
			if res.Regressions > 0 {
				return withCode(exitFailure, fmt.Errorf("%d regression(s) beyond --fail-on thresholds: the whole interval of the shift lies beyond", res.Regressions))
			}
			return nil
		},
	}
	f := cmd.Flags()
	output = addOutputFlag(cmd, formatText, formatMarkdown, formatYAML, formatJSON, formatHTML)
	f.Float64Var(&opts.Alpha, "alpha", opts.Alpha, "significance level of the Mann-Whitney U test")
	f.StringVar(&opts.Correction, "correction", reports.CorrectionNone, "multiple-comparison correction of the p-values: "+strings.Join(reports.Corrections, ", "))
	f.StringArrayVar(&failOn, "fail-on", nil, "fail (exit 1) when the whole interval of a shift lies beyond this threshold, e.g. 'wall>+5%' (repeatable; grammar above)")
	f.StringVar(&junit, "junit", "", "also write JUnit XML to this file: one test case per compared metric")
	f.BoolVar(&opts.Force, "force", false, "compare reports of a different schema, provider, portfolio, node count or Kubernetes version anyway (recorded in the diff)")
	f.IntVar(&opts.TopNodes, "top-nodes", opts.TopNodes, "compare this many nodes per workflow with the most controller + kubernetes overhead, per report")
	f.BoolVar(&showAll, "all", false, "show every node and infrastructure row in text and markdown, not only significant ones")
	return cmd
}

func indentHelp(s string) string {
	return "  " + strings.ReplaceAll(s, "\n", "\n  ")
}
