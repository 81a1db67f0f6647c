package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/benchctl/benchctl/controller/api/telemetry"
	"github.com/benchctl/benchctl/controller/api/v1alpha1"
	"github.com/benchctl/benchctl/controller/internal/spancheck"
	"github.com/benchctl/benchctl/controller/internal/testwf"
	"github.com/benchctl/benchctl/controller/taskdata"
)

// spansOf stops the engine (flushing spans) and returns the execution's.
func (h *harness) spansOf(execution string) []*tracepb.Span {
	h.t.Helper()
	h.stop()
	req, dropped, ok := h.tracing.Store.Get(execution)
	if !ok || dropped != 0 {
		h.t.Fatalf("spans of %s: ok %v dropped %d", execution, ok, dropped)
	}
	return spancheck.Spans(req.GetResourceSpans())
}

// expectedPaths lists the status paths a successful run of tmpl creates.
func expectedPaths(c *v1alpha1.WorkflowClosure, prefix string, tmpl v1alpha1.WorkflowTemplate) []string {
	var out []string
	for id, n := range tmpl.Nodes {
		p := v1alpha1.JoinNodePath(prefix, id)
		out = append(out, p)
		switch n.Kind {
		case v1alpha1.NodeKindDynamic:
			out = append(out, expectedPaths(c, p, v1alpha1.ExpandDynamic(n.Task, *n.Dynamic))...)
		case v1alpha1.NodeKindSubWorkflow:
			out = append(out, expectedPaths(c, p, c.SubWorkflows[n.SubWorkflow])...)
		}
	}
	return out
}

func checkAllSucceeded(t *testing.T, wf *v1alpha1.Workflow, closure *v1alpha1.WorkflowClosure) {
	t.Helper()
	want := expectedPaths(closure, "", closure.Primary)
	if len(wf.Status.Nodes) != len(want) {
		t.Fatalf("status has %d nodes, want %d", len(wf.Status.Nodes), len(want))
	}
	for _, p := range want {
		if st := wf.Status.Nodes[p]; st.Phase != v1alpha1.NodeSucceeded {
			t.Fatalf("node %s: %+v", p, st)
		}
	}
}

func TestDynamicNested(t *testing.T) {
	for _, tt := range []struct {
		name   string
		maxPar int32
	}{{"unbounded", 0}, {"maxParallelism 3", 3}} {
		t.Run(tt.name, func(t *testing.T) {
			kube := fake.NewClientset()
			wfs := newFakeWorkflows(0)
			h := newHarness(t, testConfig(), kube, wfs)
			kl := startFakeKubelet(t.Context(), t, kube, "ns")
			wf := testwf.Dynamic("ns", "dyn", 5, 3, testwf.Task(5*time.Millisecond, 64), testwf.Task(5*time.Millisecond, 0))
			wf.Spec.ExecutionConfig.MaxParallelism = tt.maxPar
			create(t, wfs, wf)
			got := h.wait("dyn", 30*time.Second)
			if got.Status.Phase != v1alpha1.WorkflowSucceeded {
				t.Fatalf("%s: %s", got.Status.Phase, got.Status.Message)
			}
			checkAllSucceeded(t, got, wf.Spec.Closure)
			if len(got.Status.Nodes) != 3+7+5*7+25*7 {
				t.Fatalf("%d status nodes", len(got.Status.Nodes))
			}
			// 1 + 5 + 25 generators, 125 leaves.
			if total, dup := kl.creates(); total != 156 || len(dup) > 0 {
				t.Fatalf("pods %d (duplicates %v), want 156", total, dup)
			}
			if tt.maxPar > 0 && kl.maxRunning > int(tt.maxPar) {
				t.Fatalf("%d pods ran at once, maxParallelism %d", kl.maxRunning, tt.maxPar)
			}
			if ref := got.Status.Nodes["dyn/n2"].DynamicRef; !strings.HasSuffix(ref, "/dyn/n2/1/subdag") {
				t.Fatalf("dynamicRef of dyn/n2 = %q", ref)
			}
			res, err := spancheck.Check(h.spansOf("dyn"), "dyn", wf.Spec.Closure)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Attempts) != 156 || len(res.Done) != len(got.Status.Nodes) {
				t.Fatalf("spans give %d attempts and %d done nodes", len(res.Attempts), len(res.Done))
			}
			for p, a := range res.Attempts {
				st := got.Status.Nodes[p]
				if a.Started != st.Started || a.Finished != st.Finished || a.Launched != st.Launched {
					t.Fatalf("node %s: spans %+v disagree with status %+v", p, a, st)
				}
			}
		})
	}
}

func TestSubWorkflows(t *testing.T) {
	kube := fake.NewClientset()
	wfs := newFakeWorkflows(0)
	h := newHarness(t, testConfig(), kube, wfs)
	kl := startFakeKubelet(t.Context(), t, kube, "ns")
	wf := testwf.SubWorkflows("ns", "sw", 10, 3, testwf.Task(5*time.Millisecond, 100))
	create(t, wfs, wf)
	got := h.wait("sw", 20*time.Second)
	if got.Status.Phase != v1alpha1.WorkflowSucceeded {
		t.Fatalf("%s: %s", got.Status.Phase, got.Status.Message)
	}
	checkAllSucceeded(t, got, wf.Spec.Closure)
	if total, dup := kl.creates(); total != 30 || len(dup) > 0 {
		t.Fatalf("pods %d (duplicates %v), want 30", total, dup)
	}
	// Data in and out through the blobstore: the workflow's outputs are
	// the sub-workflows' end nodes' outputs, which are their last task's.
	ctx := context.Background()
	b, err := h.eng.blobs.Read(ctx, got.Status.DataDir+"/outputs", "test")
	if err != nil {
		t.Fatal(err)
	}
	var out taskdata.Inputs
	if err := json.Unmarshal(b, &out); err != nil || len(out.Upstream) != 10 {
		t.Fatalf("workflow outputs %s: %v", b, err)
	}
	for _, u := range out.Upstream {
		if !strings.HasSuffix(u.Key, "/"+u.Node+"/end-node/0/outputs") {
			t.Fatalf("outputs of %s read from %s", u.Node, u.Key)
		}
		end, err := h.eng.blobs.Read(ctx, u.Key, "test")
		if err != nil {
			t.Fatal(err)
		}
		var in taskdata.Inputs
		if err := json.Unmarshal(end, &in); err != nil || len(in.Upstream) != 1 || in.Upstream[0].Bytes != 100 || in.Upstream[0].Node != "n2" {
			t.Fatalf("end node of %s gathered %s", u.Node, end)
		}
	}
	start, err := h.eng.blobs.Read(ctx, got.Status.DataDir+"/sw3/start-node/0/outputs", "test")
	if err != nil {
		t.Fatal(err)
	}
	inputs, _ := h.eng.blobs.Read(ctx, got.Status.DataDir+"/sw3/inputs", "test")
	if string(start) != string(inputs) {
		t.Fatalf("sw3's start node outputs %s, its inputs %s", start, inputs)
	}
	if _, err := spancheck.Check(h.spansOf("sw"), "sw", wf.Spec.Closure); err != nil {
		t.Fatal(err)
	}
}

func TestLaunchPlans(t *testing.T) {
	kube := fake.NewClientset()
	wfs := newFakeWorkflows(0)
	h := newHarness(t, testConfig(), kube, wfs)
	kl := startFakeKubelet(t.Context(), t, kube, "ns")
	wf := testwf.LaunchPlans("ns", "lp", 10, 2, testwf.Task(5*time.Millisecond, 10))
	wf.Spec.ExecutionID = "exec-lp"
	create(t, wfs, wf)
	got := h.wait("lp", 20*time.Second)
	if got.Status.Phase != v1alpha1.WorkflowSucceeded {
		t.Fatalf("%s: %s", got.Status.Phase, got.Status.Message)
	}
	checkAllSucceeded(t, got, wf.Spec.Closure)
	if total, dup := kl.creates(); total != 20 || len(dup) > 0 {
		t.Fatalf("pods %d (duplicates %v), want 20", total, dup)
	}
	ctx := context.Background()
	var childNames []string
	for i := range 10 {
		path := fmt.Sprint("lp", i)
		name := got.Status.Nodes[path].Child
		if name != ChildName("lp", path) {
			t.Fatalf("node %s child %q", path, name)
		}
		childNames = append(childNames, name)
		child, err := wfs.Get(ctx, "ns", name)
		if err != nil {
			t.Fatal(err)
		}
		if child.Status.Phase != v1alpha1.WorkflowSucceeded || child.Spec.ExecutionID != "exec-lp" || parentOf(child) != "lp" ||
			metav1.GetControllerOf(child).UID != got.UID {
			t.Fatalf("child %s: phase %s execution %q owner %v", name, child.Status.Phase, child.Spec.ExecutionID, child.OwnerReferences)
		}
		// The child's outputs were copied back.
		a, err1 := h.eng.blobs.Read(ctx, child.Status.DataDir+"/outputs", "test")
		b, err2 := h.eng.blobs.Read(ctx, fmt.Sprintf("%s/%s/0/outputs", got.Status.DataDir, path), "test")
		if err1 != nil || err2 != nil || string(a) != string(b) {
			t.Fatalf("outputs of %s not copied back: %v %v", path, err1, err2)
		}
	}
	if n := testutil.CollectAndCount(h.metrics.WorkflowCreate); n != 1 {
		t.Fatalf("workflow create histogram series %d", n)
	}
	creates, _ := histogramOf(t, h.metrics.WorkflowCreate)
	spans := h.spansOf("exec-lp")
	var spanCreates int
	for _, s := range spans {
		if s.GetName() == telemetry.SpanWorkflowCreate {
			spanCreates++
		}
	}
	if creates != 10 || spanCreates != 10 {
		t.Fatalf("workflow creates: metric %d, spans %d, want 10", creates, spanCreates)
	}
	res, err := spancheck.Check(spancheck.ByWorkflow(spans, "lp"), "exec-lp", wf.Spec.Closure)
	if err != nil {
		t.Fatal(err)
	}
	for p, c := range res.Children {
		if !slices.Contains(childNames, c) {
			t.Fatalf("workflow.create of %s names %s", p, c)
		}
	}
	for _, name := range childNames {
		if _, err := spancheck.Check(spancheck.ByWorkflow(spans, name), "exec-lp", testwf.ChildClosure(wf.Spec.Closure, testwf.SubWorkflow)); err != nil {
			t.Fatalf("child %s: %v", name, err)
		}
	}
}

func TestLaunchPlanRateLimit(t *testing.T) {
	kube := fake.NewClientset()
	wfs := newFakeWorkflows(0)
	cfg := testConfig()
	cfg.LaunchPlans.CreateQPS, cfg.LaunchPlans.CreateBurst = 5, 1
	h := newHarness(t, cfg, kube, wfs)
	startFakeKubelet(t.Context(), t, kube, "ns")
	create(t, wfs, testwf.LaunchPlans("ns", "lp", 4, 1, testwf.Task(0, 0)))
	if got := h.wait("lp", 20*time.Second); got.Status.Phase != v1alpha1.WorkflowSucceeded {
		t.Fatalf("%s: %s", got.Status.Phase, got.Status.Message)
	}
	var starts []uint64
	for _, s := range h.spansOf("lp") {
		if s.GetName() == telemetry.SpanWorkflowCreate {
			starts = append(starts, s.GetStartTimeUnixNano())
		}
	}
	slices.Sort(starts)
	if len(starts) != 4 {
		t.Fatalf("%d creates", len(starts))
	}
	for i := 1; i < len(starts); i++ {
		// 5 per second: one token every 200ms (timer slack allowed).
		if gap := time.Duration(starts[i] - starts[i-1]); gap < 150*time.Millisecond {
			t.Fatalf("creates %d and %d only %v apart", i-1, i, gap)
		}
	}
}

func TestGreedyRounds(t *testing.T) {
	for _, tt := range []struct {
		greedy  bool
		updates int64
	}{
		// Round 0: start + n0's launch; then one round per node that
		// persists its success and its successor's launch (the last: the
		// end node and the workflow's success).
		{true, 7},
		// Start; then per node a launch round and a success round; then
		// the end node.
		{false, 14},
	} {
		t.Run(fmt.Sprint("greedy=", tt.greedy), func(t *testing.T) {
			kube := fake.NewClientset()
			wfs := newFakeWorkflows(0)
			cfg := testConfig()
			cfg.GreedyRounds = tt.greedy
			h := newHarness(t, cfg, kube, wfs)
			startFakeKubelet(t.Context(), t, kube, "ns")
			wf := testwf.Chain("ns", "chain", 6, testwf.Task(5*time.Millisecond, 0))
			create(t, wfs, wf)
			if got := h.wait("chain", 10*time.Second); got.Status.Phase != v1alpha1.WorkflowSucceeded {
				t.Fatalf("%s: %s", got.Status.Phase, got.Status.Message)
			}
			if got := wfs.updates.Load(); got != tt.updates {
				t.Fatalf("%d updates for a chain of 6, want %d", got, tt.updates)
			}
			res, err := spancheck.Check(h.spansOf("chain"), "chain", wf.Spec.Closure)
			if err != nil {
				t.Fatal(err)
			}
			for p, a := range res.Attempts {
				// Persisted-first rounds never launch before ready; greedy
				// ones launch before the update that makes the node ready.
				if before := a.LaunchSent < a.Ready; before != tt.greedy {
					t.Fatalf("%s: launch sent %d ns after ready", p, a.LaunchSent-a.Ready)
				}
			}
		})
	}
}

func TestFailureSemantics(t *testing.T) {
	failing := func(fail, retries int32) v1alpha1.TaskSpec {
		t := testwf.Task(5*time.Millisecond, 0)
		t.FailAttempts, t.Retries = fail, retries
		return t
	}
	ok := testwf.Task(5*time.Millisecond, 0)
	tests := []struct {
		name      string
		wf        *v1alpha1.Workflow
		wantPhase v1alpha1.WorkflowPhase
		// check inspects the final workflow.
		check func(t *testing.T, wf *v1alpha1.Workflow, wfs *fakeWorkflows)
	}{
		{"dynamic leaf fails after its retries", testwf.Dynamic("ns", "w", 3, 2, failing(3, 2), ok), v1alpha1.WorkflowFailed,
			func(t *testing.T, wf *v1alpha1.Workflow, _ *fakeWorkflows) {
				var failed []string
				for p, st := range wf.Status.Nodes {
					if st.Phase == v1alpha1.NodeFailed && strings.Count(p, "/") == 2 {
						failed = append(failed, p)
						if st.Attempts != 3 {
							t.Fatalf("%s: %d attempts, want 3", p, st.Attempts)
						}
					}
				}
				if len(failed) == 0 || !strings.Contains(wf.Status.Message, "node "+failed[0]+": attempt 3 failed: container task exited with code 1") {
					t.Fatalf("failed leaves %v, message %q", failed, wf.Status.Message)
				}
				if st := wf.Status.Nodes["dyn"]; st.Phase != v1alpha1.NodeFailed || !strings.Contains(st.Message, "attempt 3 failed") {
					t.Fatalf("dyn: %+v", st)
				}
			}},
		{"dynamic generator retries", testwf.Dynamic("ns", "w", 2, 1, ok, failing(1, 1)), v1alpha1.WorkflowSucceeded,
			func(t *testing.T, wf *v1alpha1.Workflow, _ *fakeWorkflows) {
				if a := wf.Status.Nodes["dyn"].Attempts; a != 2 {
					t.Fatalf("generator attempts %d, want 2", a)
				}
			}},
		{"dynamic generator fails", testwf.Dynamic("ns", "w", 2, 1, ok, failing(2, 1)), v1alpha1.WorkflowFailed,
			func(t *testing.T, wf *v1alpha1.Workflow, _ *fakeWorkflows) {
				if !strings.Contains(wf.Status.Message, "node dyn: attempt 2 failed") {
					t.Fatalf("message %q", wf.Status.Message)
				}
			}},
		{"sub-workflow task fails", testwf.SubWorkflows("ns", "w", 2, 2, failing(1, 0)), v1alpha1.WorkflowFailed,
			func(t *testing.T, wf *v1alpha1.Workflow, _ *fakeWorkflows) {
				failed := 0
				for _, sw := range []string{"sw0", "sw1"} {
					if strings.Contains(wf.Status.Message, "node "+sw+"/n0: attempt 1 failed") {
						failed++
						if st := wf.Status.Nodes[sw]; st.Phase != v1alpha1.NodeFailed || !strings.Contains(st.Message, sw+"/n0 failed") {
							t.Fatalf("%s: %+v", sw, st)
						}
					}
				}
				if failed == 0 {
					t.Fatalf("message %q names no failed sub-workflow task", wf.Status.Message)
				}
			}},
		{"sub-workflow task retries", testwf.SubWorkflows("ns", "w", 2, 2, failing(1, 1)), v1alpha1.WorkflowSucceeded,
			func(t *testing.T, wf *v1alpha1.Workflow, _ *fakeWorkflows) {
				if a := wf.Status.Nodes["sw1/n1"].Attempts; a != 2 {
					t.Fatalf("sw1/n1 attempts %d", a)
				}
			}},
		{"launch-plan child fails", testwf.LaunchPlans("ns", "w", 2, 1, failing(1, 0)), v1alpha1.WorkflowFailed,
			func(t *testing.T, wf *v1alpha1.Workflow, _ *fakeWorkflows) {
				// Either child may fail first; the other is aborted.
				var named int
				for _, lp := range []string{"lp0", "lp1"} {
					want := fmt.Sprintf("node %s: child workflow %s failed: node n0: attempt 1 failed: container task exited with code 1", lp, ChildName("w", lp))
					if strings.Contains(wf.Status.Message, want) {
						named++
						if wf.Status.Nodes[lp].Phase != v1alpha1.NodeFailed {
							t.Fatalf("%s: %+v", lp, wf.Status.Nodes[lp])
						}
					}
				}
				if named == 0 {
					t.Fatalf("message %q names no failed child", wf.Status.Message)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kube := fake.NewClientset()
			wfs := newFakeWorkflows(0)
			h := newHarness(t, testConfig(), kube, wfs)
			startFakeKubelet(t.Context(), t, kube, "ns")
			create(t, wfs, tt.wf)
			got := h.wait("w", 20*time.Second)
			if got.Status.Phase != tt.wantPhase {
				t.Fatalf("phase %s (%s), want %s", got.Status.Phase, got.Status.Message, tt.wantPhase)
			}
			for p, st := range got.Status.Nodes {
				if got.Status.Phase == v1alpha1.WorkflowFailed && (st.Phase == v1alpha1.NodeRunning || st.Phase == v1alpha1.NodeQueued) {
					t.Fatalf("node %s still %s in a failed workflow", p, st.Phase)
				}
			}
			tt.check(t, got, wfs)
		})
	}
}

// TestAbortStopsChildren: a failure elsewhere aborts running launch-plan
// children (deleted) and pods inside sub-DAGs.
func TestAbortStopsChildren(t *testing.T) {
	kube := fake.NewClientset()
	wfs := newFakeWorkflows(0)
	h := newHarness(t, testConfig(), kube, wfs)
	startFakeKubelet(t.Context(), t, kube, "ns")
	slow := testwf.Task(10*time.Second, 0)
	wf := testwf.LaunchPlans("ns", "w", 1, 1, slow)
	bad := testwf.Task(50*time.Millisecond, 0)
	bad.FailAttempts = 1
	wf.Spec.Closure.Tasks["bad"] = bad
	wf.Spec.Closure.Primary.AddNode("x", v1alpha1.NodeSpec{Kind: v1alpha1.NodeKindTask, Task: "bad"})
	wf.Spec.Closure.Primary.AddEdge(v1alpha1.StartNodeID, "x")
	wf.Spec.Closure.Primary.AddEdge("x", v1alpha1.EndNodeID)
	wf.Spec.Closure.Primary.AddNode("sw", v1alpha1.NodeSpec{Kind: v1alpha1.NodeKindSubWorkflow, SubWorkflow: testwf.SubWorkflow})
	wf.Spec.Closure.Primary.AddEdge(v1alpha1.StartNodeID, "sw")
	wf.Spec.Closure.Primary.AddEdge("sw", v1alpha1.EndNodeID)
	create(t, wfs, wf)
	got := h.wait("w", 10*time.Second)
	if got.Status.Phase != v1alpha1.WorkflowFailed {
		t.Fatalf("phase %s", got.Status.Phase)
	}
	for _, p := range []string{"lp0", "sw", "sw/n0"} {
		if st := got.Status.Nodes[p]; st.Phase != v1alpha1.NodeAborted {
			t.Fatalf("%s: %+v, want Aborted", p, st)
		}
	}
	if _, err := wfs.Get(context.Background(), "ns", ChildName("w", "lp0")); err == nil || wfs.deletes.Load() != 1 {
		t.Fatalf("child not deleted: %v", err)
	}
	if _, err := kube.CoreV1().Pods("ns").Get(context.Background(), PodName("w", "sw/n0", -1, 1), metav1.GetOptions{}); err == nil {
		t.Fatal("pod of sw/n0 not deleted")
	}
}

func TestRestartMidDynamic(t *testing.T) {
	kube := fake.NewClientset()
	wfs := newFakeWorkflows(0)
	cfg := testConfig()
	cfg.Blobstore.URL = "file://" + t.TempDir() + "?no_tmp_dir=1"
	first := newHarness(t, cfg, kube, wfs)
	kl := startFakeKubelet(t.Context(), t, kube, "ns")
	task := testwf.Task(30*time.Millisecond, 10)
	task.FailAttempts, task.Retries = 1, 1 // two attempts per leaf and per generator
	create(t, wfs, offloaded(testwf.Dynamic("ns", "restart", 3, 2, task, task)))
	deadline := time.Now().Add(10 * time.Second)
	for {
		wf, _ := wfs.Get(context.Background(), "ns", "restart")
		if wf.Status.Nodes["dyn/n1/n0"].Phase == v1alpha1.NodeRunning {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("dyn/n1/n0 never ran")
		}
		time.Sleep(time.Millisecond)
	}
	first.stop()
	second := newHarness(t, cfg, kube, wfs) // reads the closure and the sub-DAGs back
	wf := second.wait("restart", 20*time.Second)
	if wf.Status.Phase != v1alpha1.WorkflowSucceeded {
		t.Fatalf("phase %s: %s", wf.Status.Phase, wf.Status.Message)
	}
	// (1 + 3 generators + 9 leaves) x 2 attempts.
	if total, dup := kl.creates(); total != 26 || len(dup) > 0 {
		t.Fatalf("%d pods created (duplicates %v), want 26: one per attempt", total, dup)
	}
}

func TestInvalidClosures(t *testing.T) {
	base := func() *v1alpha1.Workflow { return testwf.SubWorkflows("ns", "bad", 1, 1, testwf.Task(0, 0)) }
	tests := []struct {
		name   string
		mutate func(wf *v1alpha1.Workflow)
		want   string
	}{
		{"unknown sub-workflow", func(wf *v1alpha1.Workflow) {
			wf.Spec.Closure.Primary.Nodes["sw0"] = v1alpha1.NodeSpec{Kind: v1alpha1.NodeKindSubWorkflow, SubWorkflow: "nope"}
		}, `spec.closure.primary.nodes[sw0].subWorkflow: no sub-workflow "nope"`},
		{"sub-workflow runs itself", func(wf *v1alpha1.Workflow) {
			sub := wf.Spec.Closure.SubWorkflows[testwf.SubWorkflow]
			sub.Nodes["n0"] = v1alpha1.NodeSpec{Kind: v1alpha1.NodeKindLaunchPlan, LaunchPlan: &v1alpha1.LaunchPlanSpec{Workflow: testwf.SubWorkflow}}
		}, "spec.closure.subWorkflows: sub runs itself (sub -> sub)"},
		{"bad task in a sub-workflow", func(wf *v1alpha1.Workflow) {
			wf.Spec.Closure.SubWorkflows[testwf.SubWorkflow].Nodes["n0"] = v1alpha1.NodeSpec{Kind: v1alpha1.NodeKindTask, Task: "missing"}
		}, `spec.closure.subWorkflows[sub].nodes[n0].task: no task "missing"`},
		{"dynamic without a leaf task", func(wf *v1alpha1.Workflow) {
			wf.Spec.Closure.Primary.Nodes["sw0"] = v1alpha1.NodeSpec{Kind: v1alpha1.NodeKindDynamic, Task: "t",
				Dynamic: &v1alpha1.DynamicSpec{Width: 2, Depth: 1, LeafTask: "leaf"}}
		}, `spec.closure.primary.nodes[sw0].dynamic.leafTask: no task "leaf"`},
		{"launch plan without its spec", func(wf *v1alpha1.Workflow) {
			wf.Spec.Closure.Primary.Nodes["sw0"] = v1alpha1.NodeSpec{Kind: v1alpha1.NodeKindLaunchPlan}
		}, "spec.closure.primary.nodes[sw0].launchPlan: a launch-plan node needs launchPlan.workflow"},
		// The CRD no longer bounds these: the controller does.
		{"negative retries", func(wf *v1alpha1.Workflow) {
			tk := wf.Spec.Closure.Tasks["t"]
			tk.Retries = -1
			wf.Spec.Closure.Tasks["t"] = tk
		}, "spec.closure.tasks[t].retries: must not be negative, got -1"},
		{"negative output bytes", func(wf *v1alpha1.Workflow) {
			tk := wf.Spec.Closure.Tasks["t"]
			tk.OutputBytes = -5
			wf.Spec.Closure.Tasks["t"] = tk
		}, "spec.closure.tasks[t].outputBytes: must not be negative, got -5"},
		{"unknown kind", func(wf *v1alpha1.Workflow) {
			wf.Spec.Closure.Primary.Nodes["sw0"] = v1alpha1.NodeSpec{Kind: "loop", Task: "t"}
		}, `spec.closure.primary.nodes[sw0].kind: unknown kind "loop"`},
		{"negative map parallelism", func(wf *v1alpha1.Workflow) {
			wf.Spec.Closure.Primary.Nodes["sw0"] = v1alpha1.NodeSpec{Kind: v1alpha1.NodeKindMap, Task: "t", Map: &v1alpha1.MapSpec{Size: 3, Parallelism: -1}}
		}, "spec.closure.primary.nodes[sw0].map.parallelism: must not be negative, got -1"},
		{"node ID with a slash", func(wf *v1alpha1.Workflow) {
			wf.Spec.Closure.SubWorkflows[testwf.SubWorkflow].Nodes["a/b"] = v1alpha1.NodeSpec{Kind: v1alpha1.NodeKindTask, Task: "t"}
		}, `spec.closure.subWorkflows[sub].nodes[a/b]: a node ID must be non-empty and must not contain "/"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kube := fake.NewClientset()
			wfs := newFakeWorkflows(0)
			h := newHarness(t, testConfig(), kube, wfs)
			wf := base()
			tt.mutate(wf)
			create(t, wfs, wf)
			got := h.wait("bad", 5*time.Second)
			if got.Status.Phase != v1alpha1.WorkflowFailed || !strings.Contains(got.Status.Message, tt.want) {
				t.Fatalf("got %s %q, want a failure naming %q", got.Status.Phase, got.Status.Message, tt.want)
			}
		})
	}
}

// TestUndecodableWorkflowFails: a Workflow the client could only decode
// in part (AnnotationDecodeError) fails with the reason, through a status
// patch that keeps its spec as stored, and the others run on.
func TestUndecodableWorkflowFails(t *testing.T) {
	kube := fake.NewClientset()
	wfs := newFakeWorkflows(0)
	h := newHarness(t, testConfig(), kube, wfs)
	startFakeKubelet(t.Context(), t, kube, "ns")
	bad := testwf.Chain("ns", "bad", 2, testwf.Task(0, 0))
	bad.Annotations = map[string]string{AnnotationDecodeError: "spec.closure.tasks.retries: a JSON string where int32 belongs"}
	create(t, wfs, bad)
	create(t, wfs, testwf.Chain("ns", "good", 2, testwf.Task(0, 0)))
	got := h.wait("bad", 5*time.Second)
	if got.Status.Phase != v1alpha1.WorkflowFailed || !strings.Contains(got.Status.Message, "does not decode: spec.closure.tasks.retries") {
		t.Fatalf("got %s %q, want a failure naming the field", got.Status.Phase, got.Status.Message)
	}
	if got.Spec.Closure == nil || len(got.Spec.Closure.Primary.Nodes) != 4 || len(got.Status.Nodes) != 0 {
		t.Fatalf("the failure rewrote more than the status' phase: closure %v, %d node statuses", got.Spec.Closure != nil, len(got.Status.Nodes))
	}
	if good := h.wait("good", 5*time.Second); good.Status.Phase != v1alpha1.WorkflowSucceeded {
		t.Fatalf("good: %s %s", good.Status.Phase, good.Status.Message)
	}
}

// TestKindsPersistedFirst runs every kind with greedyRounds off: no pod is
// launched before the update that made its node ready.
func TestKindsPersistedFirst(t *testing.T) {
	task := testwf.Task(5*time.Millisecond, 10)
	for _, wf := range []*v1alpha1.Workflow{
		testwf.Dynamic("ns", "dyn", 3, 2, task, task),
		testwf.SubWorkflows("ns", "sw", 3, 2, task),
		testwf.LaunchPlans("ns", "lp", 2, 2, task),
	} {
		t.Run(wf.Name, func(t *testing.T) {
			kube := fake.NewClientset()
			wfs := newFakeWorkflows(0)
			cfg := testConfig()
			cfg.GreedyRounds = false
			h := newHarness(t, cfg, kube, wfs)
			startFakeKubelet(t.Context(), t, kube, "ns")
			create(t, wfs, wf)
			got := h.wait(wf.Name, 20*time.Second)
			if got.Status.Phase != v1alpha1.WorkflowSucceeded {
				t.Fatalf("%s: %s", got.Status.Phase, got.Status.Message)
			}
			checkAllSucceeded(t, got, wf.Spec.Closure)
			res, err := spancheck.Check(spancheck.ByWorkflow(h.spansOf(wf.Name), wf.Name), wf.Name, wf.Spec.Closure)
			if err != nil {
				t.Fatal(err)
			}
			for p, a := range res.Attempts {
				if a.LaunchSent < a.Ready {
					t.Fatalf("%s: launched %d ns before ready", p, a.Ready-a.LaunchSent)
				}
			}
		})
	}
}
