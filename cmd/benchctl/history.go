package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/benchctl/benchctl/cmd/internal/bench"
	"github.com/benchctl/benchctl/reports/history"
)

func init() { register(newHistoryCmd) }

func newHistoryCmd(*globals) *cobra.Command {
	var (
		output  *outputFlag
		showAll bool
		order   string
	)
	act := &bench.History{Options: history.BuildOptions{Options: history.DefaultOptions}}
	cmd := &cobra.Command{
		Use:   "history DIR|REPORT.yaml...",
		Short: "Find the commits where a metric shifted, over a series of reports",
		Long: `Order reports (by run start, or as given with --order args) and find, for
every workflow metric, critical-path part and infrastructure statistic, the
change points of its series of medians with E-Divisive means (Matteson &
James 2014, "A Nonparametric Approach for Multiple Change Point Analysis of
Multivariate Data", JASA 109(505)), each kept only when a permutation test
(seeded, so the same reports give the same answer) finds it significant at
--alpha. Each change point names the report and commit from which the metric
shifted, the level before and after, and its p-value.

Every metric is tested: with 150 metrics at alpha 0.05 about 7 show a change
point by chance alone; the summary says how many to expect.

A DIR is searched recursively for reports (every *.yaml but diff-*.yaml), so
a directory of kept run directories works as it is. The reports must be of
one config (--config chooses one) and comparable: reports whose provider,
node count, Kubernetes version, portfolio or schema differ from the first
are refused unless --force, which the output records.

This is for a CI job that keeps the report of every commit of main; see
scripts/github/history.yml.`,
		Example: `  # The change points over every report kept under history/:
  benchctl history history/

  # One config of a directory of run directories, as a page with a chart per
  # metric that shifted (--all: every metric):
  benchctl history --config default runs/ -o html > history.html

  # Reports in the order given (oldest commit first), machine-readable:
  benchctl history --order args history/0001-3a166b4.yaml history/0002-9fc23e5.yaml history/0003-10d2490.yaml -o json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError(fmt.Errorf("%s takes at least one DIR or REPORT; see '%s --help'", cmd.CommandPath(), cmd.CommandPath()))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			o := &act.Options
			if !(o.Alpha > 0 && o.Alpha < 1) {
				return usageError(fmt.Errorf("--alpha %v: want a level between 0 and 1, such as 0.05", o.Alpha))
			}
			if o.Permutations < 19 {
				return usageError(fmt.Errorf("--permutations %d: want at least 19 (the smallest p is 1/(permutations+1))", o.Permutations))
			}
			if o.MinSize < 2 {
				return usageError(fmt.Errorf("--min-size %d: want 2 or more", o.MinSize))
			}
			switch order {
			case "time":
				act.ByTime = true
			case "args":
			default:
				return usageError(fmt.Errorf("--order %q: want time or args", order))
			}
			if err := output.check(); err != nil {
				return err
			}
			act.Paths = args
			h, err := act.Run(cmd.Context())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			switch output.format {
			case formatText:
				return h.WriteText(out)
			case formatYAML:
				return h.WriteYAML(out)
			case formatJSON:
				return h.WriteJSON(out)
			case formatHTML:
				return h.WriteHTML(out, showAll)
			}
			return nil
		},
	}
	f := cmd.Flags()
	output = addOutputFlag(cmd, formatText, formatYAML, formatJSON, formatHTML)
	f.StringVar(&act.Config, "config", "", "only the reports of this config (needed when the reports are of several)")
	f.StringVar(&order, "order", "time", "order of the series: time (run start) or args (as given)")
	f.Float64Var(&act.Options.Alpha, "alpha", act.Options.Alpha, "significance level of each change point's permutation test")
	f.IntVar(&act.Options.Permutations, "permutations", act.Options.Permutations, "permutations per test")
	f.IntVar(&act.Options.MinSize, "min-size", act.Options.MinSize, "fewest reports on either side of a change point")
	f.Uint64Var(&act.Options.Seed, "seed", act.Options.Seed, "seed of the permutations")
	f.BoolVar(&act.Options.Force, "force", false, "analyse reports of a different provider, node count, Kubernetes version or portfolio anyway (recorded)")
	f.BoolVar(&showAll, "all", false, "with -o html, chart every metric, not only those that shifted")
	return cmd
}
