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
// rows are significant at alpha's rate, while the slow config's wall is
// significantly higher on every chain. The count of significant rows in
// one run is binomial: at 12 rows and alpha 0.05 it exceeds ⌈0.6⌉ = 1 in
// 12% of fair runs (the CI failed on 3 once), so the test allows what a
// fair design exceeds in under 1% of runs (aaAllowance) and fails a bias
// that makes more rows significant than chance would. The plan in run.json takes every config to
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
			shift := math.NaN()
			if r.ShiftPercent != nil {
				shift = *r.ShiftPercent
			}
			t.Logf("A/A significant: %s %s p=%.4f shift %+.1f%%", r.Workflow, r.Metric, r.P, shift)
		}
	}
	allowed := aaAllowance(rows, aa.Alpha, 0.01)
	t.Logf("A/A: %d of %d wall, setup and controller rows significant at alpha %v (allowed %d, expected %.1f)", sig, rows, aa.Alpha, allowed, aa.Alpha*float64(rows))
	if rows != 12 {
		t.Errorf("%d wall, setup and controller rows, want 12 (4 workflows)", rows)
	}
	if sig > allowed {
		t.Errorf("A/A: %d of %d rows significant, more than chance allows at alpha %v (%d)", sig, rows, aa.Alpha, allowed)
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

// aaAllowance is the least k with P(X > k) ≤ tail for X ~ Binomial(n,
// alpha): the most significant rows an unbiased A/A diff of n rows shows
// in all but a tail's share of runs.
func aaAllowance(n int, alpha, tail float64) int {
	// log C(n,k) through lgamma keeps large n finite.
	lg := func(x int) float64 { v, _ := math.Lgamma(float64(x) + 1); return v }
	cdf := 0.0
	for k := 0; k <= n; k++ {
		cdf += math.Exp(lg(n) - lg(k) - lg(n-k) + float64(k)*math.Log(alpha) + float64(n-k)*math.Log1p(-alpha))
		if 1-cdf <= tail {
			return k
		}
	}
	return n
}

func TestAAAllowance(t *testing.T) {
	// Checked against the binomial tail by hand: Binomial(12, 0.05) has
	// P(X>1)=0.118, P(X>2)=0.0196, P(X>3)=0.0022.
	tests := []struct {
		n     int
		alpha float64
		tail  float64
		want  int
	}{
		{12, 0.05, 0.01, 3},
		{12, 0.05, 0.05, 2},
		{12, 0.05, 0.2, 1},
		{200, 0.05, 0.01, 18},
		{1, 0.05, 0.01, 1},
	}
	for _, tt := range tests {
		if got := aaAllowance(tt.n, tt.alpha, tt.tail); got != tt.want {
			t.Errorf("aaAllowance(%d, %v, %v) = %d, want %d", tt.n, tt.alpha, tt.tail, got, tt.want)
		}
	}
}
