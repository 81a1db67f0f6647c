package reports_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/benchctl/benchctl/reports"
)

func TestNewStats(t *testing.T) {
	tests := []struct {
		name    string
		samples []float64
		want    reports.Stats // Samples, Unit filled in by the test
	}{
		{name: "empty", samples: nil, want: reports.Stats{N: 0}},
		{name: "one", samples: []float64{2.5},
			want: reports.Stats{N: 1, Min: 2.5, Median: 2.5, Mean: 2.5, P90: 2.5, Max: 2.5, Stddev: 0}},
		{name: "five, too few for a CI", samples: []float64{5, 1, 4, 2, 3},
			// R8 p90 of 1..5: h = 1/3 + 0.9*(5+1/3) = 5.1333 > n, so the max.
			want: reports.Stats{N: 5, Min: 1, Median: 3, Mean: 3, P90: 5, Max: 5, Stddev: math.Sqrt(2.5)}},
		{name: "six, the fewest with a 95% CI", samples: []float64{6, 5, 4, 3, 2, 1},
			// CI [x(1), x(6)] covers the median with 1 - 2/2^6 = 0.96875.
			want: reports.Stats{N: 6, Min: 1, Median: 3.5, Mean: 3.5, P90: 6, Max: 6, Stddev: math.Sqrt(3.5),
				MedianCI: &reports.Interval{Lo: 1, Hi: 6, Confidence: 0.96875}}},
		{name: "ten", samples: []float64{10, 9, 8, 7, 6, 5, 4, 3, 2, 1},
			// h = 1/3 + 0.9*(10+1/3) = 9.6333: x9 + 0.6333*(x10-x9).
			// CI [x(2), x(9)]: 1 - 2*(1+10)/1024 = 0.978515625.
			want: reports.Stats{N: 10, Min: 1, Median: 5.5, Mean: 5.5, P90: 9 + (1.0/3 + 0.9*(10+1.0/3) - 9), Max: 10,
				Stddev: math.Sqrt(55.0 / 6), MedianCI: &reports.Interval{Lo: 2, Hi: 9, Confidence: 0.978515625}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := reports.NewStats(reports.UnitSeconds, tt.samples)
			w := tt.want
			if got.Unit != reports.UnitSeconds || got.N != w.N {
				t.Fatalf("unit %q n %d, want s %d", got.Unit, got.N, w.N)
			}
			for _, f := range []struct {
				name      string
				got, want float64
			}{{"min", got.Min, w.Min}, {"median", got.Median, w.Median}, {"mean", got.Mean, w.Mean},
				{"p90", got.P90, w.P90}, {"max", got.Max, w.Max}, {"stddev", got.Stddev, w.Stddev}} {
				if math.Abs(f.got-f.want) > 1e-12 {
					t.Errorf("%s = %v, want %v", f.name, f.got, f.want)
				}
			}
			switch {
			case (got.MedianCI == nil) != (w.MedianCI == nil):
				t.Errorf("medianCI = %+v, want %+v", got.MedianCI, w.MedianCI)
			case got.MedianCI != nil && *got.MedianCI != *w.MedianCI:
				t.Errorf("medianCI = %+v, want %+v", *got.MedianCI, *w.MedianCI)
			}
			if len(got.Samples) != len(tt.samples) {
				t.Fatalf("kept %d samples, want %d", len(got.Samples), len(tt.samples))
			}
			for i := range tt.samples {
				if got.Samples[i] != tt.samples[i] {
					t.Fatalf("samples reordered: %v, want execution order %v", got.Samples, tt.samples)
				}
			}
		})
	}
}

func TestNewBreakdown(t *testing.T) {
	b, err := reports.NewBreakdown([]float64{1, 2, 0}, []float64{0.5, 1, 0}, []float64{0.5, 1, 0})
	if err != nil {
		t.Fatal(err)
	}
	wantTotal := []float64{2, 4, 0}
	wantCtrl := []float64{0.25, 0.25, 0} // a zero total gives ratio 0, not NaN
	for i := range wantTotal {
		if b.Total.Samples[i] != wantTotal[i] || b.ControllerRatio.Samples[i] != wantCtrl[i] {
			t.Errorf("execution %d: total %v ratio %v, want %v %v", i, b.Total.Samples[i], b.ControllerRatio.Samples[i], wantTotal[i], wantCtrl[i])
		}
	}
	if b.UserRatio.Unit != reports.UnitRatio {
		t.Errorf("ratio unit %q", b.UserRatio.Unit)
	}
	if _, err := reports.NewBreakdown([]float64{1}, nil, []float64{1}); err == nil {
		t.Error("mismatched sample counts accepted")
	}
}

func TestNewInfraMetric(t *testing.T) {
	m := reports.NewInfraMetric("crd.updates", [][]float64{{0.004, 0.001, 0.002, 0.003}, {}, {0.010}})
	if got := m.Count.Samples; len(got) != 3 || got[0] != 4 || got[1] != 0 || got[2] != 1 {
		t.Errorf("counts %v, want [4 0 1]", got)
	}
	// The execution with no operation has no latency sample: two, not three.
	if m.P50.N != 2 || m.Max.N != 2 {
		t.Fatalf("latency samples p50 %d max %d, want 2", m.P50.N, m.Max.N)
	}
	if m.P50.Samples[0] != 0.0025 || m.Max.Samples[0] != 0.004 || m.P95.Samples[1] != 0.010 {
		t.Errorf("p50 %v max %v p95 %v", m.P50.Samples, m.Max.Samples, m.P95.Samples)
	}
}

func TestNewWorkflow(t *testing.T) {
	ms := time.Millisecond
	execs := []reports.ExecutionSample{
		{Wall: 100 * ms, Setup: 10 * ms, Teardown: 5 * ms,
			Nodes: []reports.NodeSample{{Name: "a", User: 40 * ms, Kubernetes: 10 * ms, Controller: 5 * ms}, {Name: "b", User: 20 * ms, Kubernetes: 4 * ms, Controller: 6 * ms}},
			Infra: map[string][]time.Duration{"custom": {ms}, reports.InfraPodCreates: {ms, 2 * ms}}},
		{Wall: 110 * ms, Setup: 12 * ms, Teardown: 6 * ms,
			Nodes: []reports.NodeSample{{Name: "a", User: 40 * ms, Kubernetes: 12 * ms, Controller: 7 * ms}},
			Infra: map[string][]time.Duration{reports.InfraPodCreates: {ms}}},
	}
	w, err := reports.NewWorkflow("wf", execs)
	if err != nil {
		t.Fatal(err)
	}
	if w.Executions != 2 || w.Wall.N != 2 {
		t.Fatalf("executions %d wall n %d", w.Executions, w.Wall.N)
	}
	if got := w.Overhead.Controller.Samples; math.Abs(got[0]-0.011) > 1e-12 || math.Abs(got[1]-0.007) > 1e-12 {
		t.Errorf("controller sums %v, want [0.011 0.007]", got)
	}
	if len(w.Nodes) != 2 || w.Nodes[0].Name != "a" || w.Nodes[1].User.N != 1 {
		t.Errorf("nodes %+v", w.Nodes)
	}
	if len(w.Infrastructure) != 2 || w.Infrastructure[0].Name != reports.InfraPodCreates || w.Infrastructure[1].Name != "custom" {
		t.Fatalf("infra order %v", w.Infrastructure)
	}
	if c := w.Infrastructure[1].Count.Samples; c[0] != 1 || c[1] != 0 {
		t.Errorf("custom counts %v, want [1 0]: absent in an execution counts zero", c)
	}
	dup := []reports.ExecutionSample{{Nodes: []reports.NodeSample{{Name: "a"}, {Name: "a"}}}}
	if _, err := reports.NewWorkflow("wf", dup); err == nil {
		t.Error("a node twice in one execution was accepted")
	}
}

// bruteUCDF enumerates every placement of m x's among m+n ranks: P(U <= u)
// for the number of (x, y) pairs with y below x.
func bruteUCDF(m, n int) []float64 {
	counts := make([]float64, m*n+1)
	var walk func(pos, xs, ys, u int)
	walk = func(pos, xs, ys, u int) {
		if xs == m && ys == n {
			counts[u]++
			return
		}
		if xs < m {
			walk(pos+1, xs+1, ys, u+ys) // an x above every y so far
		}
		if ys < n {
			walk(pos+1, xs, ys+1, u)
		}
	}
	walk(0, 0, 0, 0)
	total := 0.0
	for _, c := range counts {
		total += c
	}
	cum, acc := make([]float64, len(counts)), 0.0
	for u, c := range counts {
		acc += c
		cum[u] = acc / total
	}
	return cum
}

// TestHodgesLehmannRanks checks the interval's ranks and actual confidence
// against the enumerated U distribution. With a = 0..m-1 and b_j = j·m the
// m·n differences are the integers -(m-1) .. (n-1)m, each once, so the
// k-th smallest is k-m and the ranks can be read off the interval.
func TestHodgesLehmannRanks(t *testing.T) {
	tests := []struct {
		m, n int
		conf float64
	}{
		{1, 1, 0.95}, {2, 2, 0.95}, {3, 3, 0.95}, {3, 3, 0.80}, {4, 5, 0.95}, {6, 6, 0.95}, {10, 10, 0.95}, {5, 12, 0.99}, {10, 10, 0.90},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d+%d at %v", tt.m, tt.n, tt.conf), func(t *testing.T) {
			a, b := make([]float64, tt.m), make([]float64, tt.n)
			for i := range a {
				a[i] = float64(i)
			}
			for j := range b {
				b[j] = float64(j * tt.m)
			}
			sh, ok := reports.HodgesLehmann(a, b, tt.conf)
			if !ok {
				t.Fatal("no shift")
			}
			mn := tt.m * tt.n
			k := int(sh.Interval.Lo) + tt.m
			if hi := mn + 1 - k - tt.m; sh.Interval.Hi != float64(hi) {
				t.Fatalf("interval %+v: lo is rank %d, so hi should be rank %d = %d", sh.Interval, k, mn+1-k, hi)
			}
			cdf := bruteUCDF(tt.m, tt.n)
			cover := func(k int) float64 {
				if k-1 < 0 {
					return 1
				}
				return math.Max(0, 1-2*cdf[k-1])
			}
			if got, want := sh.Interval.Confidence, cover(k); math.Abs(got-want) > 1e-12 {
				t.Errorf("confidence %v, enumeration gives %v for rank %d", got, want, k)
			}
			switch {
			case cover(k) >= tt.conf && k+1 <= mn/2 && cover(k+1) >= tt.conf:
				t.Errorf("rank %d is not the narrowest: rank %d still covers %v", k, k+1, cover(k+1))
			case cover(k) < tt.conf && k != 1:
				t.Errorf("rank %d covers only %v < %v", k, cover(k), tt.conf)
			}
			// The estimate is the median difference: the middle of -(m-1)..(n-1)m.
			if want := (float64(-(tt.m - 1)) + float64((tt.n-1)*tt.m)) / 2; sh.Estimate != want {
				t.Errorf("estimate %v, want %v", sh.Estimate, want)
			}
		})
	}
	// Known values: 3+3 can reach only 1 - 2/20 = 0.9; 10+10 at 95% is
	// rank 24 (the two-sided 5% critical U is 23).
	if sh, _ := reports.HodgesLehmann([]float64{0, 1, 2}, []float64{0, 3, 6}, 0.95); sh.Interval.Confidence != 0.9 {
		t.Errorf("3+3 confidence %v, want 0.9", sh.Interval.Confidence)
	}
	a10, b10 := make([]float64, 10), make([]float64, 10)
	for i := range a10 {
		a10[i], b10[i] = float64(i), float64(10*i)
	}
	if sh, _ := reports.HodgesLehmann(a10, b10, 0.95); sh.Interval.Lo != 24-10 {
		t.Errorf("10+10 lower bound %v, want rank 24 (%d)", sh.Interval.Lo, 24-10)
	}
	// Beyond the exact table the normal approximation gives about the level asked.
	big := make([]float64, 60)
	for i := range big {
		big[i] = float64(i)
	}
	if sh, _ := reports.HodgesLehmann(big, big, 0.95); math.Abs(sh.Interval.Confidence-0.95) > 0.005 || sh.Interval.Confidence < 0.95 {
		t.Errorf("60+60 confidence %v, want just above 0.95", sh.Interval.Confidence)
	}
	if _, ok := reports.HodgesLehmann(nil, []float64{1}, 0.95); ok {
		t.Error("an empty sample gave a shift")
	}
}

// TestHodgesLehmannCoverage draws 1,000 seeded pairs of samples with a
// known shift and counts how often the 95% interval covers it: the
// interval is distribution-free, so skewed noise must do as well as
// normal noise.
func TestHodgesLehmannCoverage(t *testing.T) {
	tests := []struct {
		name  string
		m, n  int
		shift float64
		draw  func(r *rand.Rand) float64
	}{
		{"normal 10+10, +5%", 10, 10, 0.05, func(r *rand.Rand) float64 { return 1 + 0.02*r.NormFloat64() }},
		{"exponential 8+12, -30ms", 8, 12, -0.030, func(r *rand.Rand) float64 { return 0.2 + 0.05*r.ExpFloat64() }},
		{"lognormal 20+20, no shift", 20, 20, 0, func(r *rand.Rand) float64 { return math.Exp(0.3 * r.NormFloat64()) }},
		{"normal 6+6, +10%", 6, 6, 0.10, func(r *rand.Rand) float64 { return 1 + 0.05*r.NormFloat64() }},
	}
	const trials = 1000
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(42, uint64(tt.m*100+tt.n)))
			covered := 0
			var errs []float64
			for range trials {
				a, b := make([]float64, tt.m), make([]float64, tt.n)
				for i := range a {
					a[i] = tt.draw(r)
				}
				for j := range b {
					b[j] = tt.draw(r) + tt.shift
				}
				sh, ok := reports.HodgesLehmann(a, b, 0.95)
				if !ok {
					t.Fatal("no shift")
				}
				if sh.Interval.Confidence < 0.95 {
					t.Fatalf("confidence %v < 0.95 with %d+%d samples", sh.Interval.Confidence, tt.m, tt.n)
				}
				if sh.Interval.Lo <= tt.shift && tt.shift <= sh.Interval.Hi {
					covered++
				}
				errs = append(errs, sh.Estimate-tt.shift)
			}
			rate := float64(covered) / trials
			t.Logf("%s: the 95%% interval covered the true shift in %d of %d trials (%.1f%%)", tt.name, covered, trials, 100*rate)
			if rate < 0.93 {
				t.Errorf("coverage %.3f < 0.93", rate)
			}
			slices.Sort(errs)
			if med := errs[len(errs)/2]; math.Abs(med) > 0.01 {
				t.Errorf("the estimate is biased: median error %v", med)
			}
		})
	}
}
