package aggregate

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"time"

	"github.com/benchctl/benchctl/portfolio/flyte"
	"github.com/benchctl/benchctl/portfolio/rundir"
	"github.com/benchctl/benchctl/reports"
)

// A Flyte execution is measured from what Flyte Admin recorded of it, on
// Admin's clock alone (the harness's create call is on another host's):
//
//	created   the execution's created_at; wall ends at its updated_at, the
//	          event that ended it
//	ready     a node's latest upstream's last event (the start of its
//	          NODE_TRANSITION span); a retry's, the previous attempt's last
//	          event
//	handled   the node's first event (created_at)
//	launched  the task execution's first event (created_at: the pod created)
//	started   its Running event (started_at)
//	finished  started_at + duration: its terminal event
//	seen      the task execution's last event (updated_at)
//	done      the node's last event (updated_at)
//
// The breakdown follows GetExecutionMetrics' span tree along its critical
// path (flyte.BreakdownOf): TASK_RUNTIME is user time, TASK_SETUP
// kubernetes time, every other operation Flyte's, reported as controller
// time and split into the report's sub-classes by flyteParts.

// flyteParts maps Admin's operations onto the critical path's parts.
var flyteParts = map[string][2]string{
	flyte.OpTaskRuntime:      {reports.PathUser, ""},
	flyte.OpTaskSetup:        {reports.PathKubernetes, ""},
	flyte.OpWorkflowSetup:    {reports.PathController, reports.SubSetup},
	flyte.OpNodeTransition:   {reports.PathController, reports.SubRoundWait},
	flyte.OpNodeIdle:         {reports.PathController, reports.SubRoundWait},
	flyte.OpNodeSetup:        {reports.PathController, reports.SubLaunch},
	flyte.OpNodeReset:        {reports.PathController, reports.SubLaunch},
	flyte.OpTaskTeardown:     {reports.PathController, reports.SubObserve},
	flyte.OpNodeTeardown:     {reports.PathController, reports.SubObserve},
	flyte.OpWorkflowTeardown: {reports.PathController, reports.SubTeardown},
}

// measureFlyte measures one execution of the flyte engine.
func measureFlyte(rec *rundir.Record, _ reports.Environment) (*reports.ExecutionSample, *reports.Timeline, []reports.Reason) {
	if why := outcome(rec); why != nil {
		return nil, nil, why
	}
	reason := func(kind, format string, args ...any) reports.Reason {
		return reports.NewReason(kind, rec.Workflow, "repetition %d: "+format, append([]any{rec.Repetition}, args...)...)
	}
	var ex flyte.Execution
	var nodes []flyte.NodeTree
	var root flyte.Span
	for _, a := range []struct {
		name string
		v    any
	}{{rundir.ArtifactFlyteExecution, &ex}, {rundir.ArtifactFlyteNodes, &nodes}, {rundir.ArtifactFlyteMetrics, &root}} {
		b, err := rec.ReadArtifact(a.name)
		if err == nil {
			err = json.Unmarshal(b, a.v)
		}
		if err != nil {
			return nil, nil, []reports.Reason{reason(reports.ReasonIncompleteTrace, "Flyte Admin's record: %v", err)}
		}
	}
	e, segs, err := MeasureFlyte(&ex, nodes, &root)
	if err != nil {
		return nil, nil, []reports.Reason{reason(reports.ReasonIncompleteTrace, "%v", err)}
	}
	var reasons []reports.Reason
	for _, p := range e.Problems {
		reasons = append(reasons, reason(p.Kind, "%s", p.Msg))
	}
	counts, err := propellerCounts(rec)
	if err != nil {
		reasons = append(reasons, reason(reports.ReasonCountMismatch, "%v", err))
	}
	if len(reasons) > 0 {
		return nil, nil, reasons
	}
	s, tl := e.sample(rec, segs, nil)
	s.Counts = counts
	return s, tl, nil
}

// MeasureFlyte reconstructs an execution from Admin's records: the
// execution, its node executions with their task executions, and the
// span tree of GetExecutionMetrics. It returns the measurement (whose
// Problems say what cannot be trusted) and the critical path, which
// tiles [created, updated] exactly.
func MeasureFlyte(ex *flyte.Execution, nodes []flyte.NodeTree, root *flyte.Span) (*Execution, []Segment, error) {
	created, ended := ex.Closure.CreatedAt, ex.Closure.UpdatedAt
	if created.IsZero() || ended.Before(created) {
		return nil, nil, fmt.Errorf("execution %s: created %v, updated %v: no measurable interval", ex.ID, created, ended)
	}
	if !root.StartTime.Equal(created) || !root.EndTime.Equal(ended) {
		return nil, nil, fmt.Errorf("the metrics span tree covers %v..%v, the execution %v..%v: they are of different states",
			root.StartTime, root.EndTime, created, ended)
	}
	b, err := flyte.BreakdownOf(root)
	if err != nil {
		return nil, nil, err
	}
	e := &Execution{Name: ex.ID.Name, Created: created, FirstReady: created, LastDone: ended, Succeeded: ended,
		Infra: map[string][]time.Duration{}, Decided: map[string]time.Time{}, Children: map[string]*Execution{}}
	if b.Unresolved > 0 {
		e.problem(incomplete("%v of the critical path is covered by no span of Admin's metrics (a tree cut by its depth, or an entity still running)", b.Unresolved))
	}
	segs := e.flytePath(b.Segments)
	ready := transitions(root, "")
	e.flyteNodes(nodes, "", ready)
	e.sums()
	e.checkRuntimes(segs)
	return e, segs, nil
}

// flytePath turns the breakdown's segments into the critical path. The
// workflow's own setup and teardown bound setup and teardown; an overlap
// between segments (timestamps out of order) is clamped and counted, a
// gap is a problem.
func (e *Execution) flytePath(in []flyte.Segment) []Segment {
	var out []Segment
	at := e.Created
	for _, s := range in {
		part, ok := flyteParts[s.Op]
		if !ok {
			e.problem(incomplete("unknown operation %q in Admin's metrics", s.Op))
			continue
		}
		if s.Start.After(at) {
			e.problem(incomplete("the critical path has a gap of %v before %s of %q", s.Start.Sub(at), s.Op, s.Node))
		}
		start, end := s.Start, s.End
		if start.Before(at) {
			e.Clamps = append(e.Clamps, Clamp{What: "critical path: " + s.Node + " " + s.Op, By: at.Sub(start)})
			start = at
		}
		if end.Before(start) {
			end = start
		}
		attempt := 0
		if part[0] != reports.PathController {
			attempt = s.Attempt + 1 // Admin counts retries from 0, reports attempts from 1
		}
		if end.After(start) {
			out = append(out, Segment{Part: part[0], Sub: part[1], Start: start, End: end, Node: s.Node, Attempt: attempt, Item: -1})
		}
		at = end
		switch {
		case s.Op == flyte.OpWorkflowSetup && s.Node == "":
			e.FirstReady = end
		case s.Op == flyte.OpWorkflowTeardown && s.Node == "":
			e.LastDone = start
		}
	}
	switch {
	case at.Before(e.Succeeded):
		e.problem(incomplete("the critical path ends %v before the execution did", e.Succeeded.Sub(at)))
	case at.After(e.Succeeded):
		e.problem(skew("the critical path ends %v after the execution did: Admin's timestamps disagree", at.Sub(e.Succeeded)))
	}
	return out
}

// transitions maps every node of the span tree (nested ones as
// "parent/child") to the start of its NODE_TRANSITION span: its latest
// upstream's last event, when it became ready.
func transitions(s *flyte.Span, prefix string) map[string]time.Time {
	out := map[string]time.Time{}
	for i := range s.Spans {
		c := &s.Spans[i]
		p := prefix
		if c.NodeID != nil {
			p = prefix + c.NodeID.NodeID
			for _, op := range c.Spans {
				if op.OperationID == flyte.OpNodeTransition {
					out[p] = op.StartTime
				}
			}
			p += "/"
		}
		for k, v := range transitions(c, p) {
			out[k] = v
		}
	}
	return out
}

// flyteNodes adds every node's measure and attempts, nested levels with
// their parent's path.
func (e *Execution) flyteNodes(nodes []flyte.NodeTree, prefix string, ready map[string]time.Time) {
	for _, n := range nodes {
		id := n.ID.NodeID
		path := prefix + id
		c := n.Closure
		e.Decided[path] = c.UpdatedAt
		if len(n.Children) > 0 {
			e.flyteNodes(n.Children, path+"/", ready)
		}
		if id == "start-node" || id == "end-node" {
			continue
		}
		if !flyte.Terminal(c.Phase) && c.Phase != "SKIPPED" {
			e.problem(incomplete("node %s is %s, not ended", path, c.Phase))
			continue
		}
		r, ok := ready[path]
		if !ok {
			r = c.CreatedAt // a root node without a recorded transition
		}
		nm := NodeMeasure{Node: path, Kind: flyteKind(n), Ready: r, Done: c.UpdatedAt}
		cached := c.TaskNodeMetadata != nil && c.TaskNodeMetadata.CacheStatus == "CACHE_HIT" && len(n.Tasks) == 0
		if cached {
			nm.Cached = true
			e.Attempts = append(e.Attempts, Attempt{Node: path, Kind: nm.Kind, Attempt: 1, Item: -1, Cached: true,
				Ready: r, SlotFree: r, Handled: r, Launched: r, CreateReturned: r, Started: r, Finished: r, Seen: c.UpdatedAt, Done: c.UpdatedAt})
		}
		tasks := slices.Clone(n.Tasks)
		slices.SortStableFunc(tasks, func(a, b flyte.TaskExecution) int { return a.Closure.CreatedAt.Compare(b.Closure.CreatedAt) })
		for i, t := range tasks {
			tc := t.Closure
			if !flyte.Terminal(taskPhase(tc.Phase)) {
				e.problem(incomplete("node %s attempt %d is %s, not ended", path, t.ID.RetryAttempt, tc.Phase))
				continue
			}
			a := Attempt{Node: path, Kind: nm.Kind, Attempt: int(t.ID.RetryAttempt) + 1, Item: -1, Ready: r, Handled: c.CreatedAt,
				Launched: tc.CreatedAt, CreateReturned: tc.CreatedAt, Started: tc.StartedAt, Seen: tc.UpdatedAt, Done: tc.UpdatedAt}
			if a.Started.IsZero() {
				a.Started = a.Launched // never ran: no kubernetes or user time
			}
			a.Finished = a.Started.Add(tc.Duration.D())
			if i > 0 {
				a.Ready, a.Handled = tasks[i-1].Closure.UpdatedAt, tasks[i-1].Closure.UpdatedAt
			}
			if i == len(tasks)-1 {
				a.Done = c.UpdatedAt
			}
			a.SlotFree = a.Ready
			e.Attempts = append(e.Attempts, a)
		}
		e.Nodes = append(e.Nodes, nm)
	}
}

// taskPhase maps a task execution's phase onto the workflow's terminal
// ones (a retryable failure ended its attempt).
func taskPhase(p string) string {
	if p == "RETRYABLE_FAILED" {
		return flyte.PhaseFailed
	}
	return p
}

// flyteKind names a node's kind as the report's nodes name them.
func flyteKind(n flyte.NodeTree) string {
	switch {
	case n.Metadata.IsDynamic:
		return "dynamic"
	case n.Metadata.IsParentNode:
		return "subworkflow"
	}
	return "task"
}

// checkRuntimes compares the span tree's user and kubernetes time on the
// critical path with the task executions' own timestamps: Admin derives
// both from the same events, so a difference means the records were read
// in different states.
func (e *Execution) checkRuntimes(segs []Segment) {
	type key struct {
		node    string
		attempt int
	}
	got := map[key]time.Duration{}
	for _, s := range segs {
		if s.Part == reports.PathUser {
			got[key{s.Node, s.Attempt}] += s.Duration()
		}
	}
	for _, a := range e.Attempts {
		d, ok := got[key{a.Node, a.Attempt}]
		if !ok {
			continue
		}
		if diff := (d - a.User()).Abs(); diff > reports.EventTolerance {
			e.problem(Problem{Kind: reports.ReasonEventDisagreement, Msg: fmt.Sprintf("node %s attempt %d: TASK_RUNTIME %v in the metrics, %v in its task execution",
				a.Node, a.Attempt, d, a.User())})
		}
	}
}

// propellerRows are the infrastructure rows taken from flytepropeller's
// metrics, by the suffix of the family (the prefix is its metrics-prefix
// and scope, "flyte:propeller:all:" by default): the summaries' counts.
// Their latencies are sliding-window quantiles of the whole process, not
// attributable to one execution, so the rows carry counts only.
var propellerRows = []struct{ row, suffix string }{
	{reports.InfraEventsWorkflow, ":workflow:event_recording:success_duration_ms"},
	{reports.InfraEventsNode, ":node:event_recording:success_duration_ms"},
	{reports.InfraEventsTask, ":task:event_recording:success_duration_ms"},
	{reports.InfraCRDUpdates, ":wf_update_latency_ms"},
	{reports.InfraRounds, ":round:round_time_unlabeled_ms"},
}

// propellerCounts are the operations flytepropeller counted during the
// execution, from its scrapes before and after (none without scrapes).
func propellerCounts(rec *rundir.Record) (map[string]int, error) {
	before, errB := rec.ReadArtifact(rundir.ArtifactPropellerBefore)
	after, errA := rec.ReadArtifact(rundir.ArtifactPropellerAfter)
	switch {
	case errors.Is(errB, fs.ErrNotExist) && errors.Is(errA, fs.ErrNotExist):
		return nil, nil
	case errB != nil || errA != nil:
		return nil, fmt.Errorf("flytepropeller's scrapes: %w", errors.Join(errB, errA))
	}
	sb, err := ParseScrape(before)
	if err != nil {
		return nil, fmt.Errorf("flytepropeller's scrape before: %w", err)
	}
	sa, err := ParseScrape(after)
	if err != nil {
		return nil, fmt.Errorf("flytepropeller's scrape after: %w", err)
	}
	out := map[string]int{}
	for _, r := range propellerRows {
		found := false
		var delta float64
		for name := range sa {
			if strings.HasSuffix(name, r.suffix) {
				found = true
				delta += Delta(sb, sa, name, nil)
			}
		}
		if !found {
			continue // this propeller does not export it
		}
		if delta < 0 {
			return nil, fmt.Errorf("flytepropeller's %s went down by %g during the execution: it restarted", r.row, -delta)
		}
		out[r.row] = int(delta)
	}
	return out, nil
}
