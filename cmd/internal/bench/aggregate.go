package bench

import (
	"context"
	"errors"
	"io"

	"github.com/benchctl/benchctl/portfolio/rundir"
)

// Aggregate rebuilds the reports and diffs of a run directory from its
// records alone: what 'benchctl aggregate' does, after the run or after
// it was killed, when the cluster may be gone.
type Aggregate struct {
	// Dir is the run directory.
	Dir string
	// OutputDir receives the reports (default: the run's reports/).
	OutputDir string
	Gate      Gate
	Progress  io.Writer
}

// AggregateResult is the run as read and what aggregating it made.
type AggregateResult struct {
	Run     *rundir.Run
	Outcome *Outcome
}

// Run aggregates. A directory that holds no run is an InputError.
func (a *Aggregate) Run(ctx context.Context) (*AggregateResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if a.Progress == nil {
		a.Progress = io.Discard
	}
	run, err := rundir.Load(a.Dir)
	if err != nil {
		if errors.Is(err, rundir.ErrNoRun) {
			return nil, inputErr(err)
		}
		return nil, inputErr(err)
	}
	out := a.OutputDir
	if out == "" {
		out = rundir.Open(a.Dir).ReportsDir()
	}
	o, err := report(run, out, a.Gate, a.Progress)
	if err != nil {
		return nil, err
	}
	return &AggregateResult{Run: run, Outcome: o}, nil
}
