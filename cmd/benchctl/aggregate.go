package main

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/benchctl/benchctl/aggregate"
	"github.com/benchctl/benchctl/portfolio"
	"github.com/benchctl/benchctl/reports"
)

func init() { register(newAggregateCmd) }

func newAggregateCmd(*globals) *cobra.Command {
	var outDir string
	cmd := &cobra.Command{
		Use:   "aggregate RUN_DIR",
		Short: "Turn a run's records into reports",
		Long: `Read the execution records, spans and metric scrapes of a run directory
(written by 'benchctl portfolio run' or 'benchctl run') and write one report
per config: <config>.yaml (the versioned report), <config>.txt (the summary),
<config>.md and <config>.bench (Go benchmark format, for benchstat).

Every number is computed from the recorded spans: per task attempt the
instants ready, launched, started, finished and done give user time
(finished-started), kubernetes time (started-launched) and controller time
((launched-ready)+(done-finished)). Span counts are cross-checked against the
controller's and the kube-apiserver's metric deltas; failures, timeouts,
dropped spans and mismatches make the report invalid (exit code 1).`,
		Example: `  benchctl aggregate ~/.local/share/benchctl/runs/20261122-101500-default
  benchctl report show ~/.local/share/benchctl/runs/20261122-101500-default/reports/default.yaml`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			run, err := portfolio.LoadRun(args[0])
			if err != nil {
				return usageError(err)
			}
			if outDir == "" {
				outDir = filepath.Join(run.Dir, "reports")
			}
			outs, err := aggregate.WriteReports(run, outDir)
			if err != nil {
				return err
			}
			return printReports(cmd, outs)
		},
	}
	cmd.Flags().StringVar(&outDir, "output-dir", "", "where to write the reports (default: RUN_DIR/reports)")
	return cmd
}

// printReports prints each report's summary and where it is; an invalid
// report is exit code 1.
func printReports(cmd *cobra.Command, outs []aggregate.Output) error {
	var invalid []string
	for _, o := range outs {
		if err := reports.WriteText(cmd.OutOrStdout(), o.Report, reports.DefaultRenderOptions); err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "report: %s\n\n", o.YAML)
		if !o.Report.Validity.Valid {
			invalid = append(invalid, o.Config)
		}
	}
	if len(invalid) > 0 {
		return withCode(exitFailure, errors.New("invalid run for config(s) "+fmt.Sprint(invalid)+": see the validity section of the report"))
	}
	return nil
}
