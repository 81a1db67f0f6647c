package aggregate

import (
	"testing"
	"time"

	"github.com/benchctl/benchctl/controller/api/telemetry"
	"github.com/benchctl/benchctl/controller/api/v1alpha1"
	"github.com/benchctl/benchctl/reports"
)

// oneTask adds a single-task workflow's trace: its start node, n0's launch
// and end, and the end node, each round with an ok update. Greedy rounds:
// the round that decides a success also launches what it unblocks. at and
// user are ms offsets on the builder's clock.
func oneTask(b *spanBuilder, workflow string, at float64, user [2]float64) {
	wf := map[string]any{telemetry.AttrWorkflow: workflow}
	h := b.add(nil, telemetry.SpanStreak, at, at+10, wf)
	r := b.add(h, telemetry.SpanRound, at, at+10, nil)
	b.add(r, telemetry.SpanNodeHandle, at+1, at+2, node(v1alpha1.StartNodeID, "start", "", "Succeeded", 0))
	n := b.add(r, telemetry.SpanNodeHandle, at+2, at+5, node("n0", "task", "", "Running", 1))
	b.add(n, telemetry.SpanPodCreate, at+3, at+4, map[string]any{telemetry.AttrNode: "n0", telemetry.AttrAttempt: int64(1)})
	b.add(r, telemetry.SpanWorkflowUpdate, at+5, at+10, map[string]any{telemetry.AttrUpdateResult: "ok", telemetry.AttrWorkflowPhase: "Running"})

	h2 := b.add(nil, telemetry.SpanStreak, user[1]+5, user[1]+20, wf)
	r2 := b.add(h2, telemetry.SpanRound, user[1]+5, user[1]+20, nil)
	a := node("n0", "task", "Running", "Succeeded", 1)
	a[telemetry.AttrUserStarted] = b.at(user[0]).UnixNano()
	a[telemetry.AttrUserFinished] = b.at(user[1]).UnixNano()
	b.add(r2, telemetry.SpanNodeHandle, user[1]+6, user[1]+7, a)
	b.add(r2, telemetry.SpanNodeHandle, user[1]+7, user[1]+8, node(v1alpha1.EndNodeID, "end", "", "Succeeded", 0))
	b.add(r2, telemetry.SpanWorkflowUpdate, user[1]+8, user[1]+20, map[string]any{telemetry.AttrUpdateResult: "ok", telemetry.AttrWorkflowPhase: "Succeeded"})
}

// TestMeasureTree measures a parent with one launch-plan node whose child
// Workflow runs one task: the child's attempt appears under the launch
// plan's path, its user time counts in the node's and the execution's
// sums, and its operations join the execution's infrastructure.
func TestMeasureTree(t *testing.T) {
	e, _ := launchPlanTree(t)
	if len(e.Problems) > 0 {
		t.Fatalf("problems: %v", e.Problems)
	}
	if len(e.Attempts) != 1 || e.Attempts[0].Node != "lp0/n0" {
		t.Fatalf("attempts = %+v, want one of lp0/n0", e.Attempts)
	}
	a := e.Attempts[0]
	// In the child: ready when its start node was decided (32 ms),
	// launched at 34, user 50..150, done when its end was decided (157).
	if got, want := a.Controller(), (34-32+157-150)*time.Millisecond; got != want {
		t.Errorf("child attempt controller = %v, want %v", got, want)
	}
	if e.User != 100*time.Millisecond || e.Kubernetes != 16*time.Millisecond {
		t.Errorf("execution user %v kubernetes %v, want 100ms and 16ms", e.User, e.Kubernetes)
	}
	var lp0 *NodeMeasure
	for i := range e.Nodes {
		if e.Nodes[i].Node == "lp0" {
			lp0 = &e.Nodes[i]
		}
	}
	if lp0 == nil || lp0.User != 100*time.Millisecond || lp0.Attempts != 1 {
		t.Fatalf("lp0 = %+v, want the child's 100ms of user time in 1 attempt", lp0)
	}
	if n := len(e.Infra[reports.InfraCRDUpdates]); n != 4 {
		t.Errorf("%d CRD updates, want the parent's 2 and the child's 2", n)
	}
	if e.Wall() != 230*time.Millisecond {
		t.Errorf("wall = %v, want 230ms", e.Wall())
	}
}

// TestMeasureGreedyRound is the case that measuring from updates got
// wrong: a downstream pod launched in the round that decided its
// upstream's success, whose update ends after the pod's create call and
// even after the pod's end. Measured from that update, n1's controller
// time was negative; counted in n0's done as well as in n1's wait, the
// update was counted twice.
func TestMeasureGreedyRound(t *testing.T) {
	b := &spanBuilder{t0: time.Unix(1_800_000_000, 0)}
	h := b.add(nil, telemetry.SpanStreak, 1, 30, nil)
	r := b.add(h, telemetry.SpanRound, 1, 30, nil)
	b.add(r, telemetry.SpanNodeHandle, 2, 3, node(v1alpha1.StartNodeID, "start", "", "Succeeded", 0))
	n0 := b.add(r, telemetry.SpanNodeHandle, 3, 6, node("n0", "task", "", "Running", 1))
	b.add(n0, telemetry.SpanPodCreate, 4, 5, map[string]any{telemetry.AttrNode: "n0", telemetry.AttrAttempt: int64(1)})
	b.add(r, telemetry.SpanWorkflowUpdate, 6, 30, map[string]any{telemetry.AttrUpdateResult: "ok", telemetry.AttrWorkflowPhase: "Running"})
	h2 := b.add(nil, telemetry.SpanStreak, 40, 90, nil)
	r2 := b.add(h2, telemetry.SpanRound, 40, 90, nil)
	a := node("n0", "task", "Running", "Succeeded", 1)
	a[telemetry.AttrUserStarted], a[telemetry.AttrUserFinished] = b.at(10).UnixNano(), b.at(35).UnixNano()
	b.add(r2, telemetry.SpanNodeHandle, 41, 42, a)
	n1 := b.add(r2, telemetry.SpanNodeHandle, 42, 46, node("n1", "task", "", "Running", 1))
	b.add(n1, telemetry.SpanPodCreate, 43, 45, map[string]any{telemetry.AttrNode: "n1", telemetry.AttrAttempt: int64(1)})
	b.add(r2, telemetry.SpanWorkflowUpdate, 80, 90, map[string]any{telemetry.AttrUpdateResult: "ok"})
	h3 := b.add(nil, telemetry.SpanStreak, 100, 120, nil)
	r3 := b.add(h3, telemetry.SpanRound, 100, 120, nil)
	a1 := node("n1", "task", "Running", "Succeeded", 1)
	a1[telemetry.AttrUserStarted], a1[telemetry.AttrUserFinished] = b.at(50).UnixNano(), b.at(60).UnixNano()
	b.add(r3, telemetry.SpanNodeHandle, 101, 102, a1)
	b.add(r3, telemetry.SpanNodeHandle, 102, 103, node(v1alpha1.EndNodeID, "end", "", "Succeeded", 0))
	b.add(r3, telemetry.SpanWorkflowUpdate, 103, 120, map[string]any{telemetry.AttrUpdateResult: "ok", telemetry.AttrWorkflowPhase: "Succeeded"})

	e, err := Measure(b.spans, Returned(b.at(0)), chainClosure(), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Problems) > 0 {
		t.Fatalf("problems: %v", e.Problems)
	}
	a0, a1m := e.Attempts[0], e.Attempts[1]
	// n0 is done, and n1 ready, when n0's success was decided (42 ms), not
	// when round 2's update returned (90 ms, after n1's pod had run). n1's
	// controller time is its launch and the wait, through that update, until
	// the controller saw its end (102 ms).
	if !a0.Done.Equal(b.at(42)) || !a1m.Ready.Equal(b.at(42)) || a1m.Controller() != (45-42+102-60)*time.Millisecond {
		t.Errorf("n0 done %v, n1 ready %v controller %v", a0.Done.Sub(b.t0), a1m.Ready.Sub(b.t0), a1m.Controller())
	}
	if sum := e.Setup() + a0.Total() + a1m.Total() + e.Teardown(); sum != e.Wall() {
		t.Errorf("setup + nodes + teardown = %v, wall %v", sum, e.Wall())
	}
}

// launchPlanTree measures a workflow whose launch-plan node runs a child
// Workflow "c" of one task: the parent decides lp0 Running at 3 ms (the
// child's create returns at 8 ms) and Succeeded at 202 ms.
func launchPlanTree(t *testing.T) (*Execution, *spanBuilder) {
	t.Helper()
	child := v1alpha1.NewTemplate()
	child.AddNode("n0", v1alpha1.NodeSpec{Kind: v1alpha1.NodeKindTask, Task: "t"})
	child.AddEdge(v1alpha1.StartNodeID, "n0")
	child.AddEdge("n0", v1alpha1.EndNodeID)
	parent := v1alpha1.NewTemplate()
	parent.AddNode("lp0", v1alpha1.NodeSpec{Kind: v1alpha1.NodeKindLaunchPlan, LaunchPlan: &v1alpha1.LaunchPlanSpec{Workflow: "sub"}})
	parent.AddEdge(v1alpha1.StartNodeID, "lp0")
	parent.AddEdge("lp0", v1alpha1.EndNodeID)
	closure := &v1alpha1.WorkflowClosure{Primary: parent, SubWorkflows: map[string]v1alpha1.WorkflowTemplate{"sub": child},
		Tasks: map[string]v1alpha1.TaskSpec{"t": {}}}
	b := &spanBuilder{t0: time.Unix(1_800_000_000, 0)}
	pwf := map[string]any{telemetry.AttrWorkflow: "p"}
	h := b.add(nil, telemetry.SpanStreak, 1, 20, pwf)
	r := b.add(h, telemetry.SpanRound, 1, 20, nil)
	b.add(r, telemetry.SpanNodeHandle, 2, 3, node(v1alpha1.StartNodeID, "start", "", "Succeeded", 0))
	lp := b.add(r, telemetry.SpanNodeHandle, 3, 9, node("lp0", "launchplan", "", "Running", 0))
	b.add(lp, telemetry.SpanWorkflowCreate, 4, 8, map[string]any{telemetry.AttrNode: "lp0", telemetry.AttrChild: "c"})
	b.add(r, telemetry.SpanWorkflowUpdate, 9, 20, map[string]any{telemetry.AttrUpdateResult: "ok", telemetry.AttrWorkflowPhase: "Running"})
	oneTask(b, "c", 30, [2]float64{50, 150})
	h2 := b.add(nil, telemetry.SpanStreak, 200, 230, pwf)
	r2 := b.add(h2, telemetry.SpanRound, 200, 230, nil)
	b.add(r2, telemetry.SpanNodeHandle, 201, 202, node("lp0", "launchplan", "Running", "Succeeded", 0))
	b.add(r2, telemetry.SpanNodeHandle, 202, 203, node(v1alpha1.EndNodeID, "end", "", "Succeeded", 0))
	b.add(r2, telemetry.SpanWorkflowUpdate, 203, 230, map[string]any{telemetry.AttrUpdateResult: "ok", telemetry.AttrWorkflowPhase: "Succeeded"})
	e, err := MeasureTree(b.spans, "p", Returned(b.at(0)), closure, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return e, b
}
