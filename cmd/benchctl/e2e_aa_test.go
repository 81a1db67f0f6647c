package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/benchctl/benchctl/portfolio/rundir"
	"github.com/benchctl/benchctl/reports"
)

// TestAAWithThirdConfig is the A/A check of the balanced order and of
// the stated false-positive rate: the default config under two names
// (default, and default-b, a values file that changes nothing) runs
// interleaved beside a deliberately slow third config (downstream-delay).
// With the order balanced for position and carry-over, the slow config
// affects both names alike, so the A/A diff's wall, setup and controller
// rows are significant at most at alpha's rate (rounded up: with 12 rows
// at 0.05, at most 1), while the slow config's wall is significantly
// higher on every chain. The plan in run.json takes every config to
// every position equally often (12 repetitions: two Williams designs of
// three).
func TestAAWithThirdConfig(t *testing.T) {
	e2eCluster(t)
	const reps = 12
	pf := writePortfolio(t, fmt.Sprintf(`apiVersion: benchctl/v1
kind: Portfolio
name: aa
defaults: {repetitions: %d, warmup: 1, timeout: 2m}
workflows:
  - name: chain-5
    description: a short serial chain
    task: {duration: 0s}
    chain: {length: 5}
  - name: chain-20
    description: a longer serial chain
    task: {duration: 0s}
    chain: {length: 20}
  - name: fan-out
    description: parallel nodes
    task: {duration: 0s}
    fanout: {width: 4}
  - name: chain-10-user
    description: a chain with user time
    task: {duration: 20ms}
    chain: {length: 10}
`, reps))
	same := defaultTwin(t, "default-b")
	out := filepath.Join(t.TempDir(), "run")
	stdout, stderr, code := runBenchctl("run", "--cluster", e2e.cluster, "--portfolio", pf, "--tier", "default",
		"--config", "default", "--config", same, "--config", "downstream-delay", "--output-dir", out)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, lastLines(stderr, 30))
	}

	// The order: per workflow, every config at every position reps/3 times.
	run, err := rundir.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	pos := map[string]map[string][]int{} // workflow -> target -> position counts
	at := map[string]int{}               // workflow/repetition -> next position
	for _, p := range run.Manifest.Plan {
		if p.Warmup {
			continue
		}
		k := fmt.Sprintf("%s/%d", p.Workflow, p.Repetition)
		if pos[p.Workflow] == nil {
			pos[p.Workflow] = map[string][]int{}
		}
		if pos[p.Workflow][p.Target] == nil {
			pos[p.Workflow][p.Target] = make([]int, 3)
		}
		pos[p.Workflow][p.Target][at[k]]++
		at[k]++
	}
	for w, byTarget := range pos {
		for target, counts := range byTarget {
			for i, n := range counts {
				if n != reps/3 {
					t.Errorf("%s: %s at position %d %d times, want %d (%v)", w, target, i, n, reps/3, counts)
				}
			}
		}
	}

	load := func(stem string) *reports.Diff {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(out, "reports", stem+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		var d reports.Diff
		if err := yaml.Unmarshal(b, &d); err != nil {
			t.Fatal(err)
		}
		return &d
	}
	aa := load("diff-default-default-b")
	rows, sig := 0, 0
	for _, r := range aa.Rows {
		if r.Node != "" || (r.Metric != "wall" && r.Metric != "setup" && r.Metric != "controller") {
			continue
		}
		rows++
		if r.Significant {
			sig++
			t.Logf("A/A significant: %s %s p=%.4f shift %v", r.Workflow, r.Metric, r.P, r.ShiftPercent)
		}
	}
	allowed := int(math.Ceil(aa.Alpha * float64(rows)))
	t.Logf("A/A: %d of %d wall, setup and controller rows significant at alpha %v (allowed %d)", sig, rows, aa.Alpha, allowed)
	if rows != 12 {
		t.Errorf("%d wall, setup and controller rows, want 12 (4 workflows)", rows)
	}
	if sig > allowed {
		t.Errorf("A/A: %d of %d rows significant, more than alpha's share (%d)", sig, rows, allowed)
	}
	// The delay costs a serial chain 50 ms per node. A fan-out hides it:
	// its own Workflow updates, which enqueue it at once, bring the round
	// forward (measured: +10 ms, p=0.29), so only the chains must differ.
	slow := load("diff-default-downstream-delay")
	for _, r := range slow.Rows {
		if r.Node == "" && r.Metric == "wall" && strings.HasPrefix(r.Workflow, "chain") {
			if !r.Significant || r.ShiftInterval == nil || r.ShiftInterval.Lo <= 0 {
				t.Errorf("%s: the slow config's wall is not significantly higher: p=%.4f interval %+v", r.Workflow, r.P, r.ShiftInterval)
			}
		}
	}
}
