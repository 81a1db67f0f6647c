package reports_test

import (
	"bytes"
	"encoding/xml"
	"math"
	"strings"
	"testing"

	"github.com/benchctl/benchctl/reports"
	"github.com/benchctl/benchctl/reports/reportstest"
)

func TestParseThreshold(t *testing.T) {
	good := []struct {
		spec     string
		workflow string
		metric   string
		increase bool
		amount   float64
		unit     string
	}{
		{"wall>+5%", "", "wall", true, 5, "%"},
		{"wall>5%", "", "wall", true, 5, "%"},
		{" controller > 50ms ", "", "controller", true, 0.05, reports.UnitSeconds},
		{"short-chain:wall>+2.5%", "short-chain", "wall", true, 2.5, "%"},
		{"crd.updates.count>+2", "", "crd.updates.count", true, 2, reports.UnitCount},
		{"*.p95>+20%", "", "*.p95", true, 20, "%"},
		{"long-*:node.*>+.5%", "long-*", "node.*", true, 0.5, "%"},
		{"wall<-5%", "", "wall", false, 5, "%"},
		{"setup<10ms", "", "setup", false, 0.01, reports.UnitSeconds},
		{"x>1.5s", "", "x", true, 1.5, reports.UnitSeconds},
		{"x>200us", "", "x", true, 200e-6, reports.UnitSeconds},
		{"x>200µs", "", "x", true, 200e-6, reports.UnitSeconds},
		{"x>250ns", "", "x", true, 250e-9, reports.UnitSeconds},
		{"x>2m", "", "x", true, 120, reports.UnitSeconds},
		{"x>1e1%", "", "x", true, 10, "%"},
	}
	for _, tt := range good {
		t.Run(tt.spec, func(t *testing.T) {
			th, err := reports.ParseThreshold(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			if th.Workflow != tt.workflow || th.Metric != tt.metric || th.Increase != tt.increase || th.Unit != tt.unit ||
				math.Abs(th.Amount-tt.amount) > 1e-15 {
				t.Errorf("got %+v", th)
			}
		})
	}
	bad := []struct{ spec, want string }{
		{"wall", "want [WORKFLOW:]METRIC"},
		{"wall>", "want [WORKFLOW:]METRIC"},
		{">5%", "want [WORKFLOW:]METRIC"},
		{"wall>=5%", "want [WORKFLOW:]METRIC"},
		{"wall>+5%%", "want [WORKFLOW:]METRIC"},
		{"wall>5parsecs", "want [WORKFLOW:]METRIC"},
		{"wall>-5%", "for a decrease write wall<5%"},
		{"wall<+5%", "for an increase write wall>+5%"},
		{"[a>5%", "bad glob"},
		{"a:b:c>5%", "want [WORKFLOW:]METRIC"},
	}
	for _, tt := range bad {
		t.Run(tt.spec, func(t *testing.T) {
			_, err := reports.ParseThreshold(tt.spec)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.spec) {
				t.Errorf("err = %v, want one quoting the spec and saying %q", err, tt.want)
			}
		})
	}
}

// examples are A and B of testdata: B's controller is 10% slower on
// short-chain, which makes short-chain's wall +0.65% (significant), and
// by chance fan-out's controller -1.4% (significant) and short-chain's
// teardown +1.4% (p=0.052, not significant).
func exampleDiff(t *testing.T) *reports.Diff {
	t.Helper()
	d, err := reports.Compare(exampleA(), exampleB(), reports.DefaultDiffOptions)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestApplyGate(t *testing.T) {
	tests := []struct {
		specs   []string
		want    []string // "workflow metric" of each violation
		wantErr string
	}{
		{specs: []string{"controller>+5%"}, want: []string{"short-chain controller"}},
		{specs: []string{"controller>+15%"}},
		{specs: []string{"controller>10ms"}, want: []string{"short-chain controller"}},
		{specs: []string{"controller>50ms"}},
		// fan-out's controller is -1.4% [-2.5%, -0.3%]: only a threshold
		// the whole interval is below fails.
		{specs: []string{"fan-out:controller<-0.2%"}, want: []string{"fan-out controller"}},
		{specs: []string{"fan-out:controller<-1%"}},
		{specs: []string{"fan-out:controller<-2%"}},
		// short-chain's controller is +10.24% by the medians, but its
		// interval [+9.5%, +11.0%] does not lie wholly above +10%.
		{specs: []string{"short-chain:controller>+10%"}},
		{specs: []string{"short-chain:controller>+9%"}, want: []string{"short-chain controller"}},
		{specs: []string{"wall>+0%"}, want: []string{"short-chain wall"}},
		{specs: []string{"teardown>+0%"}}, // +1.4% but p=0.052: not significant, no failure
		{specs: []string{"short-chain:node.controller>+5%"}, want: []string{
			"short-chain/n0 node.controller", "short-chain/n1 node.controller", "short-chain/n2 node.controller",
			"short-chain/n3 node.controller", "short-chain/n4 node.controller"}},
		{specs: []string{"fan-out:wall>+0%", "long-*:wall>+0%"}},
		{specs: []string{"nope>+5%"}, wantErr: "matches no compared metric"},
		{specs: []string{"wall>5"}, wantErr: "a bare number is a count"},
		{specs: []string{"crd.updates.count>1ms"}, wantErr: "with a time unit"},
		{specs: []string{"nowhere:wall>+5%"}, wantErr: "matches no compared metric"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.specs, " "), func(t *testing.T) {
			d := exampleDiff(t)
			err := d.ApplyGate(mustThresholds(t, tt.specs...))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, v := range d.Gate.Violations {
				r := d.Rows[v.Row]
				got = append(got, r.Name()+" "+r.Metric)
				if iv := r.ShiftInterval; iv == nil || iv.Confidence < 0.95 || (iv.Lo <= 0 && iv.Hi >= 0) {
					t.Errorf("violation on a row whose 95%% shift interval %+v includes 0: %s", iv, v.Message)
				}
				if !strings.Contains(v.Message, "the whole interval is beyond "+v.Threshold) {
					t.Errorf("message %q does not say the interval is beyond %s", v.Message, v.Threshold)
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("violations %q, want %q", got, tt.want)
			}
			if d.Gate.Passed() != (len(tt.want) == 0) {
				t.Errorf("Passed() = %v", d.Gate.Passed())
			}
		})
	}
}

func TestGateNeedsSignificance(t *testing.T) {
	// A 20% wall regression measured 3 times can never be significant
	// (smallest p 0.1), so it cannot fail the gate; the diff warns.
	a := withWall(reportstest.MustBuild(reportstest.Default("a", 1, 3)), 100, 2.0, 0.02)
	b := withWall(reportstest.MustBuild(reportstest.Default("b", 2, 3)), 200, 2.4, 0.02)
	d, err := reports.Compare(a, b, reports.DefaultDiffOptions)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.ApplyGate(mustThresholds(t, "wall>+5%")); err != nil {
		t.Fatal(err)
	}
	if !d.Gate.Passed() {
		t.Errorf("gate failed on differences that cannot be significant: %+v", d.Gate.Violations)
	}
	// The interval is there, at the lower level 3+3 samples allow.
	r := findRow(t, d, "short-chain", "", "wall")
	if r.ShiftPercentInterval == nil || r.ShiftPercentInterval.Confidence != 0.9 || r.ShiftPercentInterval.Lo < 10 {
		t.Errorf("3+3 interval %+v, want one above +10%% at 90%%", r.ShiftPercentInterval)
	}
	var buf bytes.Buffer
	if err := d.WriteText(&buf, reports.DiffRenderOptions{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "] at 90%") {
		t.Errorf("text does not give the interval's 90%% level:\n%s", buf.String())
	}
}

type junitDoc struct {
	Tests    int `xml:"tests,attr"`
	Failures int `xml:"failures,attr"`
	Errors   int `xml:"errors,attr"`
	Suites   []struct {
		Tests int `xml:"tests,attr"`
		Cases []struct {
			ClassName string `xml:"classname,attr"`
			Name      string `xml:"name,attr"`
			Failure   *struct {
				Message string `xml:"message,attr"`
			} `xml:"failure"`
			Error *struct {
				Message string `xml:"message,attr"`
			} `xml:"error"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func TestWriteJUnit(t *testing.T) {
	tests := []struct {
		name         string
		invalidB     bool
		specs        []string
		wantFailures int
		wantErrors   int
	}{
		{"passing", false, []string{"controller>+15%"}, 0, 0},
		{"regression", false, []string{"controller>+5%", "wall>+0%"}, 2, 0},
		{"invalid run", true, nil, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := exampleB()
			if tt.invalidB {
				b.Validity = reports.NewValidity(reports.NewReason(reports.ReasonDroppedSpans, "fan-out", "12 spans dropped"))
			}
			d, err := reports.Compare(exampleA(), b, reports.DefaultDiffOptions)
			if err != nil {
				t.Fatal(err)
			}
			if err := d.ApplyGate(mustThresholds(t, tt.specs...)); err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := d.WriteJUnit(&buf); err != nil {
				t.Fatal(err)
			}
			var doc junitDoc
			if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
				t.Fatalf("not XML: %v\n%s", err, buf.String())
			}
			if doc.Failures != tt.wantFailures || doc.Errors != tt.wantErrors || doc.Tests != len(d.Rows)+2 {
				t.Fatalf("tests %d failures %d errors %d, want %d %d %d", doc.Tests, doc.Failures, doc.Errors, len(d.Rows)+2, tt.wantFailures, tt.wantErrors)
			}
			failed := 0
			for _, c := range doc.Suites[0].Cases {
				if c.Failure != nil {
					failed++
					if !strings.Contains(c.Failure.Message, "the whole interval is beyond") || c.Name == "" || c.ClassName == "" {
						t.Errorf("failure case %+v", c)
					}
				}
				if c.Error != nil && !strings.Contains(c.Error.Message, "dropped-spans") {
					t.Errorf("error case %q does not say why", c.Error.Message)
				}
			}
			if failed != tt.wantFailures {
				t.Errorf("%d failed cases, want %d", failed, tt.wantFailures)
			}
		})
	}
	var buf bytes.Buffer
	if err := reports.WriteJUnitError(&buf, "comparability", "reports are not comparable: provider differs"); err != nil {
		t.Fatal(err)
	}
	var doc junitDoc
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil || doc.Errors != 1 || doc.Tests != 1 {
		t.Errorf("error JUnit: %v %+v\n%s", err, doc, buf.String())
	}
}
