package admin

import (
	"fmt"
	"sort"
	"time"
)

// Operation ids of the spans DeriveMetrics builds, Flyte's names.
const (
	OpWorkflowSetup    = "WORKFLOW_SETUP"
	OpNodeSetup        = "NODE_SETUP"
	OpTaskRuntime      = "TASK_RUNTIME"
	OpNodeTeardown     = "NODE_TEARDOWN"
	OpWorkflowTeardown = "WORKFLOW_TEARDOWN"
)

// Span is a node of the execution-metrics tree, shaped like Flyte Admin's
// GetExecutionMetrics (core.Span), so that numbers derived from persisted
// events can be cross-checked with the controller's own trace spans.
// Exactly one of WorkflowID, NodeID, TaskID, OperationID is set.
type Span struct {
	StartTime   time.Time `json:"startTime"`
	EndTime     time.Time `json:"endTime"`
	WorkflowID  string    `json:"workflowId,omitempty"`  // the execution id
	NodeID      string    `json:"nodeId,omitempty"`      // node path
	TaskID      *TaskID   `json:"taskId,omitempty"`      // a task attempt
	OperationID string    `json:"operationId,omitempty"` // one of the Op constants
	Spans       []*Span   `json:"spans,omitempty"`
}

// TaskID names a task attempt of a node.
type TaskID struct {
	Node    string `json:"node"`
	MapItem int    `json:"mapItem"`
	Attempt int32  `json:"attempt"`
}

// Duration is EndTime - StartTime.
func (s *Span) Duration() time.Duration { return s.EndTime.Sub(s.StartTime) }

// bounds collects the first and last time of a set of events, and the
// first and last of its terminal ones.
type bounds struct {
	first, last                 time.Time
	firstTerminal, lastTerminal time.Time
	running                     time.Time // first Running, for tasks
}

func (b *bounds) add(e Persisted) {
	t := e.OccurredAt
	if b.first.IsZero() || t.Before(b.first) {
		b.first = t
	}
	if b.last.IsZero() || t.After(b.last) {
		b.last = t
	}
	if r, _ := Rank(e.Phase); r == rankTerminal {
		if b.firstTerminal.IsZero() || t.Before(b.firstTerminal) {
			b.firstTerminal = t
		}
		if b.lastTerminal.IsZero() || t.After(b.lastTerminal) {
			b.lastTerminal = t
		}
	}
	if e.Phase == "Running" && (b.running.IsZero() || t.Before(b.running)) {
		b.running = t
	}
}

// DeriveMetrics builds the span tree of an execution only from the
// persisted events' OccurredAt, as Flyte Admin does, independently of the
// controller's trace spans. Per workflow:
//
//   - the workflow span runs from its first to its last workflow event (all
//     its events when there is none);
//   - WORKFLOW_SETUP: the first workflow event to the first node event;
//   - one NodeID span per node path, its first to its last node event, sorted
//     by start time (then path), with children NODE_SETUP (the node's first
//     node event to its first task event), one TaskID span per (mapItem,
//     attempt) from the task's first Running to its first terminal event
//     with one TASK_RUNTIME child covering the same interval (sorted by
//     start, then mapItem, attempt), and NODE_TEARDOWN (the node's last task
//     terminal event to its last node terminal event);
//   - WORKFLOW_TEARDOWN: the last node terminal event to the workflow's
//     terminal event.
//
// The root is the workflow of the earliest workflow event, with
// WorkflowID the execution id. Launch-plan children report under the same
// execution id with their own workflow names (and node paths of their
// own, which may repeat the parent's): each becomes a workflow span with
// WorkflowID the child's workflow name, among the root's children after
// its nodes, sorted by start time.
//
// A span one of whose ends has no event is omitted (say, NODE_SETUP of a
// node without tasks, or the teardowns of a running execution). It fails
// with ErrNotFound when events is empty, and when it holds another
// execution's events.
func DeriveMetrics(execution string, events []Persisted) (*Span, error) {
	if len(events) == 0 {
		return nil, fmt.Errorf("derive metrics of %s: no events: %w", execution, ErrNotFound)
	}
	byWorkflow := map[string][]Persisted{}
	root, rootFirst := events[0].Workflow, time.Time{}
	for _, e := range events {
		if e.Execution != execution {
			return nil, fmt.Errorf("derive metrics of %s: event %s is of execution %s", execution, e.ID, e.Execution)
		}
		switch e.Kind {
		case KindWorkflow, KindNode, KindTask:
		default:
			return nil, fmt.Errorf("derive metrics of %s: event %s has unknown kind %q", execution, e.ID, e.Kind)
		}
		if e.Kind == KindWorkflow && (rootFirst.IsZero() || e.OccurredAt.Before(rootFirst)) {
			root, rootFirst = e.Workflow, e.OccurredAt
		}
		byWorkflow[e.Workflow] = append(byWorkflow[e.Workflow], e)
	}
	tree := workflowSpan(execution, byWorkflow[root])
	var children []*Span
	for wf, evs := range byWorkflow {
		if wf != root {
			children = append(children, workflowSpan(wf, evs))
		}
	}
	sort.Slice(children, func(i, j int) bool {
		a, b := children[i], children[j]
		if !a.StartTime.Equal(b.StartTime) {
			return a.StartTime.Before(b.StartTime)
		}
		return a.WorkflowID < b.WorkflowID
	})
	if len(children) > 0 {
		// Before WORKFLOW_TEARDOWN, when there is one.
		n := len(tree.Spans)
		if n > 0 && tree.Spans[n-1].OperationID == OpWorkflowTeardown {
			tree.Spans = append(tree.Spans[:n-1:n-1], append(children, tree.Spans[n-1])...)
		} else {
			tree.Spans = append(tree.Spans, children...)
		}
	}
	return tree, nil
}

// workflowSpan is the tree of one workflow's events.
func workflowSpan(id string, events []Persisted) *Span {
	var wf, all, nodesAll bounds
	type taskKey struct {
		mapItem int
		attempt int32
	}
	type nodeAcc struct {
		node, tasks bounds
		attempts    map[taskKey]*bounds
	}
	nodes := map[string]*nodeAcc{}
	acc := func(path string) *nodeAcc {
		n := nodes[path]
		if n == nil {
			n = &nodeAcc{attempts: map[taskKey]*bounds{}}
			nodes[path] = n
		}
		return n
	}
	for _, e := range events {
		all.add(e)
		switch e.Kind {
		case KindWorkflow:
			wf.add(e)
		case KindNode:
			nodesAll.add(e)
			acc(e.Node).node.add(e)
		case KindTask:
			n := acc(e.Node)
			n.tasks.add(e)
			k := taskKey{e.MapItem, e.Attempt}
			if n.attempts[k] == nil {
				n.attempts[k] = &bounds{}
			}
			n.attempts[k].add(e)
		}
	}
	rootBounds := wf
	if wf.first.IsZero() {
		rootBounds = all
	}
	root := &Span{WorkflowID: id, StartTime: rootBounds.first, EndTime: rootBounds.last}
	op := func(id string, start, end time.Time) *Span {
		if start.IsZero() || end.IsZero() {
			return nil
		}
		return &Span{OperationID: id, StartTime: start, EndTime: end}
	}
	appendSpan := func(parent *Span, s *Span) {
		if s != nil {
			parent.Spans = append(parent.Spans, s)
		}
	}
	appendSpan(root, op(OpWorkflowSetup, wf.first, nodesAll.first))

	var nodeSpans []*Span
	for path, n := range nodes {
		ns := &Span{NodeID: path, StartTime: n.node.first, EndTime: n.node.last}
		if n.node.first.IsZero() {
			// Task events without node events: the node spans its tasks,
			// with no setup or teardown (both ends would be missing).
			ns.StartTime, ns.EndTime = n.tasks.first, n.tasks.last
		}
		appendSpan(ns, op(OpNodeSetup, n.node.first, n.tasks.first))
		var tasks []*Span
		for k, b := range n.attempts {
			if b.running.IsZero() || b.firstTerminal.IsZero() {
				continue
			}
			tid := &TaskID{Node: path, MapItem: k.mapItem, Attempt: k.attempt}
			ts := &Span{TaskID: tid, StartTime: b.running, EndTime: b.firstTerminal}
			ts.Spans = []*Span{{OperationID: OpTaskRuntime, StartTime: b.running, EndTime: b.firstTerminal}}
			tasks = append(tasks, ts)
		}
		sort.Slice(tasks, func(i, j int) bool {
			a, b := tasks[i], tasks[j]
			if !a.StartTime.Equal(b.StartTime) {
				return a.StartTime.Before(b.StartTime)
			}
			if a.TaskID.MapItem != b.TaskID.MapItem {
				return a.TaskID.MapItem < b.TaskID.MapItem
			}
			return a.TaskID.Attempt < b.TaskID.Attempt
		})
		ns.Spans = append(ns.Spans, tasks...)
		appendSpan(ns, op(OpNodeTeardown, n.tasks.lastTerminal, n.node.lastTerminal))
		nodeSpans = append(nodeSpans, ns)
	}
	sort.Slice(nodeSpans, func(i, j int) bool {
		a, b := nodeSpans[i], nodeSpans[j]
		if !a.StartTime.Equal(b.StartTime) {
			return a.StartTime.Before(b.StartTime)
		}
		return a.NodeID < b.NodeID
	})
	root.Spans = append(root.Spans, nodeSpans...)
	appendSpan(root, op(OpWorkflowTeardown, nodesAll.lastTerminal, wf.firstTerminal))
	return root
}
