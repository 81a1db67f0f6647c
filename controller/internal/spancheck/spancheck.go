// Package spancheck verifies that one execution's spans follow the
// hierarchy of DESIGN.md and that the per-attempt instants of CONTEXT.md's
// "How measurements are reconstructed" can be recovered from them. The
// controller's tests run it on real runs.
package spancheck

import (
	"cmp"
	"fmt"
	"slices"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/benchctl/benchctl/controller/api/telemetry"
	"github.com/benchctl/benchctl/controller/api/v1alpha1"
)

// Attempt is one task-node attempt's reconstructed instants (unix ns).
type Attempt struct {
	Node    string
	Attempt int64
	// LaunchSent is when the pod create call started.
	Ready, LaunchSent, Launched, Started, Finished, Done int64
	User, Kubernetes, Controller, ReadyToDone            int64
	// Observed is when the node.handle that saw the pod's end started;
	// Persisting is when the workflow.update that made it done started.
	// They split done-finished into the time until the controller looked
	// (pod status write, watch, queue) and the time to persist.
	Observed, Persisting int64
}

// Result is what Check recovered.
type Result struct {
	// Attempts are the succeeded task-node attempts, by node.
	Attempts map[string]Attempt
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
	telemetry.SpanWorkflowHandle: {""},
	telemetry.SpanWorkflowStreak: {telemetry.SpanWorkflowHandle},
	telemetry.SpanNodeHandle:     {telemetry.SpanWorkflowStreak},
	telemetry.SpanWorkflowUpdate: {telemetry.SpanWorkflowStreak},
	telemetry.SpanPodCreate:      {telemetry.SpanNodeHandle},
	telemetry.SpanCatalogGet:     {telemetry.SpanNodeHandle},
	telemetry.SpanCatalogPut:     {telemetry.SpanNodeHandle},
	// Offloaded closures are read and written by the round itself.
	telemetry.SpanBlobRead:    {telemetry.SpanNodeHandle, telemetry.SpanCatalogGet, telemetry.SpanCatalogPut, telemetry.SpanWorkflowStreak},
	telemetry.SpanBlobWrite:   {telemetry.SpanNodeHandle, telemetry.SpanCatalogGet, telemetry.SpanCatalogPut, telemetry.SpanWorkflowStreak},
	telemetry.SpanEventRecord: {telemetry.SpanNodeHandle, telemetry.SpanWorkflowStreak},
}

// Check verifies the spans of execution and reconstructs the instants of
// the succeeded attempts of the task nodes of tmpl (top-level DAG).
func Check(spans []*tracepb.Span, execution string, tmpl v1alpha1.WorkflowTemplate) (Result, error) {
	res := Result{Attempts: map[string]Attempt{}, Counts: map[string]int{}}
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
	var rounds []round
	for _, h := range spans {
		if h.GetName() != telemetry.SpanWorkflowHandle {
			continue
		}
		res.Handles++
		var streaks []*tracepb.Span
		for _, c := range children[string(h.GetSpanId())] {
			if c.GetName() == telemetry.SpanWorkflowStreak {
				streaks = append(streaks, c)
			}
		}
		slices.SortFunc(streaks, func(a, b *tracepb.Span) int { return cmp.Compare(a.GetStartTimeUnixNano(), b.GetStartTimeUnixNano()) })
		for i, st := range streaks {
			if r, ok := num(st, telemetry.AttrRound); !ok || r != int64(i) {
				return res, fmt.Errorf("streak %d of a handle has round attribute %d", i, r)
			}
			rd := round{streak: st}
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
	slices.SortFunc(rounds, func(a, b round) int {
		return cmp.Compare(a.streak.GetStartTimeUnixNano(), b.streak.GetStartTimeUnixNano())
	})

	// done(N): end of the ok update of the first round that moved N to
	// Succeeded. started/finished: from the node.handle that observed it.
	done := map[string]int64{}
	persisting := map[string]int64{}
	observed := map[string]*tracepb.Span{}
	for _, rd := range rounds {
		if rd.update == nil || str(rd.update, telemetry.AttrUpdateResult) != telemetry.UpdateOK {
			continue
		}
		end := int64(rd.update.GetEndTimeUnixNano())
		if str(rd.update, telemetry.AttrWorkflowPhase) == string(v1alpha1.WorkflowSucceeded) && res.Succeeded == 0 {
			res.Succeeded = end
		}
		for _, n := range rd.nodes {
			if _, isItem := num(n, telemetry.AttrMapItem); isItem {
				continue
			}
			id := str(n, telemetry.AttrNode)
			if str(n, telemetry.AttrPhaseTo) != string(v1alpha1.NodeSucceeded) {
				continue
			}
			if _, seen := done[id]; seen {
				continue
			}
			done[id] = end
			persisting[id] = int64(rd.update.GetStartTimeUnixNano())
			observed[id] = n
		}
	}
	startDone, ok := done[v1alpha1.StartNodeID]
	if !ok {
		return res, fmt.Errorf("no persisted round moved %s to Succeeded", v1alpha1.StartNodeID)
	}
	res.StartDone = startDone

	creates := map[string]*tracepb.Span{} // node/attempt -> pod.create
	for _, s := range spans {
		if s.GetName() != telemetry.SpanPodCreate {
			continue
		}
		if _, isItem := num(s, telemetry.AttrMapItem); isItem {
			continue
		}
		a, _ := num(s, telemetry.AttrAttempt)
		creates[fmt.Sprintf("%s/%d", str(s, telemetry.AttrNode), a)] = s
	}

	for id, spec := range tmpl.Nodes {
		if spec.Kind != v1alpha1.NodeKindTask {
			continue
		}
		obsSpan, ok := observed[id]
		if !ok {
			return res, fmt.Errorf("node %s: no persisted round moved it to Succeeded", id)
		}
		if cached, _ := attr(obsSpan, telemetry.AttrCached); cached.GetBoolValue() {
			continue // no pod: no launch or user-code instants
		}
		a := Attempt{Node: id, Done: done[id], Persisting: persisting[id], Observed: int64(obsSpan.GetStartTimeUnixNano())}
		a.Attempt, _ = num(obsSpan, telemetry.AttrAttempt)
		for _, u := range tmpl.Connections.Upstream[id] {
			d, ok := done[u]
			if !ok {
				return res, fmt.Errorf("node %s: upstream %s has no done instant", id, u)
			}
			a.Ready = max(a.Ready, d)
		}
		create, ok := creates[fmt.Sprintf("%s/%d", id, a.Attempt)]
		if !ok {
			return res, fmt.Errorf("node %s attempt %d: no pod.create span", id, a.Attempt)
		}
		a.LaunchSent, a.Launched = int64(create.GetStartTimeUnixNano()), int64(create.GetEndTimeUnixNano())
		var ok1, ok2 bool
		a.Started, ok1 = num(obsSpan, telemetry.AttrUserStarted)
		a.Finished, ok2 = num(obsSpan, telemetry.AttrUserFinished)
		if !ok1 || !ok2 {
			return res, fmt.Errorf("node %s: the node.handle that saw it succeed lacks %s/%s", id, telemetry.AttrUserStarted, telemetry.AttrUserFinished)
		}
		// The pod cannot start before it was asked for, but it may start
		// before the create call returns.
		if !(a.Ready <= a.LaunchSent && a.LaunchSent <= a.Started && a.Started <= a.Finished && a.Finished <= a.Done) {
			return res, fmt.Errorf("node %s: instants out of order: ready %d create sent %+d launched %+d started %+d finished %+d done %+d (ns after ready)",
				id, a.Ready, a.LaunchSent-a.Ready, a.Launched-a.Ready, a.Started-a.Ready, a.Finished-a.Ready, a.Done-a.Ready)
		}
		if a.Started < a.Launched {
			res.StartedBeforeLaunched++
		}
		a.User = a.Finished - a.Started
		a.Kubernetes = a.Started - a.Launched
		a.Controller = (a.Launched - a.Ready) + (a.Done - a.Finished)
		a.ReadyToDone = a.Done - a.Ready
		if a.User+a.Kubernetes+a.Controller != a.ReadyToDone {
			return res, fmt.Errorf("node %s: components do not sum", id)
		}
		res.Attempts[id] = a
	}
	if res.Succeeded == 0 {
		return res, fmt.Errorf("no ok workflow.update persisted phase Succeeded")
	}
	return res, nil
}
