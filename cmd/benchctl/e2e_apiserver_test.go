package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/benchctl/benchctl/portfolio/rundir"
	"github.com/benchctl/benchctl/provision"
	"github.com/benchctl/benchctl/provision/local/localtest"
	"github.com/benchctl/benchctl/reports"
)

// TestAPIServerRestart restarts the local cluster's kube-apiserver (down
// for 3 s) in the middle of an execution. No client hangs: benchctl ends
// well within the executions' timeouts; every planned execution is
// recorded exactly once; and the execution the restart hit is marked:
// failed with the reason, or invalid with the reason apiserver-restarted
// (the server's counts began again at 0), never blamed on lost spans.
// The report is then invalid and the exit code 1.
func TestAPIServerRestart(t *testing.T) {
	e2eCluster(t)
	p := writePortfolio(t, `apiVersion: benchctl/v1
kind: Portfolio
name: apiserver-restart
defaults: {repetitions: 3, warmup: 0, timeout: 2m}
workflows:
  - name: chain
    description: long enough for the API server to restart in
    task: {duration: 100ms}
    chain: {length: 30}
`)
	out := filepath.Join(t.TempDir(), "run")
	bg := startRun(t, "run", "--cluster", e2e.cluster, "--portfolio", p, "--tier", "default", "--calibration", "off", "--output-dir", out)
	first := waitFirstWorkflow(t, e2eClient(t), out)
	store := provision.NewStore(filepath.Join(e2e.root, "state"))
	proc, err := localtest.RestartProcess(context.Background(), store, e2e.cluster, "kube-apiserver", 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("restarted kube-apiserver (now pid %d) during %s", proc.PID, first.Name)
	code := bg.wait(t, 4*time.Minute, "the API server restarted, and executions time out after 2m")
	// The run changed the cluster record after the restart (it undeployed
	// its controller): the restart's new PID must survive that, or
	// status and teardown would lose the API server.
	c, err := store.Load(e2e.cluster)
	if err != nil {
		t.Fatal(err)
	}
	if i := slices.IndexFunc(c.Processes, func(p provision.Process) bool { return p.Name == proc.Name }); i < 0 || c.Processes[i].PID != proc.PID {
		t.Errorf("after the run the record holds %+v, want %s with the restarted pid %d", c.Processes, proc.Name, proc.PID)
	}
	if out, _, c := runBenchctl("clusters"); c != 0 || !strings.Contains(out, "running") {
		t.Errorf("after the restart the cluster is not recorded as running: exit %d\n%s", c, out)
	}
	if code != 0 && code != 1 {
		t.Fatalf("exit %d after an API server restart, want 0 or 1\n%s\n%s", code, lastLines(bg.stdout.String(), 10), lastLines(bg.stderr.String(), 20))
	}
	run, err := rundir.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if !run.Complete() || len(run.Records) != len(run.Manifest.Plan) {
		t.Fatalf("%d records for %d planned executions (exit %d)\n%s", len(run.Records), len(run.Manifest.Plan), code, lastLines(bg.stderr.String(), 20))
	}
	failed := 0
	for _, r := range run.Records {
		if !r.Succeeded() {
			failed++
			t.Logf("%s failed: %s", r.DirName(), r.Error)
			if r.Error == "" && !r.TimedOut {
				t.Errorf("%s failed without a reason", r.DirName())
			}
		}
	}
	rep, err := reports.Load(filepath.Join(out, "reports", "default.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// The execution the restart hit is invalid, for that reason, not
	// for spans the cross-check would otherwise think lost.
	restarted := 0
	for _, r := range rep.Validity.Reasons {
		if r.Kind == reports.ReasonAPIServerRestart {
			restarted++
		}
		if r.Kind == reports.ReasonCountMismatch && strings.Contains(r.Message, "kube-apiserver") {
			t.Errorf("the restart is blamed on the spans: %s", r.Message)
		}
	}
	switch {
	case restarted+failed == 0:
		t.Errorf("no execution is marked by the restart (exit %d, reasons %v)", code, rep.Validity.Reasons)
	case code != 1 || rep.Validity.Valid:
		t.Errorf("%d execution(s) failed and %d hit by the restart, exit %d, report valid %v: want exit 1 and an invalid report", failed, restarted, code, rep.Validity.Valid)
	}
	t.Logf("exit %d, %d of %d executions failed; %s", code, failed, len(run.Records), fmt.Sprint(rep.Validity.Reasons))
}
