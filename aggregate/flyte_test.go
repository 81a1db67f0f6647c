package aggregate

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/benchctl/benchctl/portfolio/flyte"
	"github.com/benchctl/benchctl/portfolio/rundir"
	"github.com/benchctl/benchctl/reports"
)

var f0 = time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)

func fms(v float64) time.Time { return f0.Add(time.Duration(v * float64(time.Millisecond))) }

func fop(id string, from, to float64) flyte.Span {
	return flyte.Span{OperationID: id, StartTime: fms(from), EndTime: fms(to)}
}

// flyteRun is one node n0 whose first attempt failed and was retried, as
// Admin records it: node and task executions, and the span tree its
// metrics manager derives from them.
type flyteRun struct {
	ex    flyte.Execution
	nodes []flyte.NodeTree
	root  flyte.Span
}

func retried() flyteRun {
	id := flyte.ExecutionID{Project: "p", Domain: "d", Name: "e"}
	task := func(attempt int64, created, running, ended, updated float64, phase string) flyte.TaskExecution {
		return flyte.TaskExecution{ID: flyte.TaskExecutionID{RetryAttempt: flyte.Int64(attempt), NodeExecutionID: flyte.NodeExecutionID{NodeID: "n0", ExecutionID: id}},
			Closure: flyte.TaskExecutionClosure{Phase: phase, Timing: flyte.Timing{CreatedAt: fms(created), StartedAt: fms(running), UpdatedAt: fms(updated),
				Duration: flyte.Duration(fms(ended).Sub(fms(running)))}}}
	}
	node := func(nid string, created, updated float64, tasks ...flyte.TaskExecution) flyte.NodeTree {
		return flyte.NodeTree{NodeExecution: flyte.NodeExecution{ID: flyte.NodeExecutionID{NodeID: nid, ExecutionID: id},
			Closure: flyte.NodeExecutionClosure{Phase: flyte.PhaseSucceeded, Timing: flyte.Timing{CreatedAt: fms(created), UpdatedAt: fms(updated)}}}, Tasks: tasks}
	}
	r := flyteRun{
		ex: flyte.Execution{ID: id, Closure: flyte.ExecutionClosure{Phase: flyte.PhaseSucceeded, Timing: flyte.Timing{CreatedAt: fms(0), UpdatedAt: fms(300)}}},
		nodes: []flyte.NodeTree{
			node("start-node", 10, 10),
			node("n0", 12, 290, task(0, 15, 20, 100, 110, flyte.PhaseFailed), task(1, 130, 140, 270, 280, flyte.PhaseSucceeded)),
			node("end-node", 292, 292),
		},
	}
	n0 := flyte.NodeExecutionID{NodeID: "n0", ExecutionID: id}
	t0 := flyte.TaskExecutionID{NodeExecutionID: n0}
	t1 := flyte.TaskExecutionID{NodeExecutionID: n0, RetryAttempt: 1}
	r.root = flyte.Span{WorkflowID: &id, StartTime: fms(0), EndTime: fms(300), Spans: []flyte.Span{
		fop(flyte.OpWorkflowSetup, 0, 10),
		{NodeID: &n0, StartTime: fms(12), EndTime: fms(290), Spans: []flyte.Span{
			fop(flyte.OpNodeTransition, 10, 12),
			fop(flyte.OpNodeSetup, 12, 15),
			{TaskID: &t0, StartTime: fms(15), EndTime: fms(110), Spans: []flyte.Span{fop(flyte.OpTaskSetup, 15, 20), fop(flyte.OpTaskRuntime, 20, 100), fop(flyte.OpTaskTeardown, 100, 110)}},
			fop(flyte.OpNodeReset, 110, 130),
			{TaskID: &t1, StartTime: fms(130), EndTime: fms(280), Spans: []flyte.Span{fop(flyte.OpTaskSetup, 130, 140), fop(flyte.OpTaskRuntime, 140, 270), fop(flyte.OpTaskTeardown, 270, 280)}},
			fop(flyte.OpNodeTeardown, 280, 290),
		}},
		fop(flyte.OpWorkflowTeardown, 290, 300),
	}}
	return r
}

// TestMeasureFlyte: a retried node from Admin's records: the instants of
// each attempt, the node's sums, and a critical path that tiles the wall
// time, each part where the mapping puts it.
func TestMeasureFlyte(t *testing.T) {
	r := retried()
	e, segs, err := MeasureFlyte(&r.ex, r.nodes, &r.root)
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Problems) > 0 {
		t.Fatalf("problems: %v", e.Problems)
	}
	d := func(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
	if e.Wall() != d(300) || e.Setup() != d(10) || e.Teardown() != d(10) {
		t.Errorf("wall %v setup %v teardown %v", e.Wall(), e.Setup(), e.Teardown())
	}
	if len(e.Attempts) != 2 {
		t.Fatalf("%d attempts", len(e.Attempts))
	}
	a0, a1 := e.Attempts[0], e.Attempts[1]
	if a0.Attempt != 1 || a0.Ready != fms(10) || a0.Handled != fms(12) || a0.Launched != fms(15) || a0.Started != fms(20) || a0.Finished != fms(100) || a0.Done != fms(110) {
		t.Errorf("first attempt %+v", a0)
	}
	if a1.Attempt != 2 || a1.Ready != fms(110) || a1.Launched != fms(130) || a1.Started != fms(140) || a1.Finished != fms(270) || a1.Seen != fms(280) || a1.Done != fms(290) {
		t.Errorf("retry %+v", a1)
	}
	n := e.Nodes[0]
	if n.User != d(80+130) || n.Kubernetes != d(5+10) || n.Controller != d(280-210-15) || n.Attempts != 2 {
		t.Errorf("node %+v", n)
	}
	parts := map[string]time.Duration{}
	at := e.Created
	for _, s := range segs {
		if !s.Start.Equal(at) {
			t.Fatalf("segment %+v does not start where the one before ended (%v)", s, at)
		}
		parts[s.Name()] += s.Duration()
		at = s.End
	}
	want := map[string]time.Duration{"user": d(210), "kubernetes": d(15), "controller.setup": d(10), "controller.round-wait": d(2),
		"controller.launch": d(3 + 20), "controller.observe": d(10 + 10 + 10), "controller.teardown": d(10)}
	for k, v := range want {
		if parts[k] != v {
			t.Errorf("%s = %v, want %v (all: %v)", k, parts[k], v, parts)
		}
	}
	if !at.Equal(e.Succeeded) {
		t.Errorf("the path ends at %v, the execution at %v", at, e.Succeeded)
	}
}

// TestMeasureFlyteDistrusts: what makes Admin's records untrustworthy is
// a problem of its kind, not a number.
func TestMeasureFlyteDistrusts(t *testing.T) {
	tests := []struct {
		name string
		edit func(r *flyteRun)
		kind string
		want string
	}{
		{"a tree cut above the tasks", func(r *flyteRun) { r.root.Spans[1].Spans = r.root.Spans[1].Spans[:1] },
			reports.ReasonIncompleteTrace, "covered by no span of Admin's metrics"},
		{"a runtime the task execution disagrees with", func(r *flyteRun) {
			r.nodes[1].Tasks[1].Closure.Duration = flyte.Duration(120 * time.Millisecond)
		}, reports.ReasonEventDisagreement, "node n0 attempt 2: TASK_RUNTIME 130ms in the metrics, 120ms in its task execution"},
		{"a node still running", func(r *flyteRun) { r.nodes[1].Closure.Phase = "RUNNING" }, reports.ReasonIncompleteTrace, "node n0 is RUNNING, not ended"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := retried()
			tt.edit(&r)
			e, _, err := MeasureFlyte(&r.ex, r.nodes, &r.root)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, p := range e.Problems {
				found = found || (p.Kind == tt.kind && strings.Contains(p.Msg, tt.want))
			}
			if !found {
				t.Errorf("problems %v, want a %s saying %q", e.Problems, tt.kind, tt.want)
			}
		})
	}
	t.Run("a tree of another state", func(t *testing.T) {
		r := retried()
		r.root.EndTime = fms(250)
		if _, _, err := MeasureFlyte(&r.ex, r.nodes, &r.root); err == nil || !strings.Contains(err.Error(), "of different states") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("timestamps out of order are clamped and counted", func(t *testing.T) {
		r := retried()
		// The node's teardown starts 4 ms before its last attempt's ended.
		r.root.Spans[1].Spans[5] = fop(flyte.OpNodeTeardown, 276, 290)
		e, segs, err := MeasureFlyte(&r.ex, r.nodes, &r.root)
		if err != nil || len(e.Problems) > 0 {
			t.Fatalf("err %v, problems %v", err, e.Problems)
		}
		if len(e.Clamps) != 1 || e.Clamps[0].By != 4*time.Millisecond {
			t.Errorf("clamps %+v", e.Clamps)
		}
		var sum time.Duration
		for _, s := range segs {
			sum += s.Duration()
		}
		if sum != e.Wall() {
			t.Errorf("the path sums to %v, wall %v", sum, e.Wall())
		}
	})
}

// TestPropellerCounts: the delta of propeller's summaries around the
// execution, by family suffix; a counter that went down is a restart.
func TestPropellerCounts(t *testing.T) {
	scrape := func(rounds, nodeEvents int) string {
		return "# TYPE flyte:propeller:all:round:round_time_unlabeled_ms summary\n" +
			"flyte:propeller:all:round:round_time_unlabeled_ms_sum 10\n" +
			"flyte:propeller:all:round:round_time_unlabeled_ms_count " + strconv.Itoa(rounds) + "\n" +
			"# TYPE flyte:propeller:all:node:event_recording:success_duration_ms summary\n" +
			"flyte:propeller:all:node:event_recording:success_duration_ms_sum{wf=\"a\"} 1\n" +
			"flyte:propeller:all:node:event_recording:success_duration_ms_count{wf=\"a\"} " + strconv.Itoa(nodeEvents) + "\n" +
			"flyte:propeller:all:node:event_recording:success_duration_ms_sum{wf=\"b\"} 1\n" +
			"flyte:propeller:all:node:event_recording:success_duration_ms_count{wf=\"b\"} 2\n"
	}
	rec := func(before, after string) *rundir.Record {
		dir := rundir.Open(t.TempDir()).Execution(rundir.PlanEntry{Workflow: "w", Target: "t"})
		if err := dir.Prepare(); err != nil {
			t.Fatal(err)
		}
		if before != "" {
			_ = dir.WriteArtifact(rundir.ArtifactPropellerBefore, []byte(before))
		}
		if after != "" {
			_ = dir.WriteArtifact(rundir.ArtifactPropellerAfter, []byte(after))
		}
		return &rundir.Record{Dir: dir.Path}
	}
	got, err := propellerCounts(rec(scrape(100, 5), scrape(108, 12)))
	if err != nil || got[reports.InfraRounds] != 8 || got[reports.InfraEventsNode] != 7 || len(got) != 2 {
		t.Errorf("counts %v, %v; want 8 rounds and 7 node events only", got, err)
	}
	if got, err := propellerCounts(rec("", "")); got != nil || err != nil {
		t.Errorf("without scrapes: %v, %v", got, err)
	}
	if _, err := propellerCounts(rec(scrape(100, 5), "")); err == nil {
		t.Error("a missing scrape after passed")
	}
	if _, err := propellerCounts(rec(scrape(100, 5), scrape(3, 5))); err == nil || !strings.Contains(err.Error(), "it restarted") {
		t.Errorf("a counter that went down: %v", err)
	}
}
