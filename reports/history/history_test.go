package history_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/benchctl/benchctl/reports"
	"github.com/benchctl/benchctl/reports/history"
	"github.com/benchctl/benchctl/reports/reportstest"
)

// seriesOf is n synthetic reports of one config, one a day; from index
// step on, short-chain's controller is scale times slower.
func seriesOf(n, step int, scale float64) []history.Entry {
	var out []history.Entry
	for i := range n {
		s := reportstest.Default("default", uint64(10+i), 5)
		if i >= step {
			s.Workflows[0].Scale = scale
		}
		r := reportstest.MustBuild(s)
		r.Run.Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i)
		r.Environment.Controller.Commit = fmt.Sprintf("c%02d", i)
		out = append(out, history.Entry{Source: fmt.Sprintf("r%02d.yaml", i), Report: r})
	}
	return out
}

func TestBuildFindsStep(t *testing.T) {
	tests := []struct {
		name   string
		n      int
		step   int
		scale  float64
		wantAt int // -1: no change point in short-chain's controller
	}{
		{"+30% controller from report 6 of 12", 12, 6, 1.30, 6},
		{"+30% controller from report 9 of 14", 14, 9, 1.30, 9},
		{"-25% controller from report 4 of 10", 10, 4, 0.75, 4},
		{"no change", 12, 99, 1, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			entries := seriesOf(tt.n, tt.step, tt.scale)
			// Out of order on input: sorted by run start.
			entries[0], entries[len(entries)-1] = entries[len(entries)-1], entries[0]
			history.SortEntries(entries)
			h, err := history.Build(entries, history.BuildOptions{Options: history.DefaultOptions})
			if err != nil {
				t.Fatal(err)
			}
			var found *history.Series
			for i := range h.Series {
				if s := &h.Series[i]; s.Workflow == "short-chain" && s.Metric == "controller" {
					found = s
				}
			}
			if found == nil || len(found.Points) != tt.n {
				t.Fatalf("no full short-chain controller series: %+v", found)
			}
			if tt.wantAt < 0 {
				if len(found.Changes) != 0 {
					t.Errorf("changes %+v in a series without a step", found.Changes)
				}
				return
			}
			if len(found.Changes) != 1 || found.Changes[0].Report != tt.wantAt {
				t.Fatalf("changes %+v, want one at report %d", found.Changes, tt.wantAt)
			}
			c := found.Changes[0]
			if c.Commit != fmt.Sprintf("c%02d", tt.wantAt) || c.P > 0.05 {
				t.Errorf("change %+v: want commit c%02d, p <= 0.05", c, tt.wantAt)
			}
			if want := 100 * (tt.scale - 1); c.ShiftPercent == nil || *c.ShiftPercent < want-5 || *c.ShiftPercent > want+5 {
				t.Errorf("shift %v%%, want about %v%%", c.ShiftPercent, want)
			}
			var buf bytes.Buffer
			if err := h.WriteText(&buf); err != nil {
				t.Fatal(err)
			}
			if !regexp.MustCompile(fmt.Sprintf(`(?m)^short-chain +controller +%d +c%02d +`, tt.wantAt, tt.wantAt)).MatchString(buf.String()) {
				t.Errorf("text lacks the change:\n%s", buf.String())
			}
			buf.Reset()
			if err := h.WriteJSON(&buf); err != nil {
				t.Fatal(err)
			}
			var doc map[string]any
			if err := json.Unmarshal(buf.Bytes(), &doc); err != nil || doc["kind"] != history.Kind {
				t.Errorf("JSON: %v kind %v", err, doc["kind"])
			}
			buf.Reset()
			if err := h.WriteHTML(&buf, false); err != nil {
				t.Fatal(err)
			}
			// The report page draws it (reports/page's browser test
			// checks the charts); here: the page carries this history.
			if html := buf.String(); !strings.Contains(html, `id="data"`) || !strings.Contains(html, `"kind":"`+history.Kind+`"`) || !strings.Contains(html, `"all":false`) {
				t.Errorf("HTML is not the report page carrying the history:\n%.400s", html)
			}
		})
	}
}

func TestBuildRefusesIncomparable(t *testing.T) {
	entries := seriesOf(8, 99, 1)
	entries[5].Report.Environment.Provider.Nodes = 7
	entries[6].Report.Environment.Provider.KubernetesVersion = "v1.29.0"
	_, err := history.Build(entries, history.BuildOptions{})
	var ie *history.IncomparableError
	if !errors.As(err, &ie) || len(ie.Reasons) != 2 || !strings.Contains(err.Error(), "r05.yaml") ||
		!strings.Contains(err.Error(), "node count") || !strings.Contains(err.Error(), "Kubernetes version") {
		t.Fatalf("err = %v, want both reports named", err)
	}
	h, err := history.Build(entries, history.BuildOptions{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Incomparable) != 2 {
		t.Errorf("forced history records %q", h.Incomparable)
	}
	if _, err := history.Build(nil, history.BuildOptions{}); err == nil {
		t.Error("no reports accepted")
	}
}

// TestFloorShiftIsFlagged: reports carrying a calibrated floor get a
// floor series; a cluster whose floor doubles from report 6 on shows a
// change point there and a warning that change points there may be the
// cluster's, while a steady floor shows none.
func TestFloorShiftIsFlagged(t *testing.T) {
	tests := []struct {
		name  string
		scale float64
		warn  bool
	}{{"steady cluster", 1, false}, {"floor doubles at report 6", 2, true}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			entries := seriesOf(12, 99, 1)
			for i, e := range entries {
				f := &reports.Floor{Measured: e.Report.Run.Start, Client: "qps 100 burst 200", Small: "s", Large: "l"}
				m := 0.010 * (1 + 0.01*float64(i%3))
				if i >= 6 {
					m *= tt.scale
				}
				for _, name := range reports.FloorParts {
					xs := reportstest.Shifted(uint64(100+i), 60, m, m/50)
					f.Operations = append(f.Operations, reports.FloorOperation{Name: name, Latency: reports.NewStats(reports.UnitSeconds, xs)})
				}
				if err := f.SetPerNode(); err != nil {
					t.Fatal(err)
				}
				e.Report.Environment.Floor = f
			}
			h, err := history.Build(entries, history.BuildOptions{Options: history.DefaultOptions})
			if err != nil {
				t.Fatal(err)
			}
			var floor *history.Series
			for i := range h.Series {
				if h.Series[i].Metric == history.FloorMetric {
					floor = &h.Series[i]
				}
			}
			if floor == nil || len(floor.Points) != 12 {
				t.Fatalf("no floor series of 12 points: %+v", floor)
			}
			warned := strings.Contains(strings.Join(h.Warnings, "\n"), "calibrated floor shifted")
			if warned != tt.warn || (tt.warn && (len(floor.Changes) != 1 || floor.Changes[0].Report != 6)) {
				t.Errorf("warned %v (want %v), floor changes %+v, warnings %q", warned, tt.warn, floor.Changes, h.Warnings)
			}
		})
	}
}
