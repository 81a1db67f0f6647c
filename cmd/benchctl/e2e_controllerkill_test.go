package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/benchctl/benchctl/controller/api/v1alpha1"
	"github.com/benchctl/benchctl/portfolio"
	"github.com/benchctl/benchctl/portfolio/rundir"
	"github.com/benchctl/benchctl/provision"
)

// TestControllerKilled kills the controller (kill -9) in the middle of an
// execution, of a chain and of a map. benchctl notices within seconds, not
// at the 2-minute execution timeout: it exits 1 with a resume hint, the
// execution is recorded as failed with "controller exited", and nothing
// else is recorded for it. Restarted ('benchctl deploy'), the controller
// finishes the Workflow it was killed in with exactly one pod per node
// attempt and map item, and no node needed a second attempt. The resume
// then runs that execution again and completes the run with every
// planned execution recorded once.
func TestControllerKilled(t *testing.T) {
	e2eCluster(t)
	tests := []struct {
		name, shape string
	}{
		{"chain", "chain: {length: 30}"},
		{"map", "map: {size: 150}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writePortfolio(t, fmt.Sprintf(`apiVersion: benchctl/v1
kind: Portfolio
name: controller-kill
defaults: {repetitions: 2, warmup: 0, timeout: 2m}
workflows:
  - name: %s
    description: long enough to be killed in
    task: {duration: 100ms}
    %s
`, tt.name, tt.shape))
			out := filepath.Join(t.TempDir(), "run")
			args := []string{"run", "--cluster", e2e.cluster, "--portfolio", p, "--tier", "default", "--calibration", "off", "--output-dir", out}
			bg := startRun(t, append(args, "--keep-workflows", "--keep-deployments")...)
			// The first execution's Workflow exists and has launched pods.
			kube := e2eClient(t)
			first := waitFirstWorkflow(t, kube, out)
			proc := controllerProcess(t)
			if err := syscall.Kill(proc.PID, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed := time.Now()
			t.Logf("killed the controller (pid %d) during %s", proc.PID, first.Name)
			code := bg.wait(t, 3*time.Minute, "the controller was killed, and executions time out after 2m")
			noticed := time.Since(killed)
			if code != 1 {
				t.Fatalf("benchctl exited %d after the kill, want 1\n%s\n%s", code, bg.stdout.String(), lastLines(bg.stderr.String(), 20))
			}
			if noticed > 30*time.Second {
				t.Errorf("benchctl ended %s after the kill; the execution timeout is 2m", noticed.Round(time.Second))
			}
			if all := bg.stdout.String() + bg.stderr.String(); !strings.Contains(all, "controller") || !strings.Contains(all, "exited") || !strings.Contains(all, "--resume") {
				t.Errorf("output does not say the controller exited and how to resume:\n%s\n%s", lastLines(bg.stdout.String(), 5), lastLines(bg.stderr.String(), 5))
			}
			run, err := rundir.Load(out)
			if err != nil {
				t.Fatal(err)
			}
			rec, err := rundir.Open(out).Execution(run.Manifest.Plan[0]).ReadRecord()
			if err != nil || !rec.ControllerExited || !strings.HasPrefix(rec.Error, "controller exited: ") || rec.Name != first.Name {
				t.Fatalf("record of the killed execution: %+v (%v)", rec, err)
			}
			// On disk: the failed record and nothing else; the run is not
			// complete, so the resume runs it again.
			if len(run.Records) != 1 || run.Records[0].Name != first.Name || run.Complete() {
				t.Errorf("%d records (complete %v); want only the killed one's", len(run.Records), run.Complete())
			}

			// Restarted, the controller finishes the Workflow it died in.
			if _, stderr, code := runBenchctl("deploy", "--cluster", e2e.cluster, "--config", "default"); code != 0 {
				t.Fatalf("deploy (restart): exit %d\n%s", code, lastLines(stderr, 10))
			}
			wf := waitPhase(t, kube, first, 2*time.Minute)
			if wf.Status.Phase != v1alpha1.WorkflowSucceeded {
				t.Fatalf("after the restart the workflow ended %s: %s", wf.Status.Phase, wf.Status.Message)
			}
			var pods corev1.PodList
			if err := kube.List(context.Background(), &pods, client.InNamespace(first.Namespace), client.MatchingLabels{v1alpha1.LabelWorkflow: first.Name}); err != nil {
				t.Fatal(err)
			}
			want := 30
			if tt.name == "map" {
				want = 150
			}
			if len(pods.Items) != want {
				t.Errorf("%d pods for %d node attempts / map items", len(pods.Items), want)
			}
			for id, n := range wf.Status.Nodes {
				if n.Attempts > 1 {
					t.Errorf("node %s took %d attempts after the restart", id, n.Attempts)
				}
			}

			// The resume runs the killed execution again, and the rest.
			if so, se, code := runBenchctl(append(args, "--resume")...); code != 0 {
				t.Fatalf("resume: exit %d\n%s\n%s", code, lastLines(so, 10), lastLines(se, 20))
			}
			run, err = rundir.Load(out)
			if err != nil {
				t.Fatal(err)
			}
			if !run.Complete() || len(run.Records) != len(run.Manifest.Plan) {
				t.Fatalf("after resume: %d records for %d planned", len(run.Records), len(run.Manifest.Plan))
			}
			for _, r := range run.Records {
				if !r.Succeeded() || r.ControllerExited {
					t.Errorf("after resume: %s: %s", r.DirName(), r.Error)
				}
			}
		})
	}
}

// e2eClient is a client of the shared e2e cluster.
func e2eClient(t *testing.T) client.WithWatch {
	t.Helper()
	c, err := provision.NewStore(filepath.Join(e2e.root, "state")).Load(e2e.cluster)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := portfolio.NewClient(rc)
	if err != nil {
		t.Fatal(err)
	}
	return kc
}

// controllerProcess is the running host controller of the default
// deployment, as the cluster record has it.
func controllerProcess(t *testing.T) provision.Process {
	t.Helper()
	c, err := provision.NewStore(filepath.Join(e2e.root, "state")).Load(e2e.cluster)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range c.Processes {
		if p.Name == "benchflow-default" {
			return p
		}
	}
	t.Fatalf("no controller process benchflow-default among %+v", c.Processes)
	return provision.Process{}
}

// waitFirstWorkflow waits until the run's first execution has a
// Workflow that has launched at least 3 pods, and returns it.
func waitFirstWorkflow(t *testing.T, kube client.Client, out string) *v1alpha1.Workflow {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		m, err := rundir.Open(out).ReadManifest()
		if err != nil {
			continue
		}
		var wfs v1alpha1.WorkflowList
		if err := kube.List(context.Background(), &wfs, client.MatchingLabels{portfolio.LabelRun: m.RunID}); err != nil || len(wfs.Items) == 0 {
			continue
		}
		wf := &wfs.Items[0]
		var pods corev1.PodList
		if err := kube.List(context.Background(), &pods, client.InNamespace(wf.Namespace), client.MatchingLabels{v1alpha1.LabelWorkflow: wf.Name}); err == nil && len(pods.Items) >= 3 {
			return wf
		}
	}
	t.Fatal("the run's first Workflow launched no pods in time")
	return nil
}

// waitPhase waits for a terminal phase of wf.
func waitPhase(t *testing.T, kube client.Client, wf *v1alpha1.Workflow, timeout time.Duration) *v1alpha1.Workflow {
	t.Helper()
	deadline := time.Now().Add(timeout)
	cur := &v1alpha1.Workflow{}
	for time.Now().Before(deadline) {
		if err := kube.Get(context.Background(), client.ObjectKeyFromObject(wf), cur); err == nil && cur.Status.Phase.IsTerminal() {
			return cur
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("workflow %s: no terminal phase within %s after the restart (phase %q)", wf.Name, timeout, cur.Status.Phase)
	return nil
}
