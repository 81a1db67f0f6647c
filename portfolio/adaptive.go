package portfolio

import (
	"fmt"
	"math"
	"time"

	"github.com/benchctl/benchctl/portfolio/rundir"
	"github.com/benchctl/benchctl/reports"
)

// Adaptive repetitions: after the planned repetitions, a workflow gets
// more, Batch at a time and interleaved as the plan interleaves them,
// until its wall time is measured precisely enough or it reaches
// MaxRepetitions.
//
// The stopping rule looks only at the width of an interval, never at
// whether a difference is significant, so it cannot stop "when the
// p-value dips" and the tests of the diff keep their error rates (up to
// the slight dependence of a width on the samples that any fixed-width
// sequential rule has). With one target the interval is that of the wall
// median (distribution-free, reports.Stats.MedianCI); with several, the
// Hodges–Lehmann interval of each target's wall shift against the first
// target, and every one must be narrow enough. An interval that has not
// reached the confidence asked for (too few samples) is never narrow
// enough.
type Adaptive struct {
	// TargetPrecision is the relative half-width to reach: 0.02 stops a
	// workflow once its interval is within ±2% of the first target's wall
	// median.
	TargetPrecision float64
	// MaxRepetitions bounds the measured repetitions of any workflow.
	MaxRepetitions int
	// Batch is how many repetitions are added at a time (default: the
	// length of the balanced design over the targets, BalancedOrder: 2
	// for two, 6 for three). Each extension ends on a multiple of it, so
	// that every target takes every position equally often whenever the
	// rule stops below MaxRepetitions; adding 2 at a time to three
	// targets left one target first more often than another, and the
	// first execution of a repetition can be slower (carry-over).
	Batch int
}

// Stop reasons.
const (
	// StopPrecision: the interval reached the target precision.
	StopPrecision = "precision"
	// StopMaxRepetitions: the maximum was reached first.
	StopMaxRepetitions = "max-repetitions"
	// StopFailed: an execution failed, so the workflow's samples are not
	// all there; more repetitions would not make it valid.
	StopFailed = "failed-execution"
)

// Check validates the settings against the planned repetitions.
func (a Adaptive) Check(planned int) error {
	switch {
	case !(a.TargetPrecision > 0 && a.TargetPrecision < 1):
		return fmt.Errorf("target precision %v: want a relative half-width between 0 and 1, such as 2%%", a.TargetPrecision)
	case a.MaxRepetitions < planned:
		return fmt.Errorf("--max-repetitions %d is below the %d repetitions the tier plans for a workflow: want at least as many", a.MaxRepetitions, planned)
	case a.Batch < 0:
		return fmt.Errorf("batch %d: want 1 or more", a.Batch)
	}
	return nil
}

func (a Adaptive) batch(targets int) int {
	if a.Batch > 0 {
		return a.Batch
	}
	return max(2, len(BalancedOrder(targets)))
}

// Decision is where one workflow stands.
type Decision struct {
	Workflow    string
	Repetitions int
	// Precision is the widest relative half-width of its intervals;
	// +Inf when an interval is missing or below the confidence asked.
	Precision float64
	// Reason is empty while more repetitions are needed.
	Reason string
}

// Decide looks at every workflow's measured executions in run (targets
// in plan order; the first is the baseline) and says which have stopped.
func (a Adaptive) Decide(run *rundir.Run, targets []string, workflows []string) []Decision {
	var out []Decision
	for _, w := range workflows {
		d := Decision{Workflow: w, Precision: math.Inf(1)}
		walls := make([][]float64, len(targets))
		failed := false
		for i, t := range targets {
			recs := run.Samples(t, w)
			d.Repetitions = max(d.Repetitions, len(recs))
			for _, r := range recs {
				if wall, ok := RunnerWall(r); ok {
					walls[i] = append(walls[i], wall.Seconds())
				} else {
					failed = true
				}
			}
		}
		d.Precision = precision(walls)
		switch {
		case failed:
			d.Reason = StopFailed
		case d.Precision <= a.TargetPrecision:
			d.Reason = StopPrecision
		case d.Repetitions >= a.MaxRepetitions:
			d.Reason = StopMaxRepetitions
		}
		out = append(out, d)
	}
	return out
}

// Extend appends the next batch of repetitions of every workflow still
// going to the plan, interleaved as Plan interleaves them (never beyond
// MaxRepetitions), and returns it with how many workflows got more.
func (a Adaptive) Extend(plan []rundir.PlanEntry, targets []string, ds []Decision) ([]rundir.PlanEntry, int) {
	n := 0
	for _, d := range ds {
		if d.Reason != "" {
			continue
		}
		b := a.batch(len(targets))
		to := min((d.Repetitions/b+1)*b, a.MaxRepetitions)
		plan = AppendRepetitions(plan, d.Workflow, targets, false, d.Repetitions+1, to)
		n++
	}
	return plan, n
}

// RunnerWall is the runner's own wall time of a recorded execution: the
// create call's return to the watch seeing the end. It needs no
// aggregation, so the runner can decide between executions; the report's
// wall (to the update that persisted Succeeded, from the spans) is a few
// milliseconds shorter. ok is false for an execution that did not succeed.
func RunnerWall(r *rundir.Record) (time.Duration, bool) {
	if !r.Succeeded() || r.Created == 0 || r.Observed < r.Created {
		return 0, false
	}
	return time.Duration(r.Observed - r.Created), true
}

// precision is the widest relative half-width: of the wall median's
// interval with one target, of each target's shift interval against the
// first with several.
func precision(walls [][]float64) float64 {
	if len(walls) == 0 || len(walls[0]) == 0 {
		return math.Inf(1)
	}
	base := reports.NewStats(reports.UnitSeconds, walls[0])
	if len(walls) == 1 {
		if r, ok := base.NoiseRatio(); ok {
			return r
		}
		return math.Inf(1)
	}
	worst := 0.0
	for _, w := range walls[1:] {
		sh, ok := reports.HodgesLehmann(walls[0], w, reports.Confidence)
		if !ok || sh.Interval.Confidence < reports.Confidence || base.Median == 0 {
			return math.Inf(1)
		}
		worst = math.Max(worst, (sh.Interval.Hi-sh.Interval.Lo)/2/math.Abs(base.Median))
	}
	return worst
}
