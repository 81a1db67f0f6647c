package reports_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/benchctl/benchctl/reports"
	"github.com/benchctl/benchctl/reports/reportstest"
)

var update = flag.Bool("update", false, "rewrite the files under testdata/ from the code")

// exampleA and exampleB are the reports under testdata/: the synthetic
// portfolio of reportstest, 10 executions each with 2% noise, B with a
// controller 10% slower on short-chain. Regenerate them with
//
//	go test ./reports -run TestGolden -update
func exampleA() *reports.Report {
	return reportstest.MustBuild(reportstest.Default("default", 1, 10))
}

func exampleB() *reports.Report {
	s := reportstest.Default("slow-controller", 2, 10)
	s.Workflows[0].Scale = 1.10
	return reportstest.MustBuild(s)
}

func TestGolden(t *testing.T) {
	a, b := exampleA(), exampleB()
	d, err := reports.Compare(a, b, withFiles(reports.DefaultDiffOptions, "example-a.yaml", "example-b.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ths := mustThresholds(t, "wall>+5%", "controller>+5%")
	if err := d.ApplyGate(ths); err != nil {
		t.Fatal(err)
	}
	files := []struct {
		name  string
		write func(*bytes.Buffer) error
	}{
		{"example-a.yaml", func(w *bytes.Buffer) error { return reports.Encode(w, a) }},
		{"example-b.yaml", func(w *bytes.Buffer) error { return reports.Encode(w, b) }},
		{"example-a.txt", func(w *bytes.Buffer) error { return reports.WriteText(w, a, reports.DefaultRenderOptions) }},
		{"example-a.md", func(w *bytes.Buffer) error { return reports.WriteMarkdown(w, a, reports.DefaultRenderOptions) }},
		{"example-diff.txt", func(w *bytes.Buffer) error { return d.WriteText(w, reports.DiffRenderOptions{}) }},
		{"example-diff.md", func(w *bytes.Buffer) error { return d.WriteMarkdown(w, reports.DiffRenderOptions{}) }},
		{"example-diff.yaml", func(w *bytes.Buffer) error { return d.WriteYAML(w) }},
	}
	for _, f := range files {
		t.Run(f.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := f.write(&buf); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", f.name)
			if *update {
				if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./reports -run TestGolden -update)", err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("%s differs from what the code generates; if the change is intended, run go test ./reports -run TestGolden -update\n--- got:\n%s", path, firstLines(buf.String(), 40))
			}
		})
	}
	// The files on disk are real reports: they load and equal the source.
	for name, want := range map[string]*reports.Report{"example-a.yaml": a, "example-b.yaml": b} {
		got, err := reports.Load(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		var g, w bytes.Buffer
		if err := reports.Encode(&g, got); err != nil {
			t.Fatal(err)
		}
		if err := reports.Encode(&w, want); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(g.Bytes(), w.Bytes()) {
			t.Errorf("%s does not round-trip", name)
		}
	}
}

func withFiles(o reports.DiffOptions, a, b string) reports.DiffOptions {
	o.FileA, o.FileB = a, b
	return o
}

func mustThresholds(t *testing.T, specs ...string) []reports.Threshold {
	t.Helper()
	var out []reports.Threshold
	for _, s := range specs {
		th, err := reports.ParseThreshold(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, th)
	}
	return out
}

func firstLines(s string, n int) string {
	lines := bytes.SplitN([]byte(s), []byte("\n"), n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
