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
	for i := range r.Workflows {
		att := make([]float64, r.Workflows[i].Executions)
		for j := range att {
			att[j] = 10
		}
		a := reports.NewStats(reports.UnitCount, att)
		r.Workflows[i].Attempts = &a
		r.Workflows[i].FloorMultiple = reports.NewFloorMultiple(&r.Workflows[i], r.Environment.Floor)
	}
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
	for _, want := range []string{"floor: 26.0ms/node", "× the floor (26.0ms/node)"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, text.String())
		}
	}
}

func TestFloorMultiple(t *testing.T) {
	f := testFloor(t, 3, 0.004, 0.005, 0.011) // 20 ms per node
	w := &reports.Workflow{Executions: 2}
	w.Overhead.Controller = reports.NewStats(reports.UnitSeconds, []float64{4, 6}) // node-seconds
	a := reports.NewStats(reports.UnitCount, []float64{100, 100})
	w.Attempts = &a
	got := reports.NewFloorMultiple(w, f)
	if got == nil || len(got.Samples) != 2 {
		t.Fatalf("got %+v", got)
	}
	for i, ctrl := range []float64{4, 6} {
		want := ctrl / 100 / f.PerNode
		if d := got.Samples[i] - want; d > 1e-12 || d < -1e-12 {
			t.Errorf("sample %d: %v, want %v", i, got.Samples[i], want)
		}
	}
	if reports.NewFloorMultiple(w, nil) != nil {
		t.Error("a multiple without a floor")
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
