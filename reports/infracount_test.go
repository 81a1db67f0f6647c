package reports_test

import (
	"strings"
	"testing"
	"time"

	"github.com/benchctl/benchctl/reports"
)

// TestCountOnlyInfrastructure: an engine that knows how many operations an
// execution did but not how long each took gets a row of counts with no
// latency samples; it validates, survives a round trip, and diffs on its
// count alone.
func TestCountOnlyInfrastructure(t *testing.T) {
	build := func(rounds ...int) *reports.Report {
		var execs []reports.ExecutionSample
		for i, n := range rounds {
			execs = append(execs, reports.ExecutionSample{Wall: time.Duration(100+i) * time.Millisecond,
				Counts: map[string]int{reports.InfraRounds: n}})
		}
		w, err := reports.NewWorkflow("chain", execs)
		if err != nil {
			t.Fatal(err)
		}
		cfg, _ := reports.NewConfig("flyte", nil)
		return &reports.Report{APIVersion: reports.APIVersion, Kind: reports.KindReport,
			Environment: reports.Environment{Provider: reports.Provider{Name: "flyte"}, Config: cfg, Portfolio: reports.Portfolio{Name: "p", Hash: "sha256:x"}},
			Run:         reports.RunInfo{Repetitions: len(rounds), Interleaving: reports.Interleaving{Mode: reports.InterleaveNone}},
			Workflows:   []reports.Workflow{w}, Validity: reports.NewValidity()}
	}
	a, b := build(4, 4, 5, 4, 4), build(8, 9, 8, 8, 8)
	m := a.Workflows[0].Infrastructure
	if len(m) != 1 || m[0].Name != reports.InfraRounds || m[0].Count.Median != 4 || m[0].P50.N != 0 || m[0].Max.N != 0 {
		t.Fatalf("row %+v", m)
	}
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	path := t.TempDir() + "/a.yaml"
	if err := reports.Save(path, a); err != nil {
		t.Fatal(err)
	}
	if _, err := reports.Load(path); err != nil {
		t.Fatal(err)
	}
	d, err := reports.Compare(a, b, reports.DefaultDiffOptions)
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, r := range d.Rows {
		if strings.HasPrefix(r.Metric, reports.InfraRounds) {
			rows = append(rows, r.Metric)
		}
	}
	if strings.Join(rows, ",") != reports.InfraRounds+".count" {
		t.Errorf("diff rows %v, want the count alone", rows)
	}
	// A latency row still needs one latency sample per execution that did
	// an operation.
	bad := build(4, 4, 5, 4, 4)
	bad.Workflows[0].Infrastructure[0].P50 = reports.NewStats(reports.UnitSeconds, []float64{0.1})
	if err := bad.Validate(); err == nil {
		t.Error("a row with some latency samples but not one per active execution validated")
	}
}
