package aggregate

import (
	"fmt"
	"strings"
	"time"

	"github.com/benchctl/benchctl/controller/api/v1alpha1"
	"github.com/benchctl/benchctl/reports"
)

// Segment is one stretch of an execution's critical path.
type Segment struct {
	// Part is user, kubernetes or controller; Sub the controller
	// sub-class.
	Part, Sub  string
	Start, End time.Time
	// Node is the status path of the node it belongs to ("" for the
	// workflow's setup and teardown); Attempt and Item say which of its
	// attempts (Item -1: not a map item).
	Node    string
	Attempt int
	Item    int
	// Child is the launch-plan child Workflow it ran in, if any.
	Child string
}

// Duration of the segment.
func (s Segment) Duration() time.Duration { return s.End.Sub(s.Start) }

// Name is the segment's part, with its sub-class for controller time
// ("controller.observe").
func (s Segment) Name() string {
	if s.Sub == "" {
		return s.Part
	}
	return s.Part + "." + s.Sub
}

// pathBuilder collects segments between consecutive boundaries. An
// instant that would run backwards is clamped to the previous boundary
// and counted: the segments always tile the path exactly.
type pathBuilder struct {
	segs   []Segment
	at     time.Time
	clamps []Clamp
}

// to adds the segment from the current boundary to end.
func (b *pathBuilder) to(end time.Time, part, sub string, node string, attempt, item int, child string) {
	if end.Before(b.at) {
		b.clamps = append(b.clamps, Clamp{What: "critical path: " + node + " " + sub, By: b.at.Sub(end)})
		end = b.at
	}
	if end.After(b.at) {
		b.segs = append(b.segs, Segment{Part: part, Sub: sub, Start: b.at, End: end, Node: node, Attempt: attempt, Item: item, Child: child})
	}
	b.at = end
}

func (b *pathBuilder) ctrl(end time.Time, sub, node string, attempt, item int, child string) {
	b.to(end, reports.PathController, sub, node, attempt, item, child)
}

// CriticalPath is the chain of work the execution's end waited on, from
// its creation to the update that persisted its success: walking back
// from the last node decided, at each step what the controller was
// waiting for (the latest upstream; inside a map node, the item decided
// last; inside a dynamic or sub-workflow node, its nested DAG; inside a
// launch-plan node, its child Workflow). The segments tile [Created,
// Succeeded] exactly: setup + the nodes' segments + teardown = wall.
func (e *Execution) CriticalPath() ([]Segment, []Clamp, error) {
	b := &pathBuilder{at: e.Created}
	if err := e.path(b, ""); err != nil {
		return nil, nil, err
	}
	return b.segs, b.clamps, nil
}

// path adds the execution's whole path, child names for a child.
func (e *Execution) path(b *pathBuilder, child string) error {
	b.ctrl(e.FirstReady, reports.SubSetup, "", 0, -1, child)
	chain, err := e.chain("")
	if err != nil {
		return err
	}
	for _, n := range chain {
		if err := e.node(b, n, child); err != nil {
			return err
		}
	}
	b.ctrl(e.Succeeded, reports.SubTeardown, "", 0, -1, child)
	return nil
}

// chain is the critical chain of the DAG at prefix, first node first:
// the upstream of the end node decided last, then its upstream decided
// last, back to a root node.
func (e *Execution) chain(prefix string) ([]string, error) {
	t, err := e.tmpl.lookup(prefix)
	if err != nil {
		return nil, err
	}
	latest := func(ids []string) string {
		best, bestAt := "", time.Time{}
		for _, u := range ids {
			if u == v1alpha1.StartNodeID {
				continue
			}
			p := v1alpha1.JoinNodePath(prefix, u)
			if d, ok := e.Decided[p]; ok && (best == "" || d.After(bestAt)) {
				best, bestAt = p, d
			}
		}
		return best
	}
	var out []string
	cur := latest(t.Connections.Upstream[v1alpha1.EndNodeID])
	for cur != "" {
		out = append(out, cur)
		if len(out) > len(t.Nodes) {
			return nil, fmt.Errorf("the DAG at %q has a cycle", prefix)
		}
		_, id := v1alpha1.SplitNodePath(cur)
		cur = latest(t.Connections.Upstream[id])
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// node adds the segments of one node, from its ready to its done.
func (e *Execution) node(b *pathBuilder, path, child string) error {
	spec, err := e.tmpl.closure.NodeAt(path)
	if err != nil {
		return err
	}
	done := e.Decided[path]
	var atts []Attempt
	for _, a := range e.Attempts {
		if a.Node == path {
			atts = append(atts, a)
		}
	}
	switch spec.Kind {
	case v1alpha1.NodeKindMap:
		// The item decided last, its attempts in order.
		last := -1
		var lastDone time.Time
		for _, a := range atts {
			if a.Done.After(lastDone) {
				last, lastDone = a.Item, a.Done
			}
		}
		for _, a := range atts {
			if a.Item == last {
				attempt(b, a, child)
			}
		}
		b.ctrl(done, reports.SubObserve, path, 0, -1, child)
	case v1alpha1.NodeKindDynamic:
		for _, a := range atts { // the generator's attempts
			attempt(b, a, child)
		}
		if err := e.nested(b, path, child); err != nil {
			return err
		}
		b.ctrl(done, reports.SubObserve, path, 0, -1, child)
	case v1alpha1.NodeKindSubWorkflow:
		if err := e.nested(b, path, child); err != nil {
			return err
		}
		b.ctrl(done, reports.SubObserve, path, 0, -1, child)
	case v1alpha1.NodeKindLaunchPlan:
		c, ok := e.Children[path]
		if !ok {
			return fmt.Errorf("launch-plan node %s has no measured child", path)
		}
		b.ctrl(c.Created, reports.SubLaunch, path, 0, -1, child)
		sub := &pathBuilder{at: c.Created}
		if err := c.path(sub, c.Name); err != nil {
			return fmt.Errorf("child %s of %s: %w", c.Name, path, err)
		}
		for _, s := range sub.segs {
			if s.Node != "" {
				s.Node = v1alpha1.JoinNodePath(path, s.Node)
			} else {
				s.Node = path
			}
			b.segs = append(b.segs, s)
		}
		b.clamps = append(b.clamps, sub.clamps...)
		if sub.at.After(b.at) {
			b.at = sub.at
		}
		b.ctrl(done, reports.SubObserve, path, 0, -1, child)
	default:
		for _, a := range atts {
			attempt(b, a, child)
		}
		b.ctrl(done, reports.SubObserve, path, 0, -1, child)
	}
	return nil
}

// nested adds a dynamic or sub-workflow node's nested DAG: its start,
// then its critical chain.
func (e *Execution) nested(b *pathBuilder, path, child string) error {
	start, ok := e.Decided[v1alpha1.JoinNodePath(path, v1alpha1.StartNodeID)]
	if !ok {
		return fmt.Errorf("node %s: its nested DAG's start was never decided", path)
	}
	b.ctrl(start, reports.SubLaunch, path, 0, -1, child)
	chain, err := e.chain(path)
	if err != nil {
		return err
	}
	for _, n := range chain {
		if err := e.node(b, n, child); err != nil {
			return err
		}
	}
	return nil
}

// attempt adds one attempt's phases.
func attempt(b *pathBuilder, a Attempt, child string) {
	at := func(end time.Time, part, sub string) { b.to(end, part, sub, a.Node, a.Attempt, a.Item, child) }
	if a.Cached {
		at(a.Done, reports.PathController, reports.SubLaunch)
		return
	}
	at(a.SlotFree, reports.PathController, reports.SubParallelismWait)
	at(a.Handled, reports.PathController, reports.SubRoundWait)
	at(a.Launched, reports.PathController, reports.SubLaunch)
	at(a.Started, reports.PathKubernetes, "")
	at(a.Finished, reports.PathUser, "")
	at(a.Seen, reports.PathController, reports.SubObserve)
	at(a.Done, reports.PathController, reports.SubRoundWait)
}

// Timeline draws the execution in time for reports: every attempt's
// instants and the critical path, in seconds after its creation.
func (e *Execution) Timeline(segs []Segment) reports.Timeline {
	rel := func(t time.Time) float64 { return t.Sub(e.Created).Seconds() }
	type id struct {
		node          string
		attempt, item int
	}
	onPath := map[id]bool{}
	tl := reports.Timeline{Wall: e.Wall().Seconds(), Setup: e.Setup().Seconds(), Teardown: e.Teardown().Seconds()}
	for _, s := range segs {
		onPath[id{s.Node, s.Attempt, s.Item}] = true
		st := reports.PathStep{Part: s.Name(), Node: s.Node, Attempt: s.Attempt, Child: s.Child, Start: rel(s.Start), Seconds: s.Duration().Seconds()}
		if s.Item >= 0 {
			item := s.Item
			st.Item = &item
		}
		tl.Path = append(tl.Path, st)
	}
	for _, a := range e.Attempts {
		tl.Bars = append(tl.Bars, reports.Bar{
			Node: a.Node, Kind: a.Kind, Item: a.Item, Attempt: a.Attempt, Cached: a.Cached,
			Scope: rel(e.scopeStart(a.Node)), Ready: rel(a.Ready), SlotFree: rel(a.SlotFree), Handled: rel(a.Handled),
			Launched: rel(a.Launched), Started: rel(a.Started), Finished: rel(a.Finished), Seen: rel(a.Seen), Done: rel(a.Done),
			Critical: onPath[id{a.Node, a.Attempt, a.Item}],
		})
	}
	return tl
}

// scopeStart is when the DAG holding the node at path started: the
// execution's creation, a nested DAG's start decision, or a launch-plan
// child's creation.
func (e *Execution) scopeStart(path string) time.Time {
	prefix, _ := v1alpha1.SplitNodePath(path)
	if prefix == "" {
		return e.Created
	}
	if d, ok := e.Decided[v1alpha1.JoinNodePath(prefix, v1alpha1.StartNodeID)]; ok {
		return d
	}
	// Inside a launch-plan child: the child's own scopes.
	for lp, c := range e.Children {
		if rest, ok := strings.CutPrefix(path, lp+v1alpha1.NodePathSeparator); ok {
			if p, _ := v1alpha1.SplitNodePath(rest); p == "" {
				return c.Created
			}
			return c.scopeStart(rest)
		}
	}
	return e.Created
}
