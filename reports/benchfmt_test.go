package reports_test

import (
	"bytes"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/perf/benchfmt"

	"github.com/benchctl/benchctl/reports"
)

func TestWriteBenchfmtParses(t *testing.T) {
	r := exampleA()
	var buf bytes.Buffer
	if err := reports.WriteBenchfmt(&buf, r); err != nil {
		t.Fatal(err)
	}
	type key struct{ name, unit string }
	got := map[key][]float64{}
	var config map[string]string
	rd := benchfmt.NewReader(&buf, "export.txt")
	for rd.Scan() {
		switch rec := rd.Result(); rec := rec.(type) {
		case *benchfmt.SyntaxError:
			t.Fatalf("benchfmt: %v", rec)
		case *benchfmt.Result:
			if config == nil {
				config = map[string]string{}
				for _, c := range rec.Config {
					config[c.Key] = string(c.Value)
				}
			}
			if rec.Iters != 1 {
				t.Errorf("%s: iters %d, want 1 (one line per execution)", rec.Name.Full(), rec.Iters)
			}
			for _, v := range rec.Values {
				k := key{string(rec.Name.Full()), v.Unit}
				got[k] = append(got[k], v.Value)
			}
		}
	}
	if err := rd.Err(); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"goos": "linux", "provider": "local", "config": "default",
		"portfolio": "synthetic", "tier": "smoke", "kubernetes": "v1.36.3", "config-hash": r.Environment.Config.Hash} {
		if config[k] != want {
			t.Errorf("config key %s = %q, want %q", k, config[k], want)
		}
	}
	// Values are seconds: compare them with the report's samples.
	check := func(name, unit string, want []float64) {
		t.Helper()
		vals := got[key{name, unit}]
		if len(vals) != len(want) {
			t.Fatalf("%s %s: %d values, want %d", name, unit, len(vals), len(want))
		}
		for i := range want {
			if math.Abs(vals[i]-want[i]) > 1e-9 {
				t.Errorf("%s %s[%d] = %v, want %v", name, unit, i, vals[i], want[i])
			}
		}
	}
	wf := r.Workflows[0]
	check("Workflow/short-chain", "sec/op", wf.Wall.Samples)
	check("Workflow/short-chain", "controller-sec/op", wf.Overhead.Controller.Samples)
	check("Workflow/short-chain", "setup-sec/op", wf.Setup.Samples)
	check("Node/short-chain/n3", "kubernetes-sec/op", wf.Nodes[3].Kubernetes.Samples)
	check("Infra/short-chain/crd.updates", "calls/op", wf.Infrastructure[3].Count.Samples)
	check("Infra/short-chain/crd.updates", "p95-sec/op", wf.Infrastructure[3].P95.Samples)
	// A metric with no operation exports its counts and no latency.
	check("Infra/short-chain/catalog.gets", "calls/op", []float64{0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	check("Infra/short-chain/catalog.gets", "p50-sec/op", nil)
	// A name ending in -digits keeps its full name.
	check("Workflow/long-chain-100", "sec/op", r.Workflows[2].Wall.Samples)
}

// TestBenchstatReadsExport runs the real benchstat (built from the
// golang.org/x/perf version in go.mod) on two exports.
func TestBenchstatReadsExport(t *testing.T) {
	if testing.Short() {
		t.Skip("builds benchstat")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not on PATH; cannot build benchstat")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "benchstat")
	if out, err := exec.Command(goBin, "build", "-o", bin, "golang.org/x/perf/cmd/benchstat").CombinedOutput(); err != nil {
		t.Fatalf("building benchstat: %v\n%s", err, out)
	}
	var files []string
	for name, r := range map[string]*reports.Report{"a.txt": exampleA(), "b.txt": exampleB()} {
		var buf bytes.Buffer
		if err := reports.WriteBenchfmt(&buf, r); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	if files[0] > files[1] {
		files[0], files[1] = files[1], files[0]
	}
	args := append([]string{"-ignore", strings.Join(reports.BenchfmtIgnore, ","), "-filter", ".name:Workflow"}, files...)
	cmd := exec.Command(bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("benchstat: %v\n%s\n%s", err, out, stderr.String())
	}
	text := string(out)
	t.Logf("benchstat output:\n%s", text)
	// One table compares A and B (the ignored keys did not split them),
	// and benchstat, like benchctl diff, finds the 10% controller change
	// on short-chain significant and fan-out's wall not.
	for _, want := range []string{"controller-sec/op", "Workflow/short-chain", "Workflow/long-chain-100", "vs base"} {
		if !strings.Contains(text, want) {
			t.Errorf("benchstat output lacks %q", want)
		}
	}
	ctrl := sectionAfter(text, "controller-sec/op")
	if !strings.Contains(lineWith(ctrl, "Workflow/short-chain"), "+10.") {
		t.Errorf("benchstat does not show short-chain's +10%% controller change:\n%s", ctrl)
	}
	wall := sectionAfter(text, "sec/op")
	if !strings.Contains(lineWith(wall, "Workflow/fan-out"), "~") {
		t.Errorf("benchstat shows a fan-out wall change benchctl does not:\n%s", wall)
	}
}

// sectionAfter is the benchstat table whose unit line names header: the
// lines from that one to the next blank line.
func sectionAfter(text, header string) string {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if !strings.Contains(l, "│") {
			continue
		}
		for _, f := range strings.Fields(strings.ReplaceAll(l, "│", " ")) {
			if f == header {
				end := i
				for end < len(lines) && lines[end] != "" {
					end++
				}
				return strings.Join(lines[i:end], "\n")
			}
		}
	}
	return ""
}

func lineWith(text, s string) string {
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, s+" ") {
			return l
		}
	}
	return ""
}
