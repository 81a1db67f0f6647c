package reports_test

import (
	"math"
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
