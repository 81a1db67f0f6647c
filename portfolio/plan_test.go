package portfolio

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/benchctl/benchctl/controller/api/v1alpha1"
	"github.com/benchctl/benchctl/portfolio/rundir"
)

// TestBalancedOrder checks the Williams design for 1..9 targets: every
// row is a permutation, the design is as long as it should be, over the
// whole design every target takes every position equally often and
// directly follows every other target equally often, and the first n
// rows are a Latin square.
func TestBalancedOrder(t *testing.T) {
	for n := 1; n <= 9; n++ {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			d := BalancedOrder(n)
			wantLen := n
			if n%2 == 1 && n > 1 {
				wantLen = 2 * n
			}
			if len(d) != wantLen {
				t.Fatalf("%d rows, want %d", len(d), wantLen)
			}
			pos := make([][]int, n) // pos[target][position]
			for i := range pos {
				pos[i] = make([]int, n)
			}
			follows := map[[2]int]int{}
			for _, row := range d {
				sorted := slices.Sorted(slices.Values(row))
				for i, v := range sorted {
					if v != i {
						t.Fatalf("row %v is not a permutation of 0..%d", row, n-1)
					}
				}
				for p, x := range row {
					pos[x][p]++
					if p > 0 {
						follows[[2]int{row[p-1], x}]++
					}
				}
			}
			for x := range n {
				for p := range n {
					if pos[x][p] != len(d)/n {
						t.Errorf("target %d is at position %d %d times, want %d: %v", x, p, pos[x][p], len(d)/n, d)
					}
				}
			}
			if n > 1 {
				want := len(d) * (n - 1) / (n * (n - 1)) // pairs per design over ordered pairs
				for x := range n {
					for y := range n {
						if x != y && follows[[2]int{x, y}] != want {
							t.Errorf("%d directly before %d %d times, want %d: %v", x, y, follows[[2]int{x, y}], want, d)
						}
					}
				}
			}
			for p := range n {
				col := map[int]bool{}
				for _, row := range d[:n] {
					col[row[p]] = true
				}
				if len(col) != n {
					t.Errorf("the first %d rows are not a Latin square: column %d has %d targets", n, p, len(col))
				}
			}
		})
	}
}

// TestPlanBalanced counts, per workflow, how often each config takes each
// position in the measured repetitions of a plan. When the repetitions
// are a multiple of the design's length (n for even n, 2n for odd) every
// count is equal; otherwise each differs from r/n by less than one
// repetition (floor or ceil). Warm-ups keep the given order.
func TestPlanBalanced(t *testing.T) {
	tests := []struct {
		targets, reps int
		exact         bool
	}{
		{2, 2, true}, {2, 5, false}, {2, 10, true},
		{3, 6, true}, {3, 12, true}, {3, 5, false}, {3, 20, false},
		{4, 4, true}, {4, 8, true}, {4, 5, false},
		{5, 10, true}, {5, 7, false}, {6, 6, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d targets, %d repetitions", tt.targets, tt.reps), func(t *testing.T) {
			c := &Compiled{Name: "p", Tier: TierDefault, Workflows: []*Workflow{
				{Name: "x", Repetitions: tt.reps, Warmup: 1}, {Name: "y", Repetitions: tt.reps, Warmup: 0},
			}}
			var names []string
			for i := range tt.targets {
				names = append(names, string(rune('a'+i)))
			}
			plan := Plan(c, names)
			if len(plan) != (2*tt.reps+1)*tt.targets {
				t.Fatalf("%d entries, want %d", len(plan), (2*tt.reps+1)*tt.targets)
			}
			counts := map[string][]int{} // workflow/target -> per position
			seen := map[[2]any]int{}     // (workflow, rep) -> position so far
			for i, p := range plan {
				if p.Seq != i {
					t.Fatalf("entry %d has seq %d", i, p.Seq)
				}
				k := [2]any{p.Workflow + fmt.Sprint(p.Warmup), p.Repetition}
				at := seen[k]
				seen[k]++
				if p.Warmup {
					if p.Target != names[at] {
						t.Errorf("warm-up %d: %s at position %d, want the given order", p.Repetition, p.Target, at)
					}
					continue
				}
				key := p.Workflow + "/" + p.Target
				if counts[key] == nil {
					counts[key] = make([]int, tt.targets)
				}
				counts[key][at]++
			}
			lo, hi := tt.reps/tt.targets, (tt.reps+tt.targets-1)/tt.targets
			for key, cs := range counts {
				for pos, n := range cs {
					if tt.exact && n != tt.reps/tt.targets {
						t.Errorf("%s at position %d %d times, want exactly %d (%v)", key, pos, n, tt.reps/tt.targets, cs)
					}
					if n < lo || n > hi {
						t.Errorf("%s at position %d %d times, want %d..%d (%v)", key, pos, n, lo, hi, cs)
					}
				}
			}
			if len(counts) != 2*tt.targets {
				t.Errorf("counts for %d workflow/target pairs, want %d", len(counts), 2*tt.targets)
			}
		})
	}
}

// records are measured executions of one workflow on each target with
// the given runner wall times (ms), one slice per target.
func records(workflow string, targets []string, walls [][]float64) *rundir.Run {
	run := &rundir.Run{}
	for i, t := range targets {
		for rep, ms := range walls[i] {
			rec := &rundir.Record{PlanEntry: rundir.PlanEntry{Workflow: workflow, Target: t, Repetition: rep + 1},
				Created: 1_000_000_000, Phase: v1alpha1.WorkflowSucceeded}
			rec.Observed = rec.Created + int64(ms*1e6)
			run.Records = append(run.Records, rec)
		}
	}
	return run
}

func noisy(seed uint64, n int, mean, noise float64) []float64 {
	r := rand.New(rand.NewPCG(seed, 1))
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = mean * (1 + noise*r.NormFloat64())
	}
	return xs
}

func TestAdaptiveDecide(t *testing.T) {
	a := Adaptive{TargetPrecision: 0.02, MaxRepetitions: 20}
	tests := []struct {
		name    string
		targets []string
		walls   [][]float64
		failed  bool
		want    string
	}{
		{"one target, quiet, 10 reps", []string{"a"}, [][]float64{noisy(1, 10, 200, 0.005)}, false, StopPrecision},
		{"one target, noisy, 10 reps", []string{"a"}, [][]float64{noisy(2, 10, 200, 0.10)}, false, ""},
		{"one target, 5 reps: no 95% interval yet", []string{"a"}, [][]float64{noisy(3, 5, 200, 0.001)}, false, ""},
		{"one target, noisy, at the maximum", []string{"a"}, [][]float64{noisy(4, 20, 200, 0.10)}, false, StopMaxRepetitions},
		{"two targets, quiet, a clear shift", []string{"a", "b"}, [][]float64{noisy(5, 8, 200, 0.005), noisy(6, 8, 260, 0.005)}, false, StopPrecision},
		{"two targets, noisy", []string{"a", "b"}, [][]float64{noisy(7, 8, 200, 0.08), noisy(8, 8, 200, 0.08)}, false, ""},
		{"two targets, 3 reps: the interval cannot reach 95%", []string{"a", "b"}, [][]float64{{200, 200.1, 200.2}, {201, 201.1, 201.2}}, false, ""},
		{"a failed execution", []string{"a"}, [][]float64{noisy(9, 10, 200, 0.005)}, true, StopFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run := records("w", tt.targets, tt.walls)
			if tt.failed {
				run.Records[2].Phase = v1alpha1.WorkflowFailed
			}
			ds := a.Decide(run, tt.targets, []string{"w"})
			if len(ds) != 1 || ds[0].Reason != tt.want {
				t.Fatalf("decision %+v, want reason %q", ds, tt.want)
			}
			if d := ds[0]; d.Reason != StopFailed && (d.Reason == StopPrecision) != (d.Precision <= a.TargetPrecision) {
				t.Errorf("precision %v and reason %q disagree", d.Precision, d.Reason)
			}
			// Extend adds repetitions up to the next multiple of the
			// balanced design's length (at least 2), only while going on.
			plan, n := a.Extend(nil, tt.targets, ds)
			b := max(2, len(BalancedOrder(len(tt.targets))))
			added := (ds[0].Repetitions/b+1)*b - ds[0].Repetitions
			if (n == 1) != (tt.want == "") || len(plan) != n*added*len(tt.targets) {
				t.Fatalf("extended %d workflows, %d entries, want %d repetitions added", n, len(plan), added)
			}
			for i, p := range plan {
				if p.Seq != i || p.Warmup || p.Repetition <= ds[0].Repetitions {
					t.Errorf("entry %+v after %d repetitions", p, ds[0].Repetitions)
				}
			}
		})
	}
	// Three targets: from the 5 planned, extensions end on multiples of
	// the 6-row design, so that at 6 and at 12 every target has taken
	// every position equally often.
	three := []string{"a", "b", "c"}
	plan := AppendRepetitions(nil, "w", three, false, 1, 5)
	for _, at := range []int{6, 12} {
		plan, _ = a.Extend(plan, three, []Decision{{Workflow: "w", Repetitions: plan[len(plan)-1].Repetition}})
		if got := plan[len(plan)-1].Repetition; got != at {
			t.Fatalf("extended to %d repetitions, want %d", got, at)
		}
		pos := map[string]map[int]int{}
		for i, p := range plan {
			if pos[p.Target] == nil {
				pos[p.Target] = map[int]int{}
			}
			pos[p.Target][i%3]++
		}
		for _, tg := range three {
			for k := range 3 {
				if pos[tg][k] != at/3 {
					t.Errorf("at %d repetitions target %s took position %d %d times, want %d", at, tg, k, pos[tg][k], at/3)
				}
			}
		}
	}
	// Never beyond the maximum.
	b := Adaptive{TargetPrecision: 0.001, MaxRepetitions: 11}
	plan, _ = b.Extend(nil, []string{"a", "b"}, []Decision{{Workflow: "w", Repetitions: 10}})
	if len(plan) != 2 || plan[0].Repetition != 11 {
		t.Errorf("extension past the maximum: %+v", plan)
	}
	for _, bad := range []Adaptive{{TargetPrecision: 0, MaxRepetitions: 20}, {TargetPrecision: 1.5, MaxRepetitions: 20}, {TargetPrecision: 0.02, MaxRepetitions: 3}} {
		if err := bad.Check(5); err == nil {
			t.Errorf("%+v accepted with 5 planned", bad)
		}
	}
}
