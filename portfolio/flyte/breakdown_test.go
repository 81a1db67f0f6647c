package flyte

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)

func ms(v float64) time.Time { return t0.Add(time.Duration(v * float64(time.Millisecond))) }

func op(id string, from, to float64) Span {
	return Span{OperationID: id, StartTime: ms(from), EndTime: ms(to)}
}

// taskSpan is one attempt as flyteadmin builds it: setup to Running,
// runtime to the terminal event, teardown to the last event.
func taskSpan(attempt int64, created, running, ended, updated float64) Span {
	return Span{TaskID: &TaskExecutionID{RetryAttempt: Int64(attempt)}, StartTime: ms(created), EndTime: ms(updated),
		Spans: []Span{op(OpTaskSetup, created, running), op(OpTaskRuntime, running, ended), op(OpTaskTeardown, ended, updated)}}
}

// retriedNode is node n0 (10-290) whose first attempt (15-110) failed
// and was reset (110-130) before the second (130-280) succeeded.
func retriedNode() Span {
	return nodeSpan("n0", 10, 12, 290,
		op(OpNodeSetup, 12, 15),
		taskSpan(0, 15, 20, 100, 110),
		op(OpNodeReset, 110, 130),
		taskSpan(1, 130, 140, 270, 280),
		op(OpNodeTeardown, 280, 290))
}

// nodeSpan is a node from its first to its last event; transitionFrom is
// its latest upstream's last event (negative: none).
func nodeSpan(id string, transitionFrom, created, updated float64, children ...Span) Span {
	n := Span{NodeID: &NodeExecutionID{NodeID: id}, StartTime: ms(created), EndTime: ms(updated)}
	if transitionFrom >= 0 {
		n.Spans = append(n.Spans, op(OpNodeTransition, transitionFrom, created))
	}
	n.Spans = append(n.Spans, children...)
	return n
}

// taskNode is a task node with one attempt: setup 3 ms, the attempt, and
// teardown to updated.
func taskNode(id string, transitionFrom, created, running, ended, updated float64) Span {
	return nodeSpan(id, transitionFrom, created, updated,
		op(OpNodeSetup, created, created+3), taskSpan(0, created+3, running, ended, updated-7), op(OpNodeTeardown, updated-7, updated))
}

func workflowSpan(from, to float64, children ...Span) *Span {
	return &Span{WorkflowID: &ExecutionID{"p", "d", "e"}, StartTime: ms(from), EndTime: ms(to), Spans: children}
}

func TestBreakdownOf(t *testing.T) {
	d := func(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
	tests := []struct {
		name                                string
		root                                *Span
		user, kubernetes, flyte, unresolved float64
		path                                string
	}{
		{"a serial chain partitions wall time", workflowSpan(0, 230,
			op(OpWorkflowSetup, 0, 10),
			taskNode("n0", 10, 12, 30, 100, 112),
			taskNode("n1", 112, 115, 125, 195, 215),
			op(OpWorkflowTeardown, 215, 230)),
			140, 15 + 7, 10 + 2 + 3 + 5 + 7 + 3 + 3 + 13 + 7 + 15, 0, "n0 n1"},
		{"a fan-out's path is the branch that ended last", workflowSpan(0, 230,
			op(OpWorkflowSetup, 0, 10),
			taskNode("short", 10, 12, 20, 30, 50),
			taskNode("long", 10, 13, 30, 190, 215),
			op(OpWorkflowTeardown, 215, 230)),
			160, 14, 10 + 3 + 3 + 18 + 7 + 15, 0, "long"},
		{"a retry's reset is flyte time", workflowSpan(0, 300,
			op(OpWorkflowSetup, 0, 10),
			retriedNode(),
			op(OpWorkflowTeardown, 290, 300)),
			80 + 130, 5 + 10, 10 + 2 + 3 + 10 + 20 + 10 + 10 + 10, 0, "n0"},
		{"a tree cut above the tasks leaves the nodes unresolved", workflowSpan(0, 230,
			op(OpWorkflowSetup, 0, 10),
			nodeSpan("n0", 10, 12, 112),
			nodeSpan("n1", 112, 115, 215),
			op(OpWorkflowTeardown, 215, 230)),
			0, 0, 10 + 2 + 3 + 15, 100 + 100, "n0 n1"},
		{"a launch plan's child execution is inside its node", workflowSpan(0, 400,
			op(OpWorkflowSetup, 0, 10),
			nodeSpan("lp", 10, 12, 380,
				op(OpNodeSetup, 12, 20),
				*workflowSpan(20, 370,
					op(OpWorkflowSetup, 20, 30),
					taskNode("c0", 30, 32, 50, 300, 350),
					op(OpWorkflowTeardown, 350, 370)),
				op(OpNodeTeardown, 370, 380)),
			op(OpWorkflowTeardown, 380, 400)),
			250, 15, 10 + 2 + 8 + 10 + 2 + 3 + 43 + 7 + 20 + 10 + 20, 0, "lp lp/c0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := BreakdownOf(tt.root)
			if err != nil {
				t.Fatal(err)
			}
			want := Breakdown{Wall: tt.root.EndTime.Sub(tt.root.StartTime), User: d(tt.user), Kubernetes: d(tt.kubernetes), Flyte: d(tt.flyte), Unresolved: d(tt.unresolved)}
			if b.User != want.User || b.Kubernetes != want.Kubernetes || b.Flyte != want.Flyte || b.Unresolved != want.Unresolved {
				t.Errorf("user %v kubernetes %v flyte %v unresolved %v; want %v %v %v %v", b.User, b.Kubernetes, b.Flyte, b.Unresolved,
					want.User, want.Kubernetes, want.Flyte, want.Unresolved)
			}
			// The path runs from setup to teardown without a gap.
			if sum := b.User + b.Kubernetes + b.Flyte + b.Unresolved; sum != b.Wall {
				t.Errorf("parts sum to %v, wall %v", sum, b.Wall)
			}
			if got := strings.Join(b.Path, " "); got != tt.path {
				t.Errorf("path %q, want %q", got, tt.path)
			}
			// The segments are the covered part of the path, in order and
			// without overlap; where the tree is cut, gaps hold the rest.
			var covered time.Duration
			at := tt.root.StartTime
			for _, s := range b.Segments {
				if s.Start.Before(at) || s.End.Before(s.Start) {
					t.Fatalf("segment %+v overlaps the one before (which ended at %v)", s, at)
				}
				covered += s.End.Sub(s.Start)
				at = s.End
			}
			if covered != b.User+b.Kubernetes+b.Flyte {
				t.Errorf("segments cover %v, the parts %v", covered, b.User+b.Kubernetes+b.Flyte)
			}
		})
	}
}

func TestBreakdownOfRefuses(t *testing.T) {
	for _, root := range []*Span{nil, {NodeID: &NodeExecutionID{NodeID: "n0"}}} {
		if _, err := BreakdownOf(root); !errors.Is(err, ErrNotWorkflow) {
			t.Errorf("BreakdownOf(%+v) = %v, want ErrNotWorkflow", root, err)
		}
	}
}

// TestBreakdownSegments: each segment names its node (nested ones by
// path) and its attempt, and the transition into a node is the node's.
func TestBreakdownSegments(t *testing.T) {
	root := workflowSpan(0, 400,
		op(OpWorkflowSetup, 0, 10),
		retriedNode(),
		nodeSpan("lp", 290, 292, 380,
			op(OpNodeSetup, 292, 300),
			*workflowSpan(300, 370,
				op(OpWorkflowSetup, 300, 310),
				taskNode("c0", 310, 312, 320, 330, 350),
				op(OpWorkflowTeardown, 350, 370)),
			op(OpNodeTeardown, 370, 380)),
		op(OpWorkflowTeardown, 380, 400))
	b, err := BreakdownOf(root)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range b.Segments {
		got = append(got, fmt.Sprintf("%s@%s#%d", s.Op, s.Node, s.Attempt))
	}
	want := []string{"WORKFLOW_SETUP@#0", "NODE_TRANSITION@n0#0", "NODE_SETUP@n0#0", "TASK_SETUP@n0#0", "TASK_RUNTIME@n0#0", "TASK_TEARDOWN@n0#0",
		"NODE_RESET@n0#0", "TASK_SETUP@n0#1", "TASK_RUNTIME@n0#1", "TASK_TEARDOWN@n0#1", "NODE_TEARDOWN@n0#0",
		"NODE_TRANSITION@lp#0", "NODE_SETUP@lp#0", "WORKFLOW_SETUP@lp#0", "NODE_TRANSITION@lp/c0#0", "NODE_SETUP@lp/c0#0",
		"TASK_SETUP@lp/c0#0", "TASK_RUNTIME@lp/c0#0", "TASK_TEARDOWN@lp/c0#0", "NODE_TEARDOWN@lp/c0#0", "WORKFLOW_TEARDOWN@lp#0",
		"NODE_TEARDOWN@lp#0", "WORKFLOW_TEARDOWN@#0"}
	if !slices.Equal(got, want) {
		t.Errorf("segments\n got %v\nwant %v", got, want)
	}
}
