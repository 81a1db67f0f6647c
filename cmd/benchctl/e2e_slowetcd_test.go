package main

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/benchctl/benchctl/portfolio/rundir"
	"github.com/benchctl/benchctl/provision"
	"github.com/benchctl/benchctl/provision/local/localtest"
	"github.com/benchctl/benchctl/reports"
)

// TestSlowEtcd is P12's slow-disk fault: all through an A/A run (the
// default config under two names, interleaved), etcd is frozen with
// SIGSTOP for 300 ms at seeded random moments, as a disk stalling its
// fsyncs would leave it. Every request still ends, so the run completes
// with every execution recorded once, and because the stalls fall on both
// names alike, the A/A diff must not report a confident difference: its
// wall and controller rows are significant at most at alpha's rate
// (rounded up), unless a report warns that the workflow's samples are
// noisy or is invalid. A stall that always hit one name would fail it.
func TestSlowEtcd(t *testing.T) {
	e2eCluster(t)
	pf := writePortfolio(t, `apiVersion: benchctl/v1
kind: Portfolio
name: slow-etcd
defaults: {repetitions: 8, warmup: 1, timeout: 2m}
workflows:
  - name: chain
    description: a serial chain, one CR update per node
    task: {duration: 20ms}
    chain: {length: 10}
  - name: fan-out
    description: parallel nodes
    task: {duration: 20ms}
    fanout: {width: 6}
`)
	same := defaultTwin(t, "default-b")
	out := filepath.Join(t.TempDir(), "run")
	bg := startRun(t, "run", "--cluster", e2e.cluster, "--portfolio", pf, "--tier", "default", "--calibration", "off",
		"--config", "default", "--config", same, "--output-dir", out)
	waitFirstWorkflow(t, e2eClient(t), out)

	// Stall etcd until the run ends; the pauses stop before teardown.
	store := provision.NewStore(filepath.Join(e2e.root, "state"))
	ctx, stop := context.WithCancel(context.Background())
	paused := make(chan int, 1)
	go func() {
		rng := rand.New(rand.NewPCG(12, 0))
		n := 0
		defer func() { paused <- n }()
		for ctx.Err() == nil {
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Duration(300+rng.IntN(900)) * time.Millisecond):
			}
			if err := localtest.PauseProcess(ctx, store, e2e.cluster, "etcd", 300*time.Millisecond); err != nil && ctx.Err() == nil {
				t.Errorf("pause etcd: %v", err)
				return
			}
			n++
		}
	}()
	// The pauses stop before a failed wait's kill too (cleanups run last
	// first): etcd is never left stopped.
	t.Cleanup(stop)
	code := bg.wait(t, 5*time.Minute, "etcd was slow")
	stop()
	pauses := <-paused
	t.Logf("etcd paused %d times for 300 ms; benchctl exit %d", pauses, code)
	if pauses < 5 {
		t.Fatalf("etcd was paused only %d times: the run ended too early to test anything\n%s", pauses, lastLines(bg.stderr.String(), 20))
	}
	if code != 0 && code != 1 {
		t.Fatalf("exit %d with a slow etcd, want 0 or 1\n%s\n%s", code, lastLines(bg.stdout.String(), 10), lastLines(bg.stderr.String(), 20))
	}
	run, err := rundir.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if !run.Complete() || len(run.Records) != len(run.Manifest.Plan) {
		t.Fatalf("%d records for %d planned executions (exit %d)\n%s", len(run.Records), len(run.Manifest.Plan), code, lastLines(bg.stderr.String(), 20))
	}

	// Workflows a report warns about (noisy samples, or invalid): a
	// significant row there is said to be doubtful, not confident.
	doubtful := map[string]string{}
	for _, name := range []string{"default", "default-b"} {
		rep, err := reports.Load(filepath.Join(out, "reports", name+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rep.Validity.Reasons {
			t.Logf("%s: %s %s: %s", name, r.Kind, r.Workflow, r.Message)
			if r.Kind == reports.ReasonNoisySamples || (r.Severity == reports.SeverityInvalid && r.Workflow != "") {
				doubtful[r.Workflow] = r.Kind
			}
		}
	}
	b, err := os.ReadFile(filepath.Join(out, "reports", "diff-default-default-b.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var d reports.Diff
	if err := yaml.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	rows, confident := 0, 0
	for _, r := range d.Rows {
		if r.Node != "" || (r.Metric != "wall" && r.Metric != "controller") {
			continue
		}
		rows++
		if r.Significant {
			t.Logf("A/A significant: %s %s p=%.4f shift %v (doubtful: %q)", r.Workflow, r.Metric, r.P, r.ShiftPercent, doubtful[r.Workflow])
			if doubtful[r.Workflow] == "" {
				confident++
			}
		}
	}
	allowed := int(math.Ceil(d.Alpha * float64(rows)))
	if rows != 4 {
		t.Errorf("%d wall and controller rows, want 4 (2 workflows)", rows)
	}
	if confident > allowed {
		t.Errorf("A/A under a slow etcd: %d of %d rows confidently different, more than alpha's share (%d)", confident, rows, allowed)
	}
}
