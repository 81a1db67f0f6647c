package flyte

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Operation ids of Admin's GetExecutionMetrics spans (flyteadmin's
// metrics manager). Each covers an interval between two timestamps Admin
// recorded from events: an entity's created_at (its first event), its
// started_at (its Running event), started_at + duration (its terminal
// event) and updated_at (its last event).
const (
	OpWorkflowSetup    = "WORKFLOW_SETUP"    // execution created → start node's last event
	OpWorkflowTeardown = "WORKFLOW_TEARDOWN" // the end node's latest upstream's last event → execution's last event
	OpNodeTransition   = "NODE_TRANSITION"   // a node's latest upstream's last event → its first event
	OpNodeSetup        = "NODE_SETUP"        // node's first event → its first task's first event
	OpNodeReset        = "NODE_RESET"        // one attempt's last event → the next attempt's first
	OpNodeTeardown     = "NODE_TEARDOWN"     // the last task's (or nested node's) last event → the node's last
	OpNodeIdle         = "NODE_IDLE"         // a gate node waiting
	OpTaskSetup        = "TASK_SETUP"        // task's first event (the pod created) → Running
	OpTaskRuntime      = "TASK_RUNTIME"      // Running → its terminal event
	OpTaskTeardown     = "TASK_TEARDOWN"     // terminal → the task's last event
)

// Breakdown is an execution's wall time, and its critical path split the
// way benchctl's reports split the bundled controller's, from Admin's
// span tree alone.
type Breakdown struct {
	Wall time.Duration
	// On the critical path: user is TASK_RUNTIME, kubernetes TASK_SETUP,
	// flyte every other operation (setup, transitions, resets, teardowns,
	// idle gates). Unresolved is path time no operation span covers: a
	// tree cut by its depth, or an entity still running.
	User, Kubernetes, Flyte, Unresolved time.Duration
	// Path is the critical path's nodes in order, nested ones as
	// "parent/child".
	Path []string
	// Segments are the operation spans on the critical path, in time
	// order: where no span covers the path (Unresolved), they leave a gap.
	Segments []Segment
}

// Segment is one operation span on the critical path.
type Segment struct {
	// Op is the operation id (OpTaskRuntime, ...).
	Op string
	// Node is the node it belongs to, nested ones as "parent/child" (""
	// for the workflow's setup and teardown); Attempt is the task
	// attempt of a TASK_ operation.
	Node       string
	Attempt    int
	Start, End time.Time
}

// ErrNotWorkflow is a span tree whose root is not a workflow execution.
var ErrNotWorkflow = errors.New("the root span is not a workflow execution")

// BreakdownOf splits the span tree of GetExecutionMetrics (asked with a
// depth that reaches the tasks) into the breakdown. The critical path is
// followed backwards from the workflow's teardown: the node that ended
// then, then the node its NODE_TRANSITION started from (Admin starts a
// node's transition at its latest upstream's last event, so the two
// timestamps are equal), down to the start node.
func BreakdownOf(root *Span) (Breakdown, error) {
	if root == nil || root.WorkflowID == nil {
		return Breakdown{}, ErrNotWorkflow
	}
	if root.EndTime.Before(root.StartTime) {
		return Breakdown{}, fmt.Errorf("workflow span of %s ends before it starts", root.WorkflowID)
	}
	var b Breakdown
	b.Wall = root.EndTime.Sub(root.StartTime)
	covered, path := b.walk(root, "", 0)
	b.Path = path
	if rest := b.Wall - covered; rest > 0 {
		b.Unresolved += rest
	}
	slices.SortStableFunc(b.Segments, func(x, y Segment) int { return x.Start.Compare(y.Start) })
	return b, nil
}

// walk adds a workflow, node or task span's operations on the critical
// path, and returns the time they cover and the nodes of the path inside.
func (b *Breakdown) walk(s *Span, prefix string, attempt int) (time.Duration, []string) {
	var covered time.Duration
	var path []string
	var nodes []*Span
	for i := range s.Spans {
		c := &s.Spans[i]
		switch {
		case c.OperationID == OpNodeTransition:
			// Counted with the path step that precedes the node.
		case c.OperationID != "":
			covered += b.op(c, strings.TrimSuffix(prefix, "/"), attempt)
		case c.NodeID != nil:
			nodes = append(nodes, c)
		case c.TaskID != nil:
			// Attempts run one after another.
			d, p := b.walk(c, prefix, int(c.TaskID.RetryAttempt))
			covered += d
			path = append(path, p...)
		case c.WorkflowID != nil:
			// A launch-plan child is one execution inside its node.
			d, p := b.walk(c, prefix, 0)
			covered += d
			path = append(path, p...)
		}
	}
	if len(nodes) > 0 {
		d, p := b.path(nodes, s, prefix)
		covered += d
		path = append(path, p...)
	}
	if s.TaskID != nil || s.NodeID != nil {
		// What no operation covers inside the entity.
		if rest := s.EndTime.Sub(s.StartTime) - covered; rest > 0 {
			b.Unresolved += rest
			covered += rest
		}
	}
	return covered, path
}

// op adds one operation span of node to its part and to the segments.
func (b *Breakdown) op(s *Span, node string, attempt int) time.Duration {
	d := s.EndTime.Sub(s.StartTime)
	if d < 0 {
		return 0
	}
	b.Segments = append(b.Segments, Segment{Op: s.OperationID, Node: node, Attempt: attempt, Start: s.StartTime, End: s.EndTime})
	switch s.OperationID {
	case OpTaskRuntime:
		b.User += d
	case OpTaskSetup:
		b.Kubernetes += d
	default:
		b.Flyte += d
	}
	return d
}

// path follows the critical path backwards through sibling node spans,
// from the parent's teardown (or its end) to the first node, and returns
// the time it covers (each step's node and the transition before it) and
// its nodes in order, each followed by the path inside it.
func (b *Breakdown) path(nodes []*Span, parent *Span, prefix string) (time.Duration, []string) {
	end := parent.EndTime
	for i := range parent.Spans {
		if op := parent.Spans[i].OperationID; op == OpWorkflowTeardown || op == OpNodeTeardown {
			end = parent.Spans[i].StartTime
		}
	}
	var steps [][]string // backwards
	var covered time.Duration
	seen := map[*Span]bool{}
	for {
		n := lastEndingBy(nodes, end, seen)
		if n == nil {
			break
		}
		seen[n] = true
		name := prefix + n.NodeID.NodeID
		d, inner := b.walk(n, name+"/", 0)
		covered += d
		steps = append(steps, append([]string{name}, inner...))
		tr := transition(n)
		if tr == nil {
			break
		}
		covered += b.op(tr, name, 0)
		end = tr.StartTime
	}
	var path []string
	for i := len(steps) - 1; i >= 0; i-- {
		path = append(path, steps[i]...)
	}
	return covered, path
}

// lastEndingBy is the node that ended at end, else the one that ended
// last before it: with a matching timestamp it is the latest upstream
// itself, and without one the nearest candidate.
func lastEndingBy(nodes []*Span, end time.Time, seen map[*Span]bool) *Span {
	var best *Span
	for _, n := range nodes {
		if seen[n] || n.EndTime.After(end) {
			continue
		}
		if best == nil || n.EndTime.After(best.EndTime) {
			best = n
		}
	}
	return best
}

func transition(n *Span) *Span {
	for i := range n.Spans {
		if n.Spans[i].OperationID == OpNodeTransition {
			return &n.Spans[i]
		}
	}
	return nil
}
