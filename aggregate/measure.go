// Package aggregate turns what one execution left behind (the controller's
// spans, metric scrapes before and after, the final Workflow) into the
// measurements of DESIGN.md, and many executions into a report.
package aggregate

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/benchctl/benchctl/controller/api/telemetry"
	"github.com/benchctl/benchctl/controller/api/v1alpha1"
	"github.com/benchctl/benchctl/reports"
)

// maxOverlap is how far an instant the controller or KWOK saw may precede
// the return of the create call that caused it (a pod's start, a workflow's
// first decision) before the two are treated as inconsistent clocks.
const maxOverlap = 50 * time.Millisecond

// Attempt is one unit of user code: a task-node attempt, a map item's
// attempt or a cache hit, with the instants of DESIGN.md:
//
//	ready     every upstream node's success was decided, in a round whose
//	          update persisted it (the end of the node.handle span)
//	launched  the pod create call returned
//	started   user code began        (from the pod's termination message)
//	finished  user code ended
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
	Launched time.Time
	Started  time.Time
	Finished time.Time
	Done     time.Time
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

// Execution is the measurement of one workflow execution.
type Execution struct {
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
	Problems []string
}

// Wall is created -> succeeded.
func (e *Execution) Wall() time.Duration { return e.Succeeded.Sub(e.Created) }

// Setup is created -> first node ready.
func (e *Execution) Setup() time.Duration { return e.FirstReady.Sub(e.Created) }

// Teardown is last node done -> workflow succeeded.
func (e *Execution) Teardown() time.Duration { return e.Succeeded.Sub(e.LastDone) }

// round is one workflow.streak span with its persisting update.
type round struct {
	span   *Span
	update *Span // nil when the round wrote nothing
	ok     bool
	index  int
}

// key identifies an attempt.
type key struct {
	node    string
	attempt int64
	item    int64
}

// Measure reconstructs one execution from its spans. created is when the
// harness's create call returned; closure gives the DAG, so that ready can
// be derived from the upstream nodes' done instants.
func Measure(spans []*Span, created time.Time, closure *v1alpha1.WorkflowClosure) (*Execution, error) {
	e := &Execution{Created: created, Infra: map[string][]time.Duration{}}
	byID := make(map[string]*Span, len(spans))
	for _, s := range spans {
		byID[s.ID] = s
	}
	// roundOf finds the workflow.streak ancestor of a span.
	roundOf := func(s *Span) *Span {
		for p := byID[s.ParentID]; p != nil; p = byID[p.ParentID] {
			if p.Name == telemetry.SpanWorkflowStreak {
				return p
			}
		}
		return nil
	}

	var rounds []*round
	roundBySpan := map[*Span]*round{}
	for _, s := range spans {
		if s.Name == telemetry.SpanWorkflowStreak {
			r := &round{span: s}
			rounds = append(rounds, r)
			roundBySpan[s] = r
		}
	}
	sort.Slice(rounds, func(i, j int) bool { return rounds[i].span.Start.Before(rounds[j].span.Start) })
	for i, r := range rounds {
		r.index = i
	}
	if len(rounds) == 0 {
		return nil, fmt.Errorf("no %s spans: the controller recorded no evaluation round for this execution", telemetry.SpanWorkflowStreak)
	}

	for _, s := range spans {
		switch s.Name {
		case telemetry.SpanWorkflowUpdate:
			r := roundBySpan[roundOf(s)]
			if r == nil {
				e.Problems = append(e.Problems, "a workflow.update span outside any round")
				continue
			}
			r.update = s
			r.ok = s.Str(telemetry.AttrUpdateResult) == telemetry.UpdateOK
			if r.ok && s.Str(telemetry.AttrWorkflowPhase) == string(v1alpha1.WorkflowSucceeded) && e.Succeeded.IsZero() {
				e.Succeeded = s.End
			}
			e.Infra[reports.InfraCRDUpdates] = append(e.Infra[reports.InfraCRDUpdates], s.Duration())
		case telemetry.SpanEventRecord:
			switch s.Str(telemetry.AttrEventKind) {
			case "workflow":
				e.Infra[reports.InfraEventsWorkflow] = append(e.Infra[reports.InfraEventsWorkflow], s.Duration())
			case "node":
				e.Infra[reports.InfraEventsNode] = append(e.Infra[reports.InfraEventsNode], s.Duration())
			case "task":
				e.Infra[reports.InfraEventsTask] = append(e.Infra[reports.InfraEventsTask], s.Duration())
			}
		case telemetry.SpanBlobRead:
			e.Infra[reports.InfraBlobReads] = append(e.Infra[reports.InfraBlobReads], s.Duration())
		case telemetry.SpanBlobWrite:
			e.Infra[reports.InfraBlobWrites] = append(e.Infra[reports.InfraBlobWrites], s.Duration())
		case telemetry.SpanCatalogGet:
			e.Infra[reports.InfraCatalogGets] = append(e.Infra[reports.InfraCatalogGets], s.Duration())
		case telemetry.SpanCatalogPut:
			e.Infra[reports.InfraCatalogPuts] = append(e.Infra[reports.InfraCatalogPuts], s.Duration())
		case telemetry.SpanPodCreate:
			e.Infra[reports.InfraPodCreates] = append(e.Infra[reports.InfraPodCreates], s.Duration())
		case telemetry.SpanWorkflowStreak:
			e.Infra[reports.InfraRounds] = append(e.Infra[reports.InfraRounds], s.Duration())
		case telemetry.SpanWorkflowHandle:
			e.Infra[reports.InfraStreaks] = append(e.Infra[reports.InfraStreaks], s.Duration())
		}
	}
	// persistedAt returns the end of the first successful update at or
	// after round r: the instant a change made in r was persisted.
	persistedAt := func(r *round) time.Time {
		for _, x := range rounds[r.index:] {
			if x.ok {
				return x.update.End
			}
		}
		return time.Time{}
	}

	// Per attempt: launch, user-code instants and the rounds that observed
	// its end; per node: the rounds that moved it to Succeeded.
	launched := map[key]time.Time{}
	ended := map[key]*Span{}
	endRounds := map[key][]*round{}
	succRounds := map[string][]*round{}
	// succAt and endAt hold, per round, the end of the node.handle that
	// decided a node's success or an attempt's end in it.
	succAt := map[*round]map[string]time.Time{}
	endAt := map[*round]map[key]time.Time{}
	nodeKind := map[string]string{}
	cached := map[string]bool{}
	attemptsOf := map[string]map[key]bool{}
	keyOf := func(s *Span) key {
		k := key{node: s.Str(telemetry.AttrNode), item: -1}
		k.attempt, _ = s.Int(telemetry.AttrAttempt)
		if it, ok := s.Int(telemetry.AttrMapItem); ok {
			k.item = it
		}
		return k
	}
	for _, s := range spans {
		switch s.Name {
		case telemetry.SpanPodCreate:
			k := keyOf(s)
			if prev, ok := launched[k]; !ok || s.End.Before(prev) {
				launched[k] = s.End
			}
		case telemetry.SpanNodeHandle:
			k := keyOf(s)
			r := roundBySpan[roundOf(s)]
			if r == nil {
				e.Problems = append(e.Problems, fmt.Sprintf("node.handle of %s outside any round", k.node))
				continue
			}
			if kind := s.Str(telemetry.AttrNodeKind); kind != "" && k.item < 0 {
				nodeKind[k.node] = kind
			}
			if _, ok := s.Int(telemetry.AttrUserFinished); ok {
				if _, seen := ended[k]; !seen {
					ended[k] = s
				}
				endRounds[k] = append(endRounds[k], r)
				if endAt[r] == nil {
					endAt[r] = map[key]time.Time{}
				}
				endAt[r][k] = s.End
				if attemptsOf[k.node] == nil {
					attemptsOf[k.node] = map[key]bool{}
				}
				attemptsOf[k.node][k] = true
			}
			if k.item < 0 && s.Bool(telemetry.AttrCached) {
				cached[k.node] = true
			}
			if k.item < 0 && s.Str(telemetry.AttrPhaseTo) == string(v1alpha1.NodeSucceeded) {
				succRounds[k.node] = append(succRounds[k.node], r)
				if succAt[r] == nil {
					succAt[r] = map[string]time.Time{}
				}
				succAt[r][k.node] = s.End
			}
		}
	}
	// persisting picks, among the rounds rs (in order) that made a change,
	// the one whose update persisted it: the first whose update succeeded,
	// else the last, when a later successful update persisted it; nil when
	// the change was never persisted.
	persisting := func(rs []*round) *round {
		for _, r := range rs {
			if r.ok {
				return r
			}
		}
		if len(rs) == 0 || persistedAt(rs[len(rs)-1]).IsZero() {
			return nil
		}
		return rs[len(rs)-1]
	}
	// A node is done when its success was decided (the end of the
	// node.handle that moved it to Succeeded) in the round whose update
	// persisted it; a success never persisted is no success. Downstream
	// nodes are ready at their upstreams' done instants.
	nodeDone := map[string]time.Time{}
	for node, rs := range succRounds {
		if r := persisting(rs); r != nil {
			nodeDone[node] = succAt[r][node]
		}
	}
	attemptDone := map[key]time.Time{}
	for k, rs := range endRounds {
		if r := persisting(rs); r != nil {
			attemptDone[k] = endAt[r][k]
		}
	}

	if _, ok := nodeDone[v1alpha1.StartNodeID]; !ok {
		return nil, fmt.Errorf("no node.handle moved %s to Succeeded in a persisted round", v1alpha1.StartNodeID)
	}
	e.FirstReady = nodeDone[v1alpha1.StartNodeID]

	tmpl := newTemplates(closure)
	// ready is the max done of the node's upstream nodes in its template.
	ready := func(path string) (time.Time, error) {
		prefix, id := splitPath(path)
		t, err := tmpl.lookup(prefix)
		if err != nil {
			return time.Time{}, err
		}
		ups := t.Connections.Upstream[id]
		if id == v1alpha1.StartNodeID {
			// A nested start node is ready when its parent was launched
			// into it: the parent node's ready.
			if prefix == "" {
				return created, nil
			}
			return time.Time{}, fmt.Errorf("no ready instant for %s", path)
		}
		var latest time.Time
		for _, u := range ups {
			d, ok := nodeDone[join(prefix, u)]
			if !ok {
				return time.Time{}, fmt.Errorf("upstream %s of %s has no persisted success", join(prefix, u), path)
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

	// Nodes and their attempts.
	var paths []string
	for p := range nodeDone {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, path := range paths {
		_, id := splitPath(path)
		if id == v1alpha1.StartNodeID || id == v1alpha1.EndNodeID {
			continue
		}
		r, err := ready(path)
		if err != nil {
			e.Problems = append(e.Problems, err.Error())
			continue
		}
		nm := NodeMeasure{Node: path, Kind: nodeKind[path], Ready: r, Done: nodeDone[path], Cached: cached[path]}
		if nm.Done.After(e.LastDone) {
			e.LastDone = nm.Done
		}
		var atts []Attempt
		switch {
		case cached[path]:
			atts = []Attempt{{Node: path, Kind: nm.Kind, Attempt: 1, Item: -1, Cached: true,
				Ready: r, Launched: r, Started: r, Finished: r, Done: nm.Done}}
		case len(attemptsOf[path]) > 0:
			atts, err = attemptsFor(path, nm, attemptsOf[path], launched, ended, attemptDone)
			if err != nil {
				e.Problems = append(e.Problems, err.Error())
				continue
			}
		}
		for _, a := range atts {
			nm.User += a.User()
			nm.Kubernetes += a.Kubernetes()
			nm.Controller += a.Controller()
			nm.Attempts++
			for name, d := range map[string]time.Duration{"user": a.User(), "kubernetes": a.Kubernetes(), "controller time": a.Controller()} {
				if d < 0 {
					e.Problems = append(e.Problems, fmt.Sprintf("%s attempt %d item %d: negative %s %v (clock skew or a missing span)", a.Node, a.Attempt, a.Item, name, d))
				}
			}
		}
		e.Attempts = append(e.Attempts, atts...)
		e.Nodes = append(e.Nodes, nm)
		e.User += nm.User
		e.Kubernetes += nm.Kubernetes
		e.Controller += nm.Controller
	}
	if e.Succeeded.IsZero() {
		e.Problems = append(e.Problems, "no persisted update set the workflow phase to Succeeded")
	}
	if e.LastDone.IsZero() {
		e.LastDone = e.FirstReady
	}
	// The controller can decide the start node before the harness's create
	// call has returned: the answer was still on its way. As with pod
	// creates, a small overlap moves created back; more is clock skew.
	if e.FirstReady.Before(e.Created) && e.Created.Sub(e.FirstReady) <= maxOverlap {
		e.Created = e.FirstReady
	}
	if e.Setup() < 0 {
		e.Problems = append(e.Problems, fmt.Sprintf("negative setup %v: the harness and controller clocks disagree", e.Setup()))
	}
	return e, nil
}

// attemptsFor builds a node's attempts. Successive attempts of a task are
// ready when the previous one was done; map items are ready when their map
// node is, or when the item whose end freed their slot was done (items wait
// for the map's own parallelism by design, and that wait is not controller
// overhead).
func attemptsFor(path string, nm NodeMeasure, keys map[key]bool, launched map[key]time.Time, ended map[key]*Span,
	attemptDone map[key]time.Time) ([]Attempt, error) {
	var ks []key
	for k := range keys {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool {
		if ks[i].item != ks[j].item {
			return ks[i].item < ks[j].item
		}
		return ks[i].attempt < ks[j].attempt
	})
	var out []Attempt
	var itemDones []time.Time
	prevDone := map[int64]time.Time{} // per item: done of its previous attempt
	for _, k := range ks {
		l, ok := launched[k]
		if !ok {
			return nil, fmt.Errorf("%s attempt %d item %d: no pod.create span", path, k.attempt, k.item)
		}
		s := ended[k]
		st, _ := s.Int(telemetry.AttrUserStarted)
		fi, _ := s.Int(telemetry.AttrUserFinished)
		d := attemptDone[k]
		if d.IsZero() {
			return nil, fmt.Errorf("%s attempt %d item %d: its end was never persisted", path, k.attempt, k.item)
		}
		kind := nm.Kind
		if k.item >= 0 {
			kind = "map-item"
		}
		a := Attempt{Node: path, Kind: kind, Attempt: int(k.attempt), Item: int(k.item),
			Ready: nm.Ready, Launched: l, Started: time.Unix(0, st), Finished: time.Unix(0, fi), Done: d}
		// On a busy host the controller can see its create call return
		// after the pod already started: the rest of that wait was the API
		// server's answer reaching the controller, so it counts as
		// Kubernetes time up to the start, and launched is the start.
		// Beyond maxOverlap it is not scheduling noise but a clock problem,
		// and the negative Kubernetes time is reported as such.
		if a.Started.Before(a.Launched) && a.Launched.Sub(a.Started) <= maxOverlap {
			a.Launched = a.Started
		}
		if pd, ok := prevDone[k.item]; ok {
			a.Ready = pd
		}
		prevDone[k.item] = d
		if k.item >= 0 && k.attempt <= 1 {
			itemDones = append(itemDones, d)
		}
		out = append(out, a)
	}
	if len(itemDones) > 0 {
		sort.Slice(itemDones, func(i, j int) bool { return itemDones[i].Before(itemDones[j]) })
		for i := range out {
			a := &out[i]
			if a.Item < 0 || a.Attempt > 1 {
				continue
			}
			// The latest item end done before this item's launch.
			j := sort.Search(len(itemDones), func(j int) bool { return !itemDones[j].Before(a.Launched) })
			if j > 0 && itemDones[j-1].After(a.Ready) {
				a.Ready = itemDones[j-1]
			}
		}
	}
	return out, nil
}

func splitPath(p string) (prefix, id string) {
	i := strings.LastIndex(p, v1alpha1.NodePathSeparator)
	if i < 0 {
		return "", p
	}
	return p[:i], p[i+1:]
}

func join(prefix, id string) string {
	if prefix == "" {
		return id
	}
	return prefix + v1alpha1.NodePathSeparator + id
}
