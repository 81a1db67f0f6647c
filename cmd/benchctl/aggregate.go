package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/benchctl/benchctl/cmd/internal/bench"
)

func init() { register(newAggregateCmd) }

func newAggregateCmd(*globals) *cobra.Command {
	var (
		a    bench.Aggregate
		gate gateFlags
	)
	cmd := &cobra.Command{
		Use:   "aggregate RUN_DIR",
		Short: "Turn a run's records into reports",
		Long: `Read the execution records, spans and metric scrapes of a run directory
(written by 'benchctl portfolio run' or 'benchctl run', even one that was
killed) and write one report per config: <config>.yaml (the versioned
report), <config>.txt (the summary), <config>.md and <config>.bench (Go
benchmark format, for benchstat); with several configs, the diff of each
against the first.

Every number is computed from the recorded spans: per task attempt the
instants ready, launched, started, finished and done give user time
(finished-started), kubernetes time (started-launched) and controller time
((launched-ready)+(done-finished)). Span counts are cross-checked against the
controller's and the kube-apiserver's metric deltas; failures, timeouts,
dropped spans and mismatches make the report invalid (exit code 1). Planned
executions that were never recorded (an interrupted run) are warnings.`,
		Example: `  benchctl aggregate ~/.local/share/benchctl/runs/20261122-101500-default
  benchctl aggregate /tmp/r1 --output-dir /tmp/r1-reports --fail-on 'wall>+5%'`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			g, err := gate.parse()
			if err != nil {
				return err
			}
			a.Dir, a.Gate, a.Progress = args[0], g, cmd.ErrOrStderr()
			res, err := a.Run(cmd.Context())
			if err != nil {
				return err
			}
			if err := printOutcome(cmd, res.Outcome); err != nil {
				return err
			}
			if !res.Run.Complete() {
				fmt.Fprintf(cmd.ErrOrStderr(), "the run is incomplete: %d of %d planned executions are recorded; continue it with 'benchctl run ... --output-dir %s --resume'\n",
					len(res.Run.Records), len(res.Run.Manifest.Plan), args[0])
			}
			return withCode(exitFailure, res.Outcome.Err())
		},
	}
	cmd.Flags().StringVar(&a.OutputDir, "output-dir", "", "where to write the reports (default: RUN_DIR/reports)")
	gate.flags(cmd.Flags())
	return cmd
}
