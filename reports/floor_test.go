package reports_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/benchctl/benchctl/reports"
	"github.com/benchctl/benchctl/reports/reportstest"
)

// testFloor is a floor whose three parts have medians create, delivery
// and update (seconds), each from 60 seeded samples.
func testFloor(t *testing.T, seed uint64, create, delivery, update float64) *reports.Floor {
	t.Helper()
	f := &reports.Floor{Measured: time.Unix(1e9, 0).UTC(), Client: "qps 100 burst 200", Small: "s (1 nodes)", Large: "l (100 nodes)"}
	for i, op := range []struct {
		name   string
		median float64
	}{{reports.FloorPodCreate, create}, {reports.FloorWatchDelivery, delivery}, {reports.FloorWorkflowUpdateLarge, update}} {
		xs := reportstest.Shifted(seed+uint64(i), 60, op.median, op.median/20)
		f.Operations = append(f.Operations, reports.FloorOperation{Name: op.name, Latency: reports.NewStats(reports.UnitSeconds, xs)})
	}
	if err := f.SetPerNode(); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestFloorPerNodeIsTheSumOfItsParts(t *testing.T) {
	f := testFloor(t, 1, 0.004, 0.005, 0.017)
	var sum float64
	for _, name := range reports.FloorParts {
		sum += f.Operation(name).Median
	}
	if f.PerNode != sum || f.PerNodeCI == nil || f.PerNodeCI.Lo > sum || f.PerNodeCI.Hi < sum {
		t.Fatalf("perNode %v (CI %+v), want %v inside its interval", f.PerNode, f.PerNodeCI, sum)
	}
	tests := []struct {
		name   string
		mutate func(*reports.Floor)
		want   string // "" = valid
	}{
		{"as measured", func(*reports.Floor) {}, ""},
		{"typed-in perNode", func(f *reports.Floor) { f.PerNode /= 2 }, "floor.perNode: is"},
		{"typed-in interval", func(f *reports.Floor) { f.PerNodeCI.Hi *= 2 }, "floor.perNodeCI"},
		{"a part missing", func(f *reports.Floor) { f.Operations = f.Operations[1:] }, "no pod.create measured"},
		{"a part's median typed in", func(f *reports.Floor) { f.Operations[2].Latency.Median = 1 }, "floor.operations[2].latency.median"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := testFloor(t, 1, 0.004, 0.005, 0.017)
			tt.mutate(g)
			err := g.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("valid floor refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestFloorRoundTripsThroughAReport(t *testing.T) {
	r := reportstest.MustBuild(reportstest.Default("default", 1, 8))
	r.Environment.Floor = testFloor(t, 2, 0.004, 0.005, 0.017)
	var buf bytes.Buffer
	if err := reports.Encode(&buf, r); err != nil {
		t.Fatal(err)
	}
	got, err := reports.Decode(buf.Bytes(), "r.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got.Environment.Floor == nil || got.Environment.Floor.PerNode != r.Environment.Floor.PerNode {
		t.Fatalf("floor lost or changed: %+v", got.Environment.Floor)
	}
	var text bytes.Buffer
	if err := reports.WriteText(&text, got, reports.DefaultRenderOptions); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"floor: 26.0ms/node [", "pod create 4.00ms + watch delivery 5.00ms + update of l (100 nodes) 17.0ms"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, text.String())
		}
	}
}

func TestFloorMultiple(t *testing.T) {
	f := testFloor(t, 3, 0.004, 0.005, 0.011) // 20 ms per node
	path := &reports.CriticalPath{Parts: []reports.PathPart{{Name: reports.PathController, Seconds: reports.NewStats(reports.UnitSeconds, []float64{4, 6})}}}
	steps := reports.NewStats(reports.UnitCount, []float64{100, 100})
	tests := []struct {
		name  string
		w     *reports.Workflow
		f     *reports.Floor
		wantN int // 0: no multiple
	}{
		{"chain of 100", &reports.Workflow{Executions: 2, CriticalPath: path, PathSteps: &steps}, f, 2},
		{"no floor", &reports.Workflow{Executions: 2, CriticalPath: path, PathSteps: &steps}, nil, 0},
		{"no critical path", &reports.Workflow{Executions: 2, PathSteps: &steps}, f, 0},
		{"no steps (all cached)", &reports.Workflow{Executions: 2, CriticalPath: path, PathSteps: &reports.Stats{Samples: []float64{0, 0}}}, f, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := reports.NewFloorMultiple(tt.w, tt.f)
			if tt.wantN == 0 {
				if got != nil {
					t.Fatalf("got %+v, want none", got)
				}
				return
			}
			if got == nil || len(got.Samples) != tt.wantN {
				t.Fatalf("got %+v", got)
			}
			for i, ctrl := range []float64{4, 6} {
				want := ctrl / 100 / f.PerNode
				if d := got.Samples[i] - want; d > 1e-12 || d < -1e-12 {
					t.Errorf("sample %d: %v, want %v", i, got.Samples[i], want)
				}
			}
		})
	}
}

func TestDiffWarnsWhenFloorsDiffer(t *testing.T) {
	tests := []struct {
		name     string
		a, b     *reports.Floor
		wantWarn string
	}{
		{"same cluster", testFloor(t, 4, 0.004, 0.005, 0.017), testFloor(t, 5, 0.004, 0.005, 0.017), ""},
		{"twice the floor", testFloor(t, 4, 0.004, 0.005, 0.017), testFloor(t, 5, 0.008, 0.010, 0.034), "calibrated floors differ beyond their noise"},
		{"one without", testFloor(t, 4, 0.004, 0.005, 0.017), nil, "only one report carries a calibrated floor"},
		{"neither", nil, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := reportstest.MustBuild(reportstest.Default("a", 1, 8))
			b := reportstest.MustBuild(reportstest.Default("b", 2, 8))
			a.Environment.Floor, b.Environment.Floor = tt.a, tt.b
			d, err := reports.Compare(a, b, reports.DefaultDiffOptions)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, w := range d.Warnings {
				if strings.Contains(w, "floor") {
					found = true
					if tt.wantWarn == "" || !strings.Contains(w, tt.wantWarn) {
						t.Errorf("warning %q, want %q", w, tt.wantWarn)
					}
				}
			}
			if tt.wantWarn != "" && !found {
				t.Errorf("no floor warning in %q", d.Warnings)
			}
		})
	}
}

func TestWriteFloorText(t *testing.T) {
	f := testFloor(t, 6, 0.004, 0.005, 0.017)
	f.Etcd = []reports.Histogram{{Name: "etcd_disk_wal_fsync_duration_seconds", Count: 10, Mean: 0.0005, P50: 0.0004, P90: 0.0009}}
	var buf bytes.Buffer
	if err := reports.WriteFloorText(&buf, f); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"pod.create", "watch.delivery", "workflow.update.large", "etcd_disk_wal_fsync_duration_seconds", "floor: 26.0ms/node"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("lacks %q:\n%s", want, buf.String())
		}
	}
}
