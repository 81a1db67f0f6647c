// Package spancheck verifies that one execution's spans follow the
// span hierarchy of controller/api/telemetry and that the per-attempt instants of the README's
// "What the numbers mean" can be recovered from them, at every
// nesting depth (dynamic sub-DAGs, sub-workflows) and per Workflow object
// (launch-plan children share their parent's execution id). The
// controller's tests run it on real runs.
package spancheck

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/benchctl/benchctl/controller/api/telemetry"
	"github.com/benchctl/benchctl/controller/api/v1alpha1"
)

// Attempt is one task-pod attempt's reconstructed instants (unix ns): a
// task node's, or a dynamic node's generator's.
type Attempt struct {
	Node    string
	Attempt int64
	// Decided is when the controller decided, in memory, that the last
	// upstream node succeeded (the end of the node.handle that moved it to
	// Succeeded). A round launches the nodes that unblocks before its
	// update persists the success, so Decided <= LaunchSent <= Ready.
	Decided int64
	// LaunchSent is when the pod create call started.
	Ready, LaunchSent, Launched, Started, Finished, Done int64
	// EndDecided is when the controller decided the pod had ended (the end
	// of the node.handle that saw it, in the round whose update persisted
	// it), so EndDecided <= Done.
	EndDecided int64
	// Controller and ReadyToDone run from Decided to EndDecided, as the
	// harness's do (aggregate.Attempt).
	User, Kubernetes, Controller, ReadyToDone int64
	// Observed is when the node.handle that saw the pod's end started;
	// Persisting is when the workflow.update that made it done started.
	// They split done-finished into the time until the controller looked
	// (pod status write, watch, queue) and the time to persist.
	Observed, Persisting int64
	// Seen is when the controller's pod informer delivered the pod's end
	// (0 if the span does not say): Finished..Seen is the pod's status
	// write and the watch, Seen..Observed the wait for a round.
	Seen int64
}

// Result is what Check recovered.
type Result struct {
	// Attempts are the last attempts of the task and dynamic nodes that
	// ran a pod, by status path.
	Attempts map[string]Attempt
	// Done is done(N) for every node that succeeded, by status path.
	Done map[string]int64
	// Children are the child Workflows that launch-plan nodes created,
	// by node path.
	Children map[string]string
	// StartDone is done(start); Succeeded is the end of the update that
	// persisted phase Succeeded (0 if none).
	StartDone, Succeeded int64
	Rounds, Handles      int
	// Counts by span name.
	Counts map[string]int
	// StartedBeforeLaunched counts attempts whose user code started before
	// the pod create call returned to the controller (the scheduler and
	// KWOK can act before the response arrives on a busy host): their
	// kubernetes time is negative, which the sum still accounts for.
	StartedBeforeLaunched int
}

// Spans flattens an export request's spans.
func Spans(rss []*tracepb.ResourceSpans) []*tracepb.Span {
	var out []*tracepb.Span
	for _, rs := range rss {
		for _, ss := range rs.GetScopeSpans() {
			out = append(out, ss.GetSpans()...)
		}
	}
	return out
}

func attr(s *tracepb.Span, key string) (*commonpb.AnyValue, bool) {
	for _, kv := range s.GetAttributes() {
		if kv.GetKey() == key {
			return kv.GetValue(), true
		}
	}
	return nil, false
}

func str(s *tracepb.Span, key string) string {
	v, _ := attr(s, key)
	return v.GetStringValue()
}

func num(s *tracepb.Span, key string) (int64, bool) {
	v, ok := attr(s, key)
	return v.GetIntValue(), ok
}

// allowedParents is the hierarchy: span name -> names its parent may have
// ("" = root).
var allowedParents = map[string][]string{
	telemetry.SpanStreak:         {""},
	telemetry.SpanRound:          {telemetry.SpanStreak},
	telemetry.SpanNodeHandle:     {telemetry.SpanRound},
	telemetry.SpanWorkflowUpdate: {telemetry.SpanRound},
	telemetry.SpanPodCreate:      {telemetry.SpanNodeHandle},
	telemetry.SpanWorkflowCreate: {telemetry.SpanNodeHandle},
	telemetry.SpanCatalogGet:     {telemetry.SpanNodeHandle},
	telemetry.SpanCatalogPut:     {telemetry.SpanNodeHandle},
	// Offloaded closures and, after a restart, dynamic sub-DAGs are read
	// by the round itself.
	telemetry.SpanBlobRead:    {telemetry.SpanNodeHandle, telemetry.SpanCatalogGet, telemetry.SpanCatalogPut, telemetry.SpanRound},
	telemetry.SpanBlobWrite:   {telemetry.SpanNodeHandle, telemetry.SpanCatalogGet, telemetry.SpanCatalogPut, telemetry.SpanRound},
	telemetry.SpanEventRecord: {telemetry.SpanNodeHandle, telemetry.SpanRound},
}

// ByWorkflow returns the spans of one Workflow object: those under a
// workflow.handle whose workflow attribute is name (the harness's
// partition).
func ByWorkflow(spans []*tracepb.Span, name string) []*tracepb.Span {
	byID := map[string]*tracepb.Span{}
	for _, s := range spans {
		byID[string(s.GetSpanId())] = s
	}
	var out []*tracepb.Span
	for _, s := range spans {
		for p := s; p != nil; p = byID[string(p.GetParentSpanId())] {
			if p.GetName() == telemetry.SpanStreak {
				if str(p, telemetry.AttrWorkflow) == name {
					out = append(out, s)
				}
				break
			}
		}
	}
	return out
}

// Check verifies the spans of one Workflow object of execution (all of
// spans; see ByWorkflow) and reconstructs done(N) for every node of
// closure at every nesting depth, and the instants of the pod attempts of
// its task and dynamic nodes.
func Check(spans []*tracepb.Span, execution string, closure *v1alpha1.WorkflowClosure) (Result, error) {
	res := Result{Attempts: map[string]Attempt{}, Done: map[string]int64{}, Children: map[string]string{}, Counts: map[string]int{}}
	byID := map[string]*tracepb.Span{}
	children := map[string][]*tracepb.Span{}
	for _, s := range spans {
		byID[string(s.GetSpanId())] = s
	}
	for _, s := range spans {
		res.Counts[s.GetName()]++
		if got := str(s, telemetry.AttrExecution); got != execution {
			return res, fmt.Errorf("span %s carries execution.id %q, want %q", s.GetName(), got, execution)
		}
		parentName := ""
		if p, ok := byID[string(s.GetParentSpanId())]; ok {
			parentName = p.GetName()
			children[string(p.GetSpanId())] = append(children[string(p.GetSpanId())], s)
		} else if len(s.GetParentSpanId()) > 0 {
			return res, fmt.Errorf("span %s has a parent that is not among the execution's spans", s.GetName())
		}
		allowed, known := allowedParents[s.GetName()]
		if known && !slices.Contains(allowed, parentName) {
			return res, fmt.Errorf("span %s has parent %q, want one of %q", s.GetName(), parentName, allowed)
		}
		if s.GetEndTimeUnixNano() < s.GetStartTimeUnixNano() {
			return res, fmt.Errorf("span %s ends before it starts", s.GetName())
		}
	}

	// Rounds: streaks in start order per handle, each with its round index,
	// at most one update, and that update last.
	type round struct {
		streak *tracepb.Span
		nodes  []*tracepb.Span
		update *tracepb.Span
	}
	var rounds []*round
	for _, h := range spans {
		if h.GetName() != telemetry.SpanStreak {
			continue
		}
		res.Handles++
		var streaks []*tracepb.Span
		for _, c := range children[string(h.GetSpanId())] {
			if c.GetName() == telemetry.SpanRound {
				streaks = append(streaks, c)
			}
		}
		slices.SortFunc(streaks, func(a, b *tracepb.Span) int { return cmp.Compare(a.GetStartTimeUnixNano(), b.GetStartTimeUnixNano()) })
		for i, st := range streaks {
			if r, ok := num(st, telemetry.AttrRound); !ok || r != int64(i) {
				return res, fmt.Errorf("streak %d of a handle has round attribute %d", i, r)
			}
			rd := &round{streak: st}
			for _, c := range children[string(st.GetSpanId())] {
				switch c.GetName() {
				case telemetry.SpanNodeHandle:
					rd.nodes = append(rd.nodes, c)
				case telemetry.SpanWorkflowUpdate:
					if rd.update != nil {
						return res, fmt.Errorf("round %d has two workflow.update spans", i)
					}
					rd.update = c
				}
			}
			if rd.update != nil {
				for _, n := range rd.nodes {
					if n.GetEndTimeUnixNano() > rd.update.GetStartTimeUnixNano() {
						return res, fmt.Errorf("node.handle %s ends after the round's workflow.update starts", str(n, telemetry.AttrNode))
					}
				}
			}
			rounds = append(rounds, rd)
		}
	}
	res.Rounds = len(rounds)
	slices.SortFunc(rounds, func(a, b *round) int {
		return cmp.Compare(a.streak.GetStartTimeUnixNano(), b.streak.GetStartTimeUnixNano())
	})
	// persistedFrom is the end and start of the first ok update at or
	// after round i: when a change made in round i was persisted.
	persistedFrom := func(i int) (end, start int64) {
		for _, r := range rounds[i:] {
			if r.update != nil && str(r.update, telemetry.AttrUpdateResult) == telemetry.UpdateOK {
				return int64(r.update.GetEndTimeUnixNano()), int64(r.update.GetStartTimeUnixNano())
			}
		}
		return 0, 0
	}

	// done(N): end of the ok update of the first round that moved N to
	// Succeeded (an attempt's end: of the first round that observed it).
	// decided(N): end of the first node.handle that moved N to Succeeded.
	persisting := map[string]int64{}
	decided := map[string]int64{}
	ended := map[string]*tracepb.Span{} // node/attempt -> node.handle that saw the pod's end
	endDone := map[string][2]int64{}    // node/attempt -> done, persisting
	endOK := map[string]bool{}
	cached := map[string]bool{}
	okUpdate := func(rd *round) bool {
		return rd.update != nil && str(rd.update, telemetry.AttrUpdateResult) == telemetry.UpdateOK
	}
	for i, rd := range rounds {
		if rd.update != nil && str(rd.update, telemetry.AttrUpdateResult) == telemetry.UpdateOK &&
			str(rd.update, telemetry.AttrWorkflowPhase) == string(v1alpha1.WorkflowSucceeded) && res.Succeeded == 0 {
			res.Succeeded = int64(rd.update.GetEndTimeUnixNano())
		}
		for _, n := range rd.nodes {
			if _, isItem := num(n, telemetry.AttrMapItem); isItem {
				continue
			}
			id := str(n, telemetry.AttrNode)
			a, _ := num(n, telemetry.AttrAttempt)
			key := fmt.Sprintf("%s/%d", id, a)
			if v, ok := attr(n, telemetry.AttrCached); ok && v.GetBoolValue() {
				cached[id] = true
			}
			// The observation that counts is the first in a round whose
			// update succeeded; a round whose update failed lost it, and
			// its node is observed again. Failing that, the first one,
			// persisted by the next ok update.
			if _, ok := attr(n, telemetry.AttrUserFinished); ok {
				if _, seen := ended[key]; !seen || (!endOK[key] && okUpdate(rd)) {
					end, start := persistedFrom(i)
					ended[key], endDone[key], endOK[key] = n, [2]int64{end, start}, okUpdate(rd)
				}
			}
			if str(n, telemetry.AttrPhaseTo) != string(v1alpha1.NodeSucceeded) {
				continue
			}
			if _, seen := decided[id]; !seen {
				decided[id] = int64(n.GetEndTimeUnixNano())
			}
			if _, seen := res.Done[id]; seen || rd.update == nil || str(rd.update, telemetry.AttrUpdateResult) != telemetry.UpdateOK {
				continue
			}
			res.Done[id] = int64(rd.update.GetEndTimeUnixNano())
			persisting[id] = int64(rd.update.GetStartTimeUnixNano())
		}
	}
	startDone, ok := res.Done[v1alpha1.StartNodeID]
	if !ok {
		return res, fmt.Errorf("no persisted round moved %s to Succeeded", v1alpha1.StartNodeID)
	}
	res.StartDone = startDone

	creates := map[string]*tracepb.Span{} // node/attempt -> earliest pod.create
	for _, s := range spans {
		switch s.GetName() {
		case telemetry.SpanPodCreate:
			if _, isItem := num(s, telemetry.AttrMapItem); isItem {
				continue
			}
			a, _ := num(s, telemetry.AttrAttempt)
			k := fmt.Sprintf("%s/%d", str(s, telemetry.AttrNode), a)
			if c, ok := creates[k]; !ok || s.GetEndTimeUnixNano() < c.GetEndTimeUnixNano() {
				creates[k] = s
			}
		case telemetry.SpanWorkflowCreate:
			res.Children[str(s, telemetry.AttrNode)] = str(s, telemetry.AttrChild)
		}
	}

	var walk func(prefix string, tmpl v1alpha1.WorkflowTemplate) error
	walk = func(prefix string, tmpl v1alpha1.WorkflowTemplate) error {
		ids := make([]string, 0, len(tmpl.Nodes))
		for id := range tmpl.Nodes {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			spec := tmpl.Nodes[id]
			path := v1alpha1.JoinNodePath(prefix, id)
			done, ok := res.Done[path]
			if !ok {
				return fmt.Errorf("node %s: no persisted round moved it to Succeeded", path)
			}
			var ready, dec int64
			for _, u := range tmpl.Connections.Upstream[id] {
				d, ok := res.Done[v1alpha1.JoinNodePath(prefix, u)]
				if !ok {
					return fmt.Errorf("node %s: upstream %s has no done instant", path, v1alpha1.JoinNodePath(prefix, u))
				}
				ready, dec = max(ready, d), max(dec, decided[v1alpha1.JoinNodePath(prefix, u)])
			}
			if id != v1alpha1.StartNodeID && done < ready {
				return fmt.Errorf("node %s: done before ready", path)
			}
			switch spec.Kind {
			case v1alpha1.NodeKindDynamic, v1alpha1.NodeKindSubWorkflow:
				sub, err := closure.Nested(spec)
				if err != nil {
					return fmt.Errorf("node %s: %w", path, err)
				}
				if err := walk(path, sub); err != nil {
					return err
				}
				// The node succeeds in the round its sub-DAG's end does.
				if end := res.Done[v1alpha1.JoinNodePath(path, v1alpha1.EndNodeID)]; end != done {
					return fmt.Errorf("node %s: done %d, its end node's %d: want the same round", path, done, end)
				}
			case v1alpha1.NodeKindLaunchPlan:
				if res.Children[path] == "" {
					return fmt.Errorf("node %s: no workflow.create span names its child", path)
				}
			}
			if spec.Kind != v1alpha1.NodeKindTask && spec.Kind != v1alpha1.NodeKindDynamic {
				continue
			}
			if spec.Kind == v1alpha1.NodeKindTask && cached[path] {
				continue // no pod: no launch or user-code instants
			}
			a, err := attempt(path, creates, ended, endDone)
			if err != nil {
				return err
			}
			a.Ready, a.Decided = ready, dec
			if a.Attempt > 1 {
				// Ready when the previous attempt's failure was persisted;
				// decided when the node.handle that saw it ended.
				k := fmt.Sprintf("%s/%d", path, a.Attempt-1)
				a.Ready, a.Decided = endDone[k][0], int64(ended[k].GetEndTimeUnixNano())
			}
			if spec.Kind == v1alpha1.NodeKindTask && a.Done != done {
				return fmt.Errorf("node %s: its pod's end was persisted at %d but the node succeeded at %d", path, a.Done, done)
			}
			// The pod cannot start before it was asked for, but it may start
			// before the create call returns; it is asked for only after
			// its upstream nodes' success was decided.
			if !(a.Decided <= a.LaunchSent && a.LaunchSent <= a.Started && a.Started <= a.Finished && a.Finished <= a.EndDecided && a.EndDecided <= a.Done && a.Ready <= a.Done) {
				return fmt.Errorf("node %s: instants out of order: decided %d ready %+d create sent %+d launched %+d started %+d finished %+d done %+d (ns after decided)",
					path, a.Decided, a.Ready-a.Decided, a.LaunchSent-a.Decided, a.Launched-a.Decided, a.Started-a.Decided, a.Finished-a.Decided, a.Done-a.Decided)
			}
			if a.Started < a.Launched {
				res.StartedBeforeLaunched++
			}
			a.User = a.Finished - a.Started
			a.Kubernetes = a.Started - a.Launched
			// As the harness measures it (aggregate.Attempt): between
			// decisions, so that a greedy round's launch, which precedes
			// the update persisting the upstream success, is never
			// negative, and that update is not counted twice.
			a.Controller = (a.Launched - a.Decided) + (a.EndDecided - a.Finished)
			a.ReadyToDone = a.EndDecided - a.Decided
			if a.User+a.Kubernetes+a.Controller != a.ReadyToDone {
				return fmt.Errorf("node %s: components do not sum", path)
			}
			res.Attempts[path] = a
		}
		return nil
	}
	if err := walk("", closure.Primary); err != nil {
		return res, err
	}
	if res.Succeeded == 0 {
		return res, fmt.Errorf("no ok workflow.update persisted phase Succeeded")
	}
	return res, nil
}

// attempt reconstructs the last attempt of the node at path that ran a
// pod.
func attempt(path string, creates, ended map[string]*tracepb.Span, endDone map[string][2]int64) (Attempt, error) {
	var last int64
	for k := range ended {
		if node, a, ok := cutAttempt(k); ok && node == path && a > last {
			last = a
		}
	}
	if last == 0 {
		return Attempt{}, fmt.Errorf("node %s: no persisted node.handle carries its pod's user-code instants", path)
	}
	key := fmt.Sprintf("%s/%d", path, last)
	obs := ended[key]
	a := Attempt{Node: path, Attempt: last, Done: endDone[key][0], Persisting: endDone[key][1],
		Observed: int64(obs.GetStartTimeUnixNano()), EndDecided: int64(obs.GetEndTimeUnixNano())}
	create, ok := creates[key]
	if !ok {
		return a, fmt.Errorf("node %s attempt %d: no pod.create span", path, last)
	}
	a.LaunchSent, a.Launched = int64(create.GetStartTimeUnixNano()), int64(create.GetEndTimeUnixNano())
	a.Started, _ = num(obs, telemetry.AttrUserStarted)
	a.Finished, _ = num(obs, telemetry.AttrUserFinished)
	a.Seen, _ = num(obs, telemetry.AttrPodEndSeen)
	return a, nil
}

func cutAttempt(k string) (string, int64, bool) {
	i := strings.LastIndex(k, "/")
	var a int64
	if _, err := fmt.Sscan(k[i+1:], &a); err != nil {
		return "", 0, false
	}
	return k[:i], a, true
}
