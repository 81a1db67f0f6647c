package bench

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/benchctl/benchctl/portfolio"
	"github.com/benchctl/benchctl/portfolio/rundir"
	"github.com/benchctl/benchctl/reports"
)

// TestAdaptiveRepetitions runs the smoke tier (3 repetitions planned)
// with adaptive repetitions on the replayed executor: 3, then 5 samples
// have no 95% interval of the median, so every workflow gets two more
// repetitions at a time, up to the maximum when the target cannot be met,
// and each report says why and when each workflow stopped.
func TestAdaptiveRepetitions(t *testing.T) {
	tests := []struct {
		name       string
		precision  float64
		max        int
		wantReason string
		wantReps   int
	}{
		{"unreachable target: the maximum", 1e-9, 6, portfolio.StopMaxRepetitions, 6},
		// 5 planned, extended to the next multiple of 2: 6.
		{"loose target: the first finite interval", 0.99, 20, portfolio.StopPrecision, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			dir := filepath.Join(t.TempDir(), "run")
			b := f.benchmark(dir, "default")
			b.Adaptive = &portfolio.Adaptive{TargetPrecision: tt.precision, MaxRepetitions: tt.max}
			res, err := b.Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			m, err := rundir.Open(dir).ReadManifest()
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range m.Workflows {
				if w.Repetitions != tt.wantReps {
					t.Errorf("manifest: %s planned %d repetitions, want %d", w.Name, w.Repetitions, tt.wantReps)
				}
				if got := len(res.Run.Samples("default", w.Name)); got != tt.wantReps {
					t.Errorf("%s: %d measured executions, want %d", w.Name, got, tt.wantReps)
				}
			}
			r, err := reports.Load(res.Outcome.Reports[0].YAML)
			if err != nil {
				t.Fatal(err)
			}
			// A later 'benchctl aggregate' of the run says the same: the
			// stops are in the manifest, not only in the first reports.
			again, err := (&Aggregate{Dir: dir, OutputDir: filepath.Join(t.TempDir(), "again")}).Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			r2, err := reports.Load(again.Outcome.Reports[0].YAML)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range append(r.Workflows, r2.Workflows...) {
				if w.Stopped == nil || w.Stopped.Reason != tt.wantReason || w.Stopped.Repetitions != tt.wantReps || w.Executions != tt.wantReps {
					t.Errorf("%s: stopped %+v after %d executions, want %s at %d", w.Name, w.Stopped, w.Executions, tt.wantReason, tt.wantReps)
				}
				if w.Stopped != nil && w.Stopped.Reason == portfolio.StopPrecision && (w.Stopped.Precision == nil || *w.Stopped.Precision > tt.precision) {
					t.Errorf("%s: stopped on precision at %v, target %v", w.Name, w.Stopped.Precision, tt.precision)
				}
			}
		})
	}
	// Bad settings are input errors before anything runs.
	f := newFixture(t)
	b := f.benchmark(filepath.Join(t.TempDir(), "run"), "default")
	b.Adaptive = &portfolio.Adaptive{TargetPrecision: 0.02, MaxRepetitions: 2}
	if _, err := b.Run(context.Background()); err == nil || len(f.executor.executed) != 0 {
		t.Errorf("max below the planned repetitions: err %v, %d executed", err, len(f.executor.executed))
	} else if _, ok := err.(*InputError); !ok {
		t.Errorf("err %T %v, want an InputError", err, err)
	}
}
