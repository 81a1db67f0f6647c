package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/benchctl/benchctl/reports"
	"github.com/benchctl/benchctl/reports/reportstest"
)

// saveSeries writes n reports of one config a day apart into dir/<i>/,
// short-chain's controller 30% slower from index step on, and returns
// their paths in run order.
func saveSeries(t *testing.T, dir string, n, step int) []string {
	t.Helper()
	var paths []string
	for i := range n {
		s := reportstest.Default("default", uint64(20+i), 5)
		if i >= step {
			s.Workflows[0].Scale = 1.3
		}
		r := reportstest.MustBuild(s)
		d := r.Run.End.Sub(r.Run.Start)
		r.Run.Start = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i)
		r.Run.End = r.Run.Start.Add(d)
		r.Environment.Controller.Commit = commitOf(i)
		// Lexical order differs from run order: the command sorts by time.
		p := filepath.Join(dir, fmt.Sprintf("run-%c", 'z'-i), "reports", "default.yaml")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := reports.Save(p, r); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths
}

// commitOf is a commit hash whose first 12 characters say which report it is.
func commitOf(i int) string { return fmt.Sprintf("%02d", i) + strings.Repeat("ab", 19) }

func TestHistory(t *testing.T) {
	dir := t.TempDir()
	paths := saveSeries(t, dir, 12, 7)
	other := filepath.Join(t.TempDir(), "other.yaml")
	r := reportstest.MustBuild(reportstest.Default("default", 99, 5))
	r.Environment.Provider.Nodes = 9
	d := r.Run.End.Sub(r.Run.Start)
	r.Run.Start = time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC) // after the series
	r.Run.End = r.Run.Start.Add(d)
	if err := reports.Save(other, r); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("apiVersion: benchctl/v1\nkind: Report\nbogus: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  []string
		wantErr  []string
	}{
		{"directory, sorted by time", []string{dir}, 0,
			[]string{"12 reports", "Matteson & James (2014)", "short-chain", "controller", commitOf(7)[:12], "(+111ms, +29.6%)"}, nil},
		{"files as given", slices.Concat([]string{"--order", "args"}, paths), 0, []string{"change point(s)"}, nil},
		{"html", []string{dir, "-o", "html"}, 0, []string{"<!DOCTYPE html>", `"history":{"document":`, `"workflow":"short-chain","metric":"controller"`}, nil},
		{"incomparable", slices.Concat(paths, []string{other}), 2, nil, []string{"not comparable", "other.yaml against ", "cluster node count differs (", " vs 9)", "--force"}},
		{"incomparable forced", slices.Concat(paths, []string{other, "--force"}), 0, []string{"FORCED: " + other}, nil},
		{"unreadable", slices.Concat(paths, []string{bad}), 2, nil, []string{"bad.yaml:3:", `unknown field "bogus"`}},
		{"unknown config", []string{dir, "--config", "nope"}, 2, nil, []string{`no report of config "nope"`}},
		{"empty directory", []string{t.TempDir()}, 2, nil, []string{"no reports in"}},
		{"bad order", []string{dir, "--order", "commit"}, 2, nil, []string{`--order "commit": want time or args`}},
		{"bad alpha", []string{dir, "--alpha", "2"}, 2, nil, []string{"--alpha 2"}},
		{"no argument", nil, 2, nil, []string{"history takes at least one DIR or REPORT"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, append([]string{"history"}, tt.args...)...)
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
			if tt.wantCode == 2 && strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
				t.Errorf("error is not one line:\n%s", errOut)
			}
		})
	}
	// JSON: the step is found at report 7, the 8th in run order.
	out, errOut, code := runCLI(t, "history", dir, "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var doc struct {
		Kind   string `json:"kind"`
		Series []struct {
			Workflow, Metric string
			Changes          []struct {
				Report int    `json:"report"`
				Commit string `json:"commit"`
			} `json:"changes"`
		} `json:"series"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range doc.Series {
		if s.Workflow == "short-chain" && s.Metric == "controller" {
			found = len(s.Changes) == 1 && s.Changes[0].Report == 7 && s.Changes[0].Commit == commitOf(7)
			if !found {
				t.Errorf("short-chain controller changes %+v, want one at report 7", s.Changes)
			}
		}
	}
	if doc.Kind != "History" || !found {
		t.Errorf("kind %q, short-chain controller step found %v", doc.Kind, found)
	}
}
