package reports_test

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/benchctl/benchctl/reports"
	"github.com/benchctl/benchctl/reports/reportstest"
)

func findRow(t *testing.T, d *reports.Diff, workflow, node, metric string) reports.Row {
	t.Helper()
	for _, r := range d.Rows {
		if r.Workflow == workflow && r.Node == node && r.Metric == metric {
			return r
		}
	}
	t.Fatalf("no row %s/%s %s", workflow, node, metric)
	return reports.Row{}
}

func TestCompareIdenticalSamples(t *testing.T) {
	a := reportstest.MustBuild(reportstest.Default("default", 1, 10))
	b := reportstest.MustBuild(reportstest.Default("default", 1, 10)) // same seed: same samples
	d, err := reports.Compare(a, b, reports.DefaultDiffOptions)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Rows) < 50 {
		t.Fatalf("only %d rows", len(d.Rows))
	}
	for _, r := range d.Rows {
		if r.Significant || r.Verdict != "~" || r.Delta != 0 || r.P != 1 {
			t.Errorf("%s %s: verdict %q p %v delta %v, want ~ with p=1", r.Name(), r.Metric, r.Verdict, r.P, r.Delta)
		}
	}
	for _, g := range d.Geomeans {
		if g.Change != 0 {
			t.Errorf("geomean %s change %v", g.Metric, g.Change)
		}
	}
	var buf bytes.Buffer
	if err := d.WriteText(&buf, reports.DiffRenderOptions{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "~       +0.0% [+0.0%, +0.0%]  (p=1.000 n=10)") {
		t.Errorf("text lacks '~ +0.0%% [+0.0%%, +0.0%%] (p=1.000 n=10)':\n%s", buf.String())
	}
	for _, r := range d.Rows {
		if r.Shift == nil || *r.Shift != 0 || r.ShiftInterval.Lo > 0 || r.ShiftInterval.Hi < 0 {
			t.Errorf("%s %s: shift %v %+v, want 0 inside its interval", r.Name(), r.Metric, r.Shift, r.ShiftInterval)
		}
	}
}

// withWall replaces every workflow's wall samples; the report stays valid
// because NewStats derives the summary.
func withWall(r *reports.Report, seed uint64, mean, noise float64) *reports.Report {
	for i := range r.Workflows {
		r.Workflows[i].Wall = reports.NewStats(reports.UnitSeconds, reportstest.Shifted(seed+uint64(i), r.Workflows[i].Executions, mean, noise))
	}
	return r
}

func TestCompareKnownShifts(t *testing.T) {
	tests := []struct {
		name        string
		n           int
		shift       float64 // B's mean relative to A's
		wantSig     bool
		wantVerdict string
		wantTooFew  bool
	}{
		{"10% slower, n=10, 2% noise", 10, 1.10, true, "worse", false},
		{"10% faster, n=10, 2% noise", 10, 0.90, true, "better", false},
		{"5% slower, n=5, 2% noise", 5, 1.05, true, "worse", false},
		{"20% slower but n=3", 3, 1.20, false, "~", true},
		{"no shift, other samples", 10, 1.00, false, "~", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := withWall(reportstest.MustBuild(reportstest.Default("a", 1, tt.n)), 100, 2.0, 0.02)
			b := withWall(reportstest.MustBuild(reportstest.Default("b", 2, tt.n)), 200, 2.0*tt.shift, 0.02)
			d, err := reports.Compare(a, b, reports.DefaultDiffOptions)
			if err != nil {
				t.Fatal(err)
			}
			r := findRow(t, d, "short-chain", "", "wall")
			if r.Significant != tt.wantSig || r.Verdict != tt.wantVerdict || r.TooFew != tt.wantTooFew {
				t.Fatalf("significant %v verdict %q tooFew %v (p=%v minP=%v), want %v %q %v", r.Significant, r.Verdict, r.TooFew, r.P, r.MinP, tt.wantSig, tt.wantVerdict, tt.wantTooFew)
			}
			if tt.wantSig {
				want := 100 * (tt.shift - 1)
				if r.Change == nil || math.Abs(*r.Change-want) > 3 {
					t.Errorf("change %v%%, want about %v%%", r.Change, want)
				}
				if math.Signbit(r.Delta) != (tt.shift < 1) {
					t.Errorf("delta %v has the wrong sign", r.Delta)
				}
			}
			warned := false
			for _, w := range d.Warnings {
				if strings.Contains(w, "too few samples") && strings.Contains(w, "at least 4 repetitions") {
					warned = true
				}
			}
			if warned != tt.wantTooFew {
				t.Errorf("too-few warning %v, want %v: %q", warned, tt.wantTooFew, d.Warnings)
			}
			var buf bytes.Buffer
			if err := d.WriteText(&buf, reports.DiffRenderOptions{}); err != nil {
				t.Fatal(err)
			}
			if tt.wantTooFew && !strings.Contains(buf.String(), "warning: too few samples: with n=3+3 the smallest possible p is 0.100") {
				t.Errorf("text lacks the too-few warning:\n%s", buf.String())
			}
		})
	}
}

func TestMinPValue(t *testing.T) {
	tests := []struct {
		n1, n2 int
		want   float64
	}{
		{0, 5, 1}, {1, 1, 1}, {2, 2, 1.0 / 3}, {3, 3, 0.1}, {4, 4, 2.0 / 70}, {5, 5, 2.0 / 252}, {3, 4, 2.0 / 35},
	}
	for _, tt := range tests {
		if got := reports.MinPValue(tt.n1, tt.n2); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("MinPValue(%d, %d) = %v, want %v (2/C(n1+n2, n1))", tt.n1, tt.n2, got, tt.want)
		}
	}
	for alpha, want := range map[float64]int{0.05: 4, 0.01: 5, 0.1: 4, 0.2: 3} {
		if got := reports.MinSamples(alpha); got != want {
			t.Errorf("MinSamples(%v) = %d, want %d", alpha, got, want)
		}
	}
}

func TestCompareRefusesIncomparable(t *testing.T) {
	tests := []struct {
		name string
		edit func(b *reports.Report)
		want string
	}{
		{"portfolio hash", func(b *reports.Report) { b.Environment.Portfolio.Hash = "sha256:other" }, "portfolio hash differs"},
		{"provider", func(b *reports.Report) { b.Environment.Provider.Name = "kind" }, "provider differs (local vs kind)"},
		{"schema", func(b *reports.Report) { b.APIVersion = "benchctl/v2" }, "schema differs"},
		{"nodes", func(b *reports.Report) { b.Environment.Provider.Nodes++ }, "cluster node count differs"},
		{"kubernetes", func(b *reports.Report) { b.Environment.Provider.KubernetesVersion = "v1.30.0" }, "Kubernetes version differs ("},
		// A report naming no engine is the bundled controller's.
		{"engine", func(b *reports.Report) {
			b.Environment.Engine = &reports.Engine{Name: reports.EngineFlyte, Version: "v1.16.8"}
		}, "engine differs (bundled vs flyte)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := reportstest.MustBuild(reportstest.Default("a", 1, 5))
			b := reportstest.MustBuild(reportstest.Default("b", 2, 5))
			tt.edit(b)
			_, err := reports.Compare(a, b, reports.DefaultDiffOptions)
			var ie *reports.IncomparableError
			if !errors.As(err, &ie) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "--force") {
				t.Fatalf("err = %v, want an IncomparableError saying %q and naming --force", err, tt.want)
			}
			o := reports.DefaultDiffOptions
			o.Force = true
			d, err := reports.Compare(a, b, o)
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Incomparable) != 1 || !strings.Contains(d.Incomparable[0], tt.want) {
				t.Errorf("forced diff records %q", d.Incomparable)
			}
		})
	}
}

func TestCompareMismatchedWorkflows(t *testing.T) {
	a := reportstest.MustBuild(reportstest.Default("a", 1, 5))
	sb := reportstest.Default("b", 2, 5)
	sb.Workflows = sb.Workflows[:2]
	sb.Workflows[1].Nodes = 2 // fan-out lost node n2
	b := reportstest.MustBuild(sb)
	d, err := reports.Compare(a, b, reports.DefaultDiffOptions)
	if err != nil {
		t.Fatal(err)
	}
	if !slicesContain(d.Warnings, "workflow long-chain-100 is only in A") {
		t.Errorf("warnings %q", d.Warnings)
	}
	for _, r := range d.Rows {
		if r.Workflow == "long-chain-100" || r.Node == "n2" && r.Workflow == "fan-out" {
			t.Errorf("row for something only A has: %s %s", r.Name(), r.Metric)
		}
	}
}

func TestTopNodes(t *testing.T) {
	s := reportstest.Default("a", 1, 5)
	s.Workflows[2].Nodes = 30
	a := reportstest.MustBuild(s)
	b := reportstest.MustBuild(reportstest.Default("b", 2, 5))
	o := reports.DefaultDiffOptions
	o.TopNodes = 3
	d, err := reports.Compare(a, b, o)
	if err != nil {
		t.Fatal(err)
	}
	nodes := map[string]bool{}
	for _, r := range d.Rows {
		if r.Workflow == "long-chain-100" && r.Node != "" {
			nodes[r.Node] = true
		}
	}
	// Only 12 nodes are in both; at most 3 from each side.
	if len(nodes) < 3 || len(nodes) > 6 {
		t.Errorf("compared nodes %v, want the top 3 of each side", nodes)
	}
}

func slicesContain(xs []string, s string) bool {
	for _, x := range xs {
		if strings.Contains(x, s) {
			return true
		}
	}
	return false
}
