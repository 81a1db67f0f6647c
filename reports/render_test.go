package reports_test

import (
	"bytes"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/benchctl/benchctl/reports"
	"github.com/benchctl/benchctl/reports/reportstest"
)

func TestWriteTextCapsNodes(t *testing.T) {
	s := reportstest.Default("default", 1, 5)
	s.Workflows = s.Workflows[2:]
	s.Workflows[0].Nodes = 30
	r := reportstest.MustBuild(s)
	tests := []struct {
		max, wantLines int
		wantMore       string
	}{
		{10, 10, "... 20 more nodes; the 10 above have the most controller overhead"},
		{0, 30, ""},
		{40, 30, ""},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		if err := reports.WriteText(&buf, r, reports.RenderOptions{MaxNodes: tt.max}); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		lines := regexp.MustCompile(`(?m)^  (n\d+): `).FindAllStringSubmatch(out, -1)
		if len(lines) != tt.wantLines {
			t.Errorf("max %d: %d node lines, want %d", tt.max, len(lines), tt.wantLines)
		}
		if tt.wantMore != "" != strings.Contains(out, "more nodes") || !strings.Contains(out, tt.wantMore) {
			t.Errorf("max %d: output lacks %q", tt.max, tt.wantMore)
		}
		if tt.max == 10 {
			// The ten shown are the ten with the largest median controller time.
			w := r.Workflows[0]
			meds := make([]float64, len(w.Nodes))
			for i, n := range w.Nodes {
				meds[i] = n.Controller.Median
			}
			slices.Sort(meds)
			cut := meds[len(meds)-10]
			for _, l := range lines {
				for _, n := range w.Nodes {
					if n.Name == l[1] && n.Controller.Median < cut {
						t.Errorf("%s shown with controller %v below the top-10 cut %v", n.Name, n.Controller.Median, cut)
					}
				}
			}
		}
	}
}

func TestFormatValue(t *testing.T) {
	tests := []struct {
		unit string
		x    float64
		want string
	}{
		{reports.UnitSeconds, 5.3412, "5.34s"},
		{reports.UnitSeconds, 0.37, "370ms"},
		{reports.UnitSeconds, 0.021, "21.0ms"},
		{reports.UnitSeconds, 0.00123, "1.23ms"},
		{reports.UnitSeconds, 0.000509, "509µs"},
		{reports.UnitSeconds, 42e-9, "42.0ns"},
		{reports.UnitSeconds, 0, "0s"},
		{reports.UnitSeconds, -0.0005, "-500µs"},
		{reports.UnitCount, 40, "40"},
		{reports.UnitCount, 40.5, "40.5"},
		{reports.UnitRatio, 0.069, "6.9%"},
	}
	for _, tt := range tests {
		if got := reports.FormatValue(tt.unit, tt.x); got != tt.want {
			t.Errorf("FormatValue(%s, %v) = %q, want %q", tt.unit, tt.x, got, tt.want)
		}
	}
}

// TestWriteTextNamesTheEngine: a report's summary says which engine ran
// it when the report names one; one of an older benchctl says nothing.
func TestWriteTextNamesTheEngine(t *testing.T) {
	tests := []struct {
		name   string
		engine *reports.Engine
		want   string
	}{
		{"flyte", &reports.Engine{Name: reports.EngineFlyte, Version: "v1.16.8"}, "engine flyte v1.16.8\n"},
		{"bundled", &reports.Engine{Name: reports.EngineBundled, Version: "v0.4.0"}, "engine bundled v0.4.0\n"},
		{"none", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := reportstest.MustBuild(reportstest.Default("default", 1, 5))
			r.Environment.Engine = tt.engine
			var buf bytes.Buffer
			if err := reports.WriteText(&buf, r, reports.DefaultRenderOptions); err != nil {
				t.Fatal(err)
			}
			if got := strings.Contains(buf.String(), "engine "); got != (tt.want != "") || !strings.Contains(buf.String(), tt.want) {
				t.Errorf("summary:\n%s\nwant the line %q", buf.String(), tt.want)
			}
		})
	}
}
