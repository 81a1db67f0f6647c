// Package aggregate turns a run directory into reports: a pure function
// of what the run recorded (the controller's spans, the metric scrapes
// before and after each execution, the records). It measures every
// execution as the README's "What the numbers mean" defines, and builds
// one report per target.
package aggregate

import (
	"fmt"
	"sort"
	"time"

	"github.com/benchctl/benchctl/controller/api/telemetry"
	"github.com/benchctl/benchctl/controller/api/v1alpha1"
	"github.com/benchctl/benchctl/reports"
)

// maxOverlap is how far an instant the controller or KWOK saw may precede
// the sending of the create call that caused it (a pod's start, a
// workflow's first decision) before the two are treated as inconsistent
// clocks. Between sending and return the effect is consistent whatever the
// call's duration: the answer was still on its way, which on a loaded
// host takes tens of milliseconds.
const maxOverlap = 50 * time.Millisecond

// Call is a create call as its caller timed it: Sent just before the
// request went out, Returned when the answer arrived. A zero Sent (a
// record written before it was kept) means Returned.
type Call struct{ Sent, Returned time.Time }

// Returned is a call known only by its return.
func Returned(t time.Time) Call { return Call{Returned: t} }

// precedes reports whether an effect seen at t, before the call returned,
// is explained by the answer's way back rather than by clock skew: t is no
// more than maxOverlap before the call was sent.
func (c Call) precedes(t time.Time) bool {
	sent := c.Sent
	if sent.IsZero() || sent.After(c.Returned) {
		sent = c.Returned
	}
	return t.Before(c.Returned) && !t.Before(sent.Add(-maxOverlap))
}

// Attempt is one unit of user code: a task-node attempt, a map item's
// attempt or a cache hit, with these instants:
//
//	ready     every upstream node's success was decided, in a round whose
//	          update persisted it (the end of the node.handle span); for a
//	          retry, the previous attempt's failure was; for a map item,
//	          its map node was ready
//	slotFree  a parallelism slot was free for it (ready unless a limit on
//	          running nodes or items held it back)
//	handled   the round that launched it started handling the node
//	launched  the pod create call returned
//	started   user code began        (from the pod's termination message)
//	finished  user code ended
//	seen      a round first decided the attempt's end (maybe one whose
//	          update then failed)
//	done      the attempt's end was decided, in a round whose update
//	          persisted it
//
// Both ends are decisions, not the update that follows them: a greedy
// round launches the nodes a success unblocks before its update persists
// the success, so that update runs while the next pod starts. Counting it
// in the upstream's done as well as in the downstream's wait would count
// it twice; as decisions, a serial chain's nodes partition its wall time
// (setup + nodes + teardown) and the update delays whichever node's end
// the controller then observes late, or the teardown.
//
// A cache hit launches nothing: launched = started = finished = ready.
type Attempt struct {
	Node     string
	Kind     string // task, dynamic (the generator task), map-item
	Attempt  int
	Item     int // map item index, or -1
	Cached   bool
	Ready    time.Time
	SlotFree time.Time
	Handled  time.Time
	Launched time.Time
	// CreateReturned is launched as the controller saw it, before any
	// clamp: what its task events report.
	CreateReturned time.Time
	Started        time.Time
	Finished       time.Time
	Seen           time.Time
	Done           time.Time
}

// User is finished - started.
func (a Attempt) User() time.Duration { return a.Finished.Sub(a.Started) }

// Kubernetes is started - launched.
func (a Attempt) Kubernetes() time.Duration { return a.Started.Sub(a.Launched) }

// Controller is (launched - ready) + (done - finished).
func (a Attempt) Controller() time.Duration {
	return a.Launched.Sub(a.Ready) + a.Done.Sub(a.Finished)
}

// Total is done - ready; User + Kubernetes + Controller == Total.
func (a Attempt) Total() time.Duration { return a.Done.Sub(a.Ready) }

// ParallelismWait is slotFree - ready: the part of Controller spent
// waiting for a limit on running nodes or items.
func (a Attempt) ParallelismWait() time.Duration { return a.SlotFree.Sub(a.Ready) }

// NodeMeasure is one node (at any nesting depth) of an execution.
type NodeMeasure struct {
	Node  string
	Kind  string
	Ready time.Time
	Done  time.Time
	// Sums over the node's attempts (a map node: over its items).
	User, Kubernetes, Controller time.Duration
	Attempts                     int
	Cached                       bool
}

// Wall is done - ready.
func (n NodeMeasure) Wall() time.Duration { return n.Done.Sub(n.Ready) }

// Problem is something in a trace that makes an execution's measurements
// untrustworthy. Kind is a report reason: reports.ReasonIncompleteTrace
// (a span a measurement needs is missing) or reports.ReasonClockSkew (two
// clocks disagree by more than scheduling noise explains).
type Problem struct {
	Kind string
	Msg  string
}

func (p Problem) String() string { return p.Msg }

func incomplete(format string, args ...any) Problem {
	return Problem{Kind: reports.ReasonIncompleteTrace, Msg: fmt.Sprintf(format, args...)}
}

func skew(format string, args ...any) Problem {
	return Problem{Kind: reports.ReasonClockSkew, Msg: fmt.Sprintf(format, args...)}
}

// Clamp is an instant moved to keep the instants in order: a pod the
// controller saw start before its create call returned, a workflow
// decided before the harness's create call returned.
type Clamp struct {
	What string
	By   time.Duration
}

// Execution is the measurement of one workflow execution.
type Execution struct {
	// Name is the Workflow object's name.
	Name       string
	Created    time.Time
	FirstReady time.Time // done(start-node)
	LastDone   time.Time // latest done of a node other than the end node
	Succeeded  time.Time // end of the update that persisted phase Succeeded
	Attempts   []Attempt
	Nodes      []NodeMeasure
	// Sums over attempts.
	User, Kubernetes, Controller time.Duration
	// Infra holds latencies by infrastructure metric (reports.InfraMetrics).
	Infra map[string][]time.Duration
	// Problems make the execution's measurements untrustworthy.
	Problems []Problem
	// Clamps are the instants moved, within maxOverlap, to keep order.
	Clamps []Clamp
	// Decided is when each node's success was decided (in the round that
	// persisted it), nested start and end nodes included.
	Decided map[string]time.Time
	// Children are the launch-plan children, by launch-plan node path.
	Children map[string]*Execution
	create   Call // the create call, whose return is Created
	tmpl     *templates
}

// Wall is created -> succeeded.
func (e *Execution) Wall() time.Duration { return e.Succeeded.Sub(e.Created) }

// Setup is created -> first node ready.
func (e *Execution) Setup() time.Duration { return e.FirstReady.Sub(e.Created) }

// Teardown is last node done -> workflow succeeded.
func (e *Execution) Teardown() time.Duration { return e.Succeeded.Sub(e.LastDone) }

func (e *Execution) problem(p Problem) { e.Problems = append(e.Problems, p) }

// Measure reconstructs one execution from its spans. created is when the
// harness's create call returned; closure gives the DAG, so that ready can
// be derived from the upstream nodes' done instants. The steps:
//
//  1. index the rounds and their persisting updates (newTrace);
//  2. collect the infrastructure latencies and the persisted success;
//  3. collect the decisions: launches, observed ends, successes (scan);
//  4. keep the decisions whose round was persisted (done instants);
//  5. derive ready from the DAG and build nodes and attempts.
func Measure(spans []*Span, created Call, closure *v1alpha1.WorkflowClosure, limits Limits) (*Execution, error) {
	t, err := newTrace(spans)
	if err != nil {
		return nil, err
	}
	e := &Execution{Created: created.Returned, create: created, Infra: map[string][]time.Duration{}, tmpl: newTemplates(closure), Children: map[string]*Execution{}}
	t.infrastructure(e)
	d := t.scan(e)
	nodeDone, attemptDone := t.persistedDone(d)
	start, ok := nodeDone[v1alpha1.StartNodeID]
	if !ok {
		return nil, fmt.Errorf("no node.handle moved %s to Succeeded in a persisted round", v1alpha1.StartNodeID)
	}
	e.FirstReady, e.Decided = start, nodeDone
	e.measureNodes(d, nodeDone, attemptDone)
	e.gate(limits)
	e.finish()
	return e, nil
}

// round is one round span with its persisting update.
type round struct {
	span   *Span
	update *Span // nil when the round wrote nothing
	ok     bool
	index  int
}

// trace is an execution's spans indexed by round.
type trace struct {
	spans  []*Span
	byID   map[string]*Span
	rounds []*round
	of     map[*Span]*round // round span -> round
}

func newTrace(spans []*Span) (*trace, error) {
	t := &trace{spans: spans, byID: make(map[string]*Span, len(spans)), of: map[*Span]*round{}}
	for _, s := range spans {
		t.byID[s.ID] = s
	}
	for _, s := range spans {
		if s.Name == telemetry.SpanRound {
			r := &round{span: s}
			t.rounds = append(t.rounds, r)
			t.of[s] = r
		}
	}
	if len(t.rounds) == 0 {
		return nil, fmt.Errorf("no %s spans: the controller recorded no evaluation round for this execution", telemetry.SpanRound)
	}
	sort.Slice(t.rounds, func(i, j int) bool { return t.rounds[i].span.Start.Before(t.rounds[j].span.Start) })
	for i, r := range t.rounds {
		r.index = i
	}
	return t, nil
}

// roundOf finds the round a span ran in (nil if none).
func (t *trace) roundOf(s *Span) *round {
	for p := t.byID[s.ParentID]; p != nil; p = t.byID[p.ParentID] {
		if p.Name == telemetry.SpanRound {
			return t.of[p]
		}
	}
	return nil
}

// infraSpans maps span names to the infrastructure metric they time.
var infraSpans = map[string]string{
	telemetry.SpanBlobRead:   reports.InfraBlobReads,
	telemetry.SpanBlobWrite:  reports.InfraBlobWrites,
	telemetry.SpanCatalogGet: reports.InfraCatalogGets,
	telemetry.SpanCatalogPut: reports.InfraCatalogPuts,
	telemetry.SpanPodCreate:  reports.InfraPodCreates,
	telemetry.SpanRound:      reports.InfraRounds,
	telemetry.SpanStreak:     reports.InfraStreaks,
}

// eventMetrics maps event kinds to their infrastructure metric.
var eventMetrics = map[string]string{
	"workflow": reports.InfraEventsWorkflow,
	"node":     reports.InfraEventsNode,
	"task":     reports.InfraEventsTask,
}

// infrastructure collects every operation's latency, attaches each
// update to its round and finds the update that persisted Succeeded.
func (t *trace) infrastructure(e *Execution) {
	for _, s := range t.spans {
		switch s.Name {
		case telemetry.SpanWorkflowUpdate:
			r := t.roundOf(s)
			if r == nil {
				e.problem(incomplete("a workflow.update span outside any round"))
				continue
			}
			r.update = s
			r.ok = s.Str(telemetry.AttrUpdateResult) == telemetry.UpdateOK
			if r.ok && s.Str(telemetry.AttrWorkflowPhase) == string(v1alpha1.WorkflowSucceeded) && e.Succeeded.IsZero() {
				e.Succeeded = s.End
			}
			e.Infra[reports.InfraCRDUpdates] = append(e.Infra[reports.InfraCRDUpdates], s.Duration())
		case telemetry.SpanEventRecord:
			if m, ok := eventMetrics[s.Str(telemetry.AttrEventKind)]; ok {
				e.Infra[m] = append(e.Infra[m], s.Duration())
			}
		default:
			if m, ok := infraSpans[s.Name]; ok {
				e.Infra[m] = append(e.Infra[m], s.Duration())
			}
		}
	}
}

// key identifies an attempt.
type key struct {
	node    string
	attempt int64
	item    int64
}

func keyOf(s *Span) key {
	k := key{node: s.Str(telemetry.AttrNode), item: -1}
	k.attempt, _ = s.Int(telemetry.AttrAttempt)
	if it, ok := s.Int(telemetry.AttrMapItem); ok {
		k.item = it
	}
	return k
}

// decisions are what the controller decided, round by round.
type decisions struct {
	// launched is the earliest pod.create end per attempt, sent that
	// span's start; handled the start of the node.handle that issued it.
	launched map[key]time.Time
	sent     map[key]time.Time
	handled  map[key]time.Time
	// ended is the first node.handle that observed an attempt's end.
	ended map[key]*Span
	// endRounds and succRounds are the rounds, in order, that decided an
	// attempt's end or a node's success; endAt and succAt the end of the
	// deciding node.handle in each.
	endRounds  map[key][]*round
	succRounds map[string][]*round
	endAt      map[*round]map[key]time.Time
	succAt     map[*round]map[string]time.Time
	nodeKind   map[string]string
	cached     map[string]bool
	attemptsOf map[string]map[key]bool
}

// scan collects launches and the decisions about ends and successes.
func (t *trace) scan(e *Execution) *decisions {
	d := &decisions{
		launched: map[key]time.Time{}, sent: map[key]time.Time{}, handled: map[key]time.Time{}, ended: map[key]*Span{},
		endRounds: map[key][]*round{}, succRounds: map[string][]*round{},
		endAt: map[*round]map[key]time.Time{}, succAt: map[*round]map[string]time.Time{},
		nodeKind: map[string]string{}, cached: map[string]bool{}, attemptsOf: map[string]map[key]bool{},
	}
	for _, s := range t.spans {
		switch s.Name {
		case telemetry.SpanPodCreate:
			k := keyOf(s)
			if prev, ok := d.launched[k]; !ok || s.End.Before(prev) {
				d.launched[k], d.sent[k] = s.End, s.Start
				d.handled[k] = s.Start
				if h := t.byID[s.ParentID]; h != nil && h.Name == telemetry.SpanNodeHandle {
					d.handled[k] = h.Start
				}
			}
		case telemetry.SpanNodeHandle:
			k := keyOf(s)
			r := t.roundOf(s)
			if r == nil {
				e.problem(incomplete("node.handle of %s outside any round", k.node))
				continue
			}
			d.handle(s, k, r)
		}
	}
	return d
}

func (d *decisions) handle(s *Span, k key, r *round) {
	if kind := s.Str(telemetry.AttrNodeKind); kind != "" && k.item < 0 {
		d.nodeKind[k.node] = kind
	}
	if _, ok := s.Int(telemetry.AttrUserFinished); ok {
		if _, seen := d.ended[k]; !seen {
			d.ended[k] = s
		}
		d.endRounds[k] = append(d.endRounds[k], r)
		if d.endAt[r] == nil {
			d.endAt[r] = map[key]time.Time{}
		}
		d.endAt[r][k] = s.End
		if d.attemptsOf[k.node] == nil {
			d.attemptsOf[k.node] = map[key]bool{}
		}
		d.attemptsOf[k.node][k] = true
	}
	if k.item < 0 && s.Bool(telemetry.AttrCached) {
		d.cached[k.node] = true
	}
	if k.item < 0 && s.Str(telemetry.AttrPhaseTo) == string(v1alpha1.NodeSucceeded) {
		d.succRounds[k.node] = append(d.succRounds[k.node], r)
		if d.succAt[r] == nil {
			d.succAt[r] = map[string]time.Time{}
		}
		d.succAt[r][k.node] = s.End
	}
}

// persistedAt returns the end of the first successful update at or after
// round r: the instant a change made in r was persisted.
func (t *trace) persistedAt(r *round) time.Time {
	for _, x := range t.rounds[r.index:] {
		if x.ok {
			return x.update.End
		}
	}
	return time.Time{}
}

// persisting picks, among the rounds rs (in order) that made a change, the
// one whose update persisted it: the first whose update succeeded, else
// the last, when a later successful update persisted it; nil when the
// change was never persisted.
func (t *trace) persisting(rs []*round) *round {
	for _, r := range rs {
		if r.ok {
			return r
		}
	}
	if len(rs) == 0 || t.persistedAt(rs[len(rs)-1]).IsZero() {
		return nil
	}
	return rs[len(rs)-1]
}

// persistedDone are the done instants: a node is done when its success
// was decided (the end of the node.handle that moved it to Succeeded) in
// the round whose update persisted it, and an attempt when its end was. A
// success never persisted is no success.
func (t *trace) persistedDone(d *decisions) (nodeDone map[string]time.Time, attemptDone map[key]time.Time) {
	nodeDone = map[string]time.Time{}
	for node, rs := range d.succRounds {
		if r := t.persisting(rs); r != nil {
			nodeDone[node] = d.succAt[r][node]
		}
	}
	attemptDone = map[key]time.Time{}
	for k, rs := range d.endRounds {
		if r := t.persisting(rs); r != nil {
			attemptDone[k] = d.endAt[r][k]
		}
	}
	return nodeDone, attemptDone
}

// ready is the latest done of the node's upstream nodes in its DAG.
func ready(tmpl *templates, nodeDone map[string]time.Time, created time.Time, path string) (time.Time, error) {
	prefix, id := v1alpha1.SplitNodePath(path)
	t, err := tmpl.lookup(prefix)
	if err != nil {
		return time.Time{}, err
	}
	if id == v1alpha1.StartNodeID {
		// A nested start node is ready when its parent was launched into
		// it: the parent node's ready.
		if prefix == "" {
			return created, nil
		}
		return time.Time{}, fmt.Errorf("no ready instant for %s", path)
	}
	ups := t.Connections.Upstream[id]
	var latest time.Time
	for _, u := range ups {
		up := v1alpha1.JoinNodePath(prefix, u)
		d, ok := nodeDone[up]
		if !ok {
			return time.Time{}, fmt.Errorf("upstream %s of %s has no persisted success", up, path)
		}
		if d.After(latest) {
			latest = d
		}
	}
	if len(ups) == 0 {
		return time.Time{}, fmt.Errorf("node %s has no upstream nodes in its DAG", path)
	}
	return latest, nil
}

// measureNodes builds every done node (start and end nodes excepted) with
// its attempts, in path order, and the execution's sums.
func (e *Execution) measureNodes(d *decisions, nodeDone map[string]time.Time, attemptDone map[key]time.Time) {
	paths := make([]string, 0, len(nodeDone))
	for p := range nodeDone {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, path := range paths {
		_, id := v1alpha1.SplitNodePath(path)
		if id == v1alpha1.StartNodeID || id == v1alpha1.EndNodeID {
			continue
		}
		r, err := ready(e.tmpl, nodeDone, e.Created, path)
		if err != nil {
			e.problem(incomplete("%v", err))
			continue
		}
		nm := NodeMeasure{Node: path, Kind: d.nodeKind[path], Ready: r, Done: nodeDone[path], Cached: d.cached[path]}
		if nm.Done.After(e.LastDone) {
			e.LastDone = nm.Done
		}
		var atts []Attempt
		switch {
		case d.cached[path]:
			atts = []Attempt{{Node: path, Kind: nm.Kind, Attempt: 1, Item: -1, Cached: true,
				Ready: r, SlotFree: r, Handled: r, Launched: r, Started: r, Finished: r, Seen: nm.Done, Done: nm.Done}}
		case len(d.attemptsOf[path]) > 0:
			atts, err = e.attemptsFor(path, nm, d, attemptDone)
			if err != nil {
				e.problem(incomplete("%v", err))
				continue
			}
		}
		e.Attempts = append(e.Attempts, atts...)
		e.Nodes = append(e.Nodes, nm)
	}
}

// sums adds up every node's attempts and checks their signs. It runs
// after gate, which moves no instant that a sum uses: slotFree only
// splits controller time.
func (e *Execution) sums() {
	byNode := map[string]int{}
	for i := range e.Nodes {
		byNode[e.Nodes[i].Node] = i
	}
	for _, a := range e.Attempts {
		nm := &e.Nodes[byNode[a.Node]]
		nm.User += a.User()
		nm.Kubernetes += a.Kubernetes()
		nm.Controller += a.Controller()
		nm.Attempts++
		e.checkSigns(a)
		e.User += a.User()
		e.Kubernetes += a.Kubernetes()
		e.Controller += a.Controller()
	}
}

// checkSigns reports a negative part of an attempt: two clocks disagree,
// or a span is missing.
func (e *Execution) checkSigns(a Attempt) {
	for _, part := range []struct {
		name string
		d    time.Duration
	}{{"user", a.User()}, {"kubernetes", a.Kubernetes()}, {"controller time", a.Controller()}} {
		if part.d < 0 {
			e.problem(skew("%s attempt %d item %d: negative %s %v (clock skew or a missing span)", a.Node, a.Attempt, a.Item, part.name, part.d))
		}
	}
}

// finish sums the attempts and checks the workflow's own instants.
func (e *Execution) finish() {
	e.sums()
	if e.Succeeded.IsZero() {
		e.problem(incomplete("no persisted update set the workflow phase to Succeeded"))
	}
	if e.LastDone.IsZero() {
		e.LastDone = e.FirstReady
	}
	// The controller can decide the start node before the harness's create
	// call has returned: the answer was still on its way. As with pod
	// creates, that moves created back; before the call was sent it is
	// clock skew.
	if e.create.precedes(e.FirstReady) {
		e.Clamps = append(e.Clamps, Clamp{What: "created", By: e.Created.Sub(e.FirstReady)})
		e.Created = e.FirstReady
	}
	if e.Setup() < 0 {
		e.problem(skew("negative setup %v: the harness and controller clocks disagree", e.Setup()))
	}
}

// attemptsFor builds a node's attempts. The first attempt (of each map
// item) is ready when its node is; a retry when the previous attempt's
// end was decided. Waits for a parallelism slot are controller time, and
// gate tells them apart.
func (e *Execution) attemptsFor(path string, nm NodeMeasure, d *decisions, attemptDone map[key]time.Time) ([]Attempt, error) {
	var ks []key
	for k := range d.attemptsOf[path] {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool {
		if ks[i].item != ks[j].item {
			return ks[i].item < ks[j].item
		}
		return ks[i].attempt < ks[j].attempt
	})
	var out []Attempt
	prevDone := map[int64]time.Time{} // per item: done of its previous attempt
	for _, k := range ks {
		l, ok := d.launched[k]
		if !ok {
			return nil, fmt.Errorf("%s attempt %d item %d: no pod.create span", path, k.attempt, k.item)
		}
		s := d.ended[k]
		st, _ := s.Int(telemetry.AttrUserStarted)
		fi, _ := s.Int(telemetry.AttrUserFinished)
		done := attemptDone[k]
		if done.IsZero() {
			return nil, fmt.Errorf("%s attempt %d item %d: its end was never persisted", path, k.attempt, k.item)
		}
		kind := nm.Kind
		if k.item >= 0 {
			kind = "map-item"
		}
		a := Attempt{Node: path, Kind: kind, Attempt: int(k.attempt), Item: int(k.item),
			Ready: nm.Ready, Handled: d.handled[k], Launched: l, CreateReturned: l, Started: time.Unix(0, st), Finished: time.Unix(0, fi), Seen: s.End, Done: done}
		// On a busy host the controller can see its create call return
		// after the pod already started: the rest of that wait was the API
		// server's answer reaching the controller, so it counts as
		// Kubernetes time up to the start, and launched is the start.
		// A start before the call was sent is not scheduling noise but a
		// clock problem, and the negative Kubernetes time is reported.
		if (Call{Sent: d.sent[k], Returned: l}).precedes(a.Started) {
			e.Clamps = append(e.Clamps, Clamp{What: "launched", By: a.Launched.Sub(a.Started)})
			a.Launched = a.Started
		}
		if pd, ok := prevDone[k.item]; ok {
			a.Ready = pd
		}
		prevDone[k.item] = done
		a.SlotFree = a.Ready
		out = append(out, a)
	}
	return out, nil
}
