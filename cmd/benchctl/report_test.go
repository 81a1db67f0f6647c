package main

import (
	"bytes"
	"strings"
	"testing"

	"golang.org/x/perf/benchfmt"

	"github.com/benchctl/benchctl/reports"
)

func TestReportShow(t *testing.T) {
	p := saveSyntheticReports(t)
	tests := []struct {
		name     string
		args     []string
		wantCode int
		check    func(t *testing.T, out string)
		wantErr  string
	}{
		{"text", []string{p["base"]}, 0, func(t *testing.T, out string) {
			for _, w := range []string{"short-chain: 5.74s with 375ms (6.6%) controller overhead and 300ms (5.3%) kubernetes overhead",
				"  n0: ", "events workflow", "count  p50", "validity: valid"} {
				if !strings.Contains(out, w) {
					t.Errorf("lacks %q:\n%s", w, out)
				}
			}
		}, ""},
		{"markdown", []string{p["base"], "--format", "markdown"}, 0, func(t *testing.T, out string) {
			if !strings.Contains(out, "| workflow | n | wall |") || !strings.Contains(out, "### short-chain") {
				t.Errorf("not the markdown summary:\n%s", out)
			}
		}, ""},
		{"yaml round-trips", []string{p["base"], "-o", "yaml"}, 0, func(t *testing.T, out string) {
			if _, err := reports.Decode([]byte(out), "stdout"); err != nil {
				t.Error(err)
			}
		}, ""},
		{"benchstat parses", []string{p["base"], "-o", "benchstat"}, 0, func(t *testing.T, out string) {
			rd := benchfmt.NewReader(bytes.NewReader([]byte(out)), "stdout")
			n := 0
			for rd.Scan() {
				if se, ok := rd.Result().(*benchfmt.SyntaxError); ok {
					t.Fatal(se)
				}
				n++
			}
			if n < 100 {
				t.Errorf("%d records", n)
			}
		}, ""},
		{"invalid run shows why", []string{p["invalid"]}, 0, func(t *testing.T, out string) {
			if !strings.Contains(out, "validity: INVALID: failed-execution (fan-out)") || !strings.Contains(out, "execution 4 failed") {
				t.Errorf("invalid verdict not shown:\n%s", out)
			}
		}, ""},
		{"bad report", []string{p["bad"]}, 2, nil, "bad.yaml:3: unknown field \"bogus\""},
		{"missing report", []string{p["missing"]}, 2, nil, "missing.yaml"},
		{"bad format", []string{p["base"], "-o", "pdf"}, 2, nil, `--output "pdf"`},
		{"no file", nil, 2, nil, "takes 1 argument(s), got 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, append([]string{"report", "show"}, tt.args...)...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d: %s", code, tt.wantCode, errOut)
			}
			if tt.check != nil {
				tt.check(t, out)
			}
			if !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("stderr %q lacks %q", errOut, tt.wantErr)
			}
		})
	}
	if _, errOut, code := runCLI(t, "report", "bogus"); code != 2 || !strings.Contains(errOut, `unknown command "bogus"`) {
		t.Errorf("report bogus: exit %d %s", code, errOut)
	}
}
