package aggregate

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/benchctl/benchctl/portfolio/rundir"
	"github.com/benchctl/benchctl/reports"
)

// smokeRun is a real smoke-tier run of the local cluster, recorded by
// benchctl f1d9bbe (schema v1 run directory; its artifacts gzip-compressed
// and its kube-apiserver scrapes trimmed to apiserver_request_total, the
// one family aggregation reads). smokeGolden is the report that commit
// wrote from the untrimmed run; the same commit writes it byte for byte
// from this testdata too.
const (
	smokeRun    = "testdata/smoke-run"
	smokeGolden = "testdata/smoke-run.golden.yaml"
)

// addedSince lists, per path pattern, the report fields added after the
// golden report was written: they carry no number of the old report.
var addedSince = []string{"workflows[].planned", "workflows[].criticalPath", "workflows[].attempts", "workflows[].clamped", "workflows[].pathSteps"}

// TestGoldenSmokeRun aggregates the recorded run and compares the report
// with the one written before the aggregation was restructured: not a
// number may change.
func TestGoldenSmokeRun(t *testing.T) {
	run, err := rundir.Load(smokeRun)
	if err != nil {
		t.Fatal(err)
	}
	outs, err := WriteReports(run, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if len(outs) != 1 || outs[0].Target != "default" {
		t.Fatalf("outputs = %+v, want the one target default", outs)
	}
	got := loadYAML(t, outs[0].YAML)
	want := loadYAML(t, smokeGolden)
	for _, p := range addedSince {
		drop(got, p)
	}
	if diffs := compareTrees("", want, got); len(diffs) > 0 {
		if len(diffs) > 20 {
			diffs = append(diffs[:20], fmt.Sprintf("... and %d more", len(diffs)-20))
		}
		for _, d := range diffs {
			t.Error(d)
		}
	}
	if !outs[0].Report.Validity.Valid {
		t.Errorf("report invalid: %s", outs[0].Report.Validity.Summary())
	}
	for _, w := range outs[0].Report.Workflows {
		if w.Planned != 3 || w.Executions != 3 {
			t.Errorf("%s: planned %d, executions %d; the smoke tier plans and ran 3", w.Name, w.Planned, w.Executions)
		}
	}
}

func loadYAML(t *testing.T, path string) any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := yaml.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// drop removes the key named by a pattern such as "workflows[].planned".
func drop(v any, pattern string) {
	var walk func(v any, parts []string)
	walk = func(v any, parts []string) {
		if len(parts) == 0 {
			return
		}
		p := parts[0]
		if len(p) > 2 && p[len(p)-2:] == "[]" {
			m, _ := v.(map[string]any)
			l, _ := m[p[:len(p)-2]].([]any)
			for _, e := range l {
				walk(e, parts[1:])
			}
			return
		}
		m, ok := v.(map[string]any)
		if !ok {
			return
		}
		if len(parts) == 1 {
			delete(m, p)
			return
		}
		walk(m[p], parts[1:])
	}
	walk(v, splitDots(pattern))
}

func splitDots(s string) []string {
	var out []string
	start := 0
	for i := range len(s) {
		if s[i] == '.' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// compareTrees lists every path where two decoded YAML documents differ.
func compareTrees(path string, a, b any) []string {
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: %v, now %v", path, a, b)}
		}
		keys := map[string]bool{}
		for k := range av {
			keys[k] = true
		}
		for k := range bv {
			keys[k] = true
		}
		var names []string
		for k := range keys {
			names = append(names, k)
		}
		sort.Strings(names)
		var out []string
		for _, k := range names {
			out = append(out, compareTrees(filepath.Join(path, k), av[k], bv[k])...)
		}
		return out
	case []any:
		bv, ok := b.([]any)
		if !ok || len(av) != len(bv) {
			return []string{fmt.Sprintf("%s: %d items, now %v", path, len(av), b)}
		}
		var out []string
		for i := range av {
			out = append(out, compareTrees(fmt.Sprintf("%s[%d]", path, i), av[i], bv[i])...)
		}
		return out
	}
	if !reflect.DeepEqual(a, b) {
		return []string{fmt.Sprintf("%s: %v, now %v", path, a, b)}
	}
	return nil
}

// TestFloorMultipleOfTheSmokeRun: with a calibrated floor in the run's
// environment, every workflow whose path has steps gets its controller
// time per serial step as a multiple of the floor, and the summary says
// it; on the chain it equals the controller time on the path per node.
func TestFloorMultipleOfTheSmokeRun(t *testing.T) {
	run, err := rundir.Load(smokeRun)
	if err != nil {
		t.Fatal(err)
	}
	f := &reports.Floor{Measured: time.Unix(1e9, 0).UTC(), Client: "qps 100 burst 200", Small: "s", Large: "long-chain (10 nodes)"}
	for _, name := range reports.FloorParts {
		f.Operations = append(f.Operations, reports.FloorOperation{Name: name, Latency: reports.NewStats(reports.UnitSeconds, []float64{0.003, 0.004, 0.005})})
	}
	if err := f.SetPerNode(); err != nil {
		t.Fatal(err)
	}
	run.Manifest.Targets[0].Environment.Floor = f
	outs, err := WriteReports(run, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var chain *reports.Workflow
	for i, w := range outs[0].Report.Workflows {
		if w.PathSteps != nil && w.PathSteps.Min > 0 && w.FloorMultiple == nil {
			t.Errorf("%s: %v steps on the path but no floor multiple", w.Name, w.PathSteps.Median)
		}
		if w.Name == "long-chain" {
			chain = &outs[0].Report.Workflows[i]
		}
	}
	if chain == nil || chain.PathSteps == nil || chain.PathSteps.Median != 10 {
		t.Fatalf("long-chain of the smoke tier: path steps %+v, want 10", chain)
	}
	ctrl := chain.CriticalPath.Part(reports.PathController).Seconds
	for i, x := range chain.FloorMultiple.Samples {
		if want := ctrl.Samples[i] / 10 / f.PerNode; math.Abs(x-want) > 1e-9 {
			t.Errorf("execution %d: %v floors, want %v", i, x, want)
		}
	}
	var text bytes.Buffer
	if err := reports.WriteText(&text, outs[0].Report, reports.DefaultRenderOptions); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "× the floor (12.0ms/node), over 10 steps on the path") {
		t.Errorf("summary lacks the chain's floor multiple:\n%s", text.String())
	}
}
