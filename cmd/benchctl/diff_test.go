package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/benchctl/benchctl/reports"
	"github.com/benchctl/benchctl/reports/reportstest"
)

// runCLI runs benchctl in-process and returns stdout, stderr (with
// the error main would print) and the exit code main would use.
func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	root := newRootCmd()
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	if err != nil {
		errb.WriteString("error: " + err.Error() + "\n")
	}
	return out.String(), errb.String(), exitCode(err, false)
}

// saveSyntheticReports writes the reports the diff tests compare and
// returns their paths by name.
func saveSyntheticReports(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	base := reportstest.Default("default", 1, 10)
	same := reportstest.Default("default", 1, 10)
	slow := reportstest.Default("slow", 2, 10)
	slow.Workflows[0].Scale = 1.10 // short-chain's controller 10% slower
	invalid := reportstest.Default("default", 3, 10)
	invalid.Reasons = []reports.Reason{reports.NewReason(reports.ReasonFailedExecution, "fan-out", "execution 4 failed: node n1 pod Failed")}
	otherPortfolio := reportstest.Default("default", 4, 10)
	otherPortfolio.PortfolioHash = "sha256:0123456789abcdef"
	few := reportstest.Default("default", 5, 3)
	fewSlow := reportstest.Default("slow", 6, 3)
	fewSlow.Workflows[0].Scale = 1.5
	paths := map[string]string{}
	for name, spec := range map[string]reportstest.Spec{"base": base, "same": same, "slow": slow, "invalid": invalid,
		"other-portfolio": otherPortfolio, "few": few, "few-slow": fewSlow} {
		p := filepath.Join(dir, name+".yaml")
		if err := reports.Save(p, reportstest.MustBuild(spec)); err != nil {
			t.Fatal(err)
		}
		paths[name] = p
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("apiVersion: benchctl/v1\nkind: Report\nbogus: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	paths["bad"] = bad
	paths["missing"] = filepath.Join(dir, "missing.yaml")
	return paths
}

func TestDiffExitCodes(t *testing.T) {
	p := saveSyntheticReports(t)
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantOut    []string
		wantErr    []string
		junitFails int // -1: no JUnit check
		junitErrs  int
	}{
		{name: "same samples, no gate", args: []string{p["base"], p["same"]}, wantCode: 0,
			wantOut: []string{"short-chain", "~", "+0.0% [+0.0%, +0.0%]  (p=1.000 n=10)", "geomean", "shift [95%]"}, junitFails: 0},
		{name: "same samples, gated", args: []string{p["base"], p["same"], "--fail-on", "wall>+0%", "--fail-on", "*.p95>+0%"}, wantCode: 0,
			wantOut: []string{"gate: passed (wall>+0%, *.p95>+0%)"}, junitFails: 0},
		{name: "regression beyond threshold", args: []string{p["base"], p["slow"], "--fail-on", "controller>+5%"}, wantCode: 1,
			wantOut: []string{"gate: FAILED", "short-chain controller", "shift +10.3% [+9.5%, +11.0%] at 95.6% (p=0.000 n=10+10): the whole interval is beyond controller>+5%"},
			wantErr: []string{"1 regression(s) beyond --fail-on thresholds: the whole interval of the shift lies beyond"}, junitFails: 1},
		{name: "median beyond threshold, interval not", args: []string{p["base"], p["slow"], "--fail-on", "short-chain:controller>+10%"}, wantCode: 0,
			wantOut: []string{"+10.24%", "gate: passed"}, junitFails: 0},
		{name: "holm correction", args: []string{p["base"], p["slow"], "--correction", "holm"}, wantCode: 0,
			wantOut: []string{"adjusted by Holm's method over these 224 comparisons", "p=0.011 adjusted 1.000 n=10"}, junitFails: 0},
		{name: "bh correction", args: []string{p["base"], p["slow"], "--correction", "bh"}, wantCode: 0,
			wantOut: []string{"adjusted by Benjamini-Hochberg"}, junitFails: 0},
		{name: "bad correction", args: []string{p["base"], p["slow"], "--correction", "bonferroni"}, wantCode: 2,
			wantErr: []string{`--correction "bonferroni": want one of none, holm, bh`}, junitFails: -1},
		{name: "regression within threshold", args: []string{p["base"], p["slow"], "--fail-on", "controller>+15%"}, wantCode: 0,
			wantOut: []string{"gate: passed"}, junitFails: 0},
		{name: "regressions in reverse are improvements", args: []string{p["slow"], p["base"], "--fail-on", "controller>+5%"}, wantCode: 0,
			wantOut: []string{"-9.29%"}, junitFails: 0},
		{name: "decrease gate", args: []string{p["slow"], p["base"], "--fail-on", "short-chain:controller<-5%"}, wantCode: 1, junitFails: 1},
		{name: "too few samples never fail", args: []string{p["few"], p["few-slow"], "--fail-on", "controller>+5%"}, wantCode: 0,
			wantOut: []string{"warning: too few samples: with n=3+3", "run at least 4 repetitions", "too few"}, junitFails: 0},
		{name: "invalid run", args: []string{p["base"], p["invalid"]}, wantCode: 2,
			wantOut: []string{"INVALID"}, wantErr: []string{"invalid.yaml is an invalid run", "failed-execution"}, junitErrs: 1},
		{name: "invalid run beats regression", args: []string{p["invalid"], p["slow"], "--fail-on", "controller>+5%"}, wantCode: 2,
			wantErr: []string{"invalid run"}, junitFails: 1, junitErrs: 1},
		{name: "incomparable", args: []string{p["base"], p["other-portfolio"]}, wantCode: 2,
			wantErr: []string{"not comparable", "portfolio hash differs", "--force"}, junitErrs: 1},
		{name: "incomparable forced", args: []string{p["base"], p["other-portfolio"], "--force"}, wantCode: 0,
			wantOut: []string{"FORCED: portfolio hash differs"}, junitFails: 0},
		{name: "unreadable report", args: []string{p["base"], p["bad"]}, wantCode: 2,
			wantErr: []string{"bad.yaml:3:", `unknown field "bogus"`}, junitErrs: 1},
		{name: "missing report", args: []string{p["missing"], p["base"]}, wantCode: 2, wantErr: []string{"missing.yaml"}, junitErrs: 1},
		{name: "threshold matching nothing", args: []string{p["base"], p["slow"], "--fail-on", "wal>+5%"}, wantCode: 2,
			wantErr: []string{`"wal>+5%" matches no compared metric`}, junitErrs: 1},
		{name: "bad threshold", args: []string{p["base"], p["slow"], "--fail-on", "wall=>5%"}, wantCode: 2, wantErr: []string{"--fail-on", "wall=>5%"}, junitFails: -1},
		{name: "bad alpha", args: []string{p["base"], p["slow"], "--alpha", "1.5"}, wantCode: 2, wantErr: []string{"--alpha 1.5"}, junitFails: -1},
		{name: "bad format", args: []string{p["base"], p["slow"], "--format", "pdf"}, wantCode: 2, wantErr: []string{`--output "pdf"`}, junitFails: -1},
		{name: "one argument", args: []string{p["base"]}, wantCode: 2, wantErr: []string{"takes 2 argument(s), got 1"}, junitFails: -1},
		{name: "unknown flag", args: []string{p["base"], p["slow"], "--nope"}, wantCode: 2, wantErr: []string{"unknown flag"}, junitFails: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			junit := filepath.Join(t.TempDir(), "junit.xml")
			args := append([]string{"diff"}, tt.args...)
			if tt.junitFails >= 0 {
				args = append(args, "--junit", junit)
			}
			out, errOut, code := runCLI(t, args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, out, errOut)
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
			if tt.junitFails < 0 {
				if _, err := os.Stat(junit); err == nil {
					t.Error("a JUnit file was written for a usage error before any report was read")
				}
				return
			}
			data, err := os.ReadFile(junit)
			if err != nil {
				t.Fatalf("no JUnit file: %v", err)
			}
			var doc struct {
				Failures int `xml:"failures,attr"`
				Errors   int `xml:"errors,attr"`
			}
			if err := xml.Unmarshal(data, &doc); err != nil {
				t.Fatalf("JUnit is not XML: %v", err)
			}
			if doc.Failures != tt.junitFails || doc.Errors != tt.junitErrs {
				t.Errorf("JUnit failures %d errors %d, want %d %d", doc.Failures, doc.Errors, tt.junitFails, tt.junitErrs)
			}
		})
	}
}

func TestDiffFormats(t *testing.T) {
	p := saveSyntheticReports(t)
	out, errOut, code := runCLI(t, "diff", p["base"], p["slow"], "--format", "yaml", "--alpha", "0.01", "--fail-on", "controller>+5%")
	if code != 1 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var d reports.Diff
	dec := yaml.NewDecoder(strings.NewReader(out))
	dec.KnownFields(true)
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("YAML diff does not decode: %v", err)
	}
	if d.Kind != reports.KindDiff || d.Alpha != 0.01 || d.Gate == nil || len(d.Gate.Violations) != 1 || len(d.Rows) < 100 {
		t.Errorf("kind %q alpha %v gate %+v rows %d", d.Kind, d.Alpha, d.Gate, len(d.Rows))
	}
	// Every row carries its shift, the interval at 1 - alpha (10+10
	// samples reach it) and, where A's median is not 0, the relative forms.
	for _, r := range d.Rows {
		if r.Shift == nil || r.ShiftInterval == nil || r.ShiftInterval.Confidence < 0.99 ||
			r.ShiftInterval.Lo > *r.Shift || r.ShiftInterval.Hi < *r.Shift || (r.A != 0) != (r.ShiftPercentInterval != nil) {
			t.Errorf("%s %s: shift %v interval %+v percent %+v", r.Name(), r.Metric, r.Shift, r.ShiftInterval, r.ShiftPercentInterval)
			break
		}
	}
	out, _, code = runCLI(t, "diff", p["base"], p["slow"], "-o", "markdown")
	if code != 0 || !strings.Contains(out, "## benchctl diff: `default` → `slow`") || !strings.Contains(out, "| *geomean* | wall |") {
		t.Errorf("markdown (exit %d):\n%s", code, out)
	}
	all, _, _ := runCLI(t, "diff", p["base"], p["slow"], "--all")
	some, _, _ := runCLI(t, "diff", p["base"], p["slow"])
	if strings.Count(all, "\n") <= strings.Count(some, "\n") || !strings.Contains(some, "--all shows them") {
		t.Errorf("--all does not show more rows")
	}
	none, _, _ := runCLI(t, "diff", p["base"], p["slow"], "--top-nodes", "0", "--all")
	if strings.Contains(none, "node.controller") {
		t.Errorf("--top-nodes 0 still compares nodes")
	}
}
