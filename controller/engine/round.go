package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/benchctl/benchctl/controller/api/telemetry"
	"github.com/benchctl/benchctl/controller/api/v1alpha1"
	"github.com/benchctl/benchctl/controller/events"
	"github.com/benchctl/benchctl/controller/obs"
	"github.com/benchctl/benchctl/controller/taskdata"
)

// evaluator is one round over one workflow. It mutates wf in place.
type evaluator struct {
	e  *Engine
	wf *v1alpha1.Workflow
	p  *plan
	// scopes are the DAGs of this round by prefix ("" = primary).
	scopes map[string]*scope
	// maxPar bounds running pods, map items and launch-plan children (0:
	// unbounded); running counts them.
	maxPar  int32
	running int32
	// touched nodes (by path) took their own step this round; touchedItems
	// are map items that did (by node path).
	touched      map[string]bool
	touchedItems map[string]map[int]bool
	// persisted holds the paths whose success was persisted before the
	// round, when rounds are not greedy: only they unblock nodes.
	persisted map[string]bool
	failures  []failure
	// launches are the pod launches deferred to the end of the pass
	// (flushLaunches).
	launches []*taskLaunch
	changed  bool
	// requeue, when positive, asks for another round after that long: a
	// launch held back by the launch-plan rate limit.
	requeue time.Duration
}

// failure is a node that failed this round, with its error.
type failure struct {
	path, msg string
}

// scope is one DAG being run: the primary DAG, a sub-workflow's, or a
// dynamic node's generated sub-DAG. Its nodes' status keys are
// prefix/<id> (v1alpha1.NodePathSeparator), prefix being the status path
// of the node that runs it ("" for the primary DAG).
type scope struct {
	prefix string
	d      *dag
}

func (s *scope) path(id string) string { return v1alpha1.JoinNodePath(s.prefix, id) }

func (e *Engine) newEvaluator(wf *v1alpha1.Workflow) *evaluator {
	ev := &evaluator{e: e, wf: wf, touched: map[string]bool{}, scopes: map[string]*scope{},
		maxPar: e.cfg.EffectiveMaxParallelism(wf.Spec.ExecutionConfig.MaxParallelism)}
	if !e.cfg.GreedyRounds {
		ev.persisted = map[string]bool{}
		for p, st := range wf.Status.Nodes {
			if st.Phase == v1alpha1.NodeSucceeded {
				ev.persisted[p] = true
			}
		}
	}
	return ev
}

func (ev *evaluator) evaluate(ctx context.Context) error {
	if ev.wf.Status.Nodes == nil {
		ev.wf.Status.Nodes = map[string]v1alpha1.NodeStatus{}
	}
	switch ev.wf.Status.Phase {
	case v1alpha1.WorkflowPending:
		return ev.start(ctx)
	case v1alpha1.WorkflowFailing:
		return ev.abort(ctx)
	case v1alpha1.WorkflowRunning:
		return ev.run(ctx)
	}
	return nil
}

// loadPlan returns the workflow's validated plan, cached by UID; an
// offloaded closure is read from the blobstore once per controller
// process.
func (ev *evaluator) loadPlan(ctx context.Context) (*plan, error) {
	if p, ok := ev.e.plans.Load(ev.wf.UID); ok {
		ev.p = p.(*plan)
		return ev.p, nil
	}
	closure := ev.wf.Spec.Closure
	if closure == nil {
		if ev.wf.Spec.ClosureRef == "" {
			return nil, fmt.Errorf("spec: neither closure nor closureRef is set")
		}
		data, err := ev.e.blobs.Read(ctx, ev.wf.Spec.ClosureRef, "closure")
		if err != nil {
			return nil, fmt.Errorf("spec.closureRef: %w", err)
		}
		closure = &v1alpha1.WorkflowClosure{}
		if err := json.Unmarshal(data, closure); err != nil {
			return nil, fmt.Errorf("spec.closureRef %s: %w", ev.wf.Spec.ClosureRef, err)
		}
	}
	p, err := buildPlan(closure)
	if err != nil {
		return nil, err
	}
	ev.e.plans.Store(ev.wf.UID, p)
	ev.p = p
	return p, nil
}

// root is the primary DAG's scope.
func (ev *evaluator) root() *scope {
	if s, ok := ev.scopes[""]; ok {
		return s
	}
	s := &scope{d: ev.p.primary}
	ev.scopes[""] = s
	return s
}

// offloadWanted reports whether the workflow's closure lives in the
// blobstore (spec.offloadClosure, else the config).
func (ev *evaluator) offloadWanted() bool {
	if o := ev.wf.Spec.OffloadClosure; o != nil {
		return *o
	}
	return ev.e.cfg.OffloadClosure
}

// offload moves the closure to the blobstore when the workflow or the
// config asks for it, leaving closureRef (a key of the controller's
// blobstore) in the spec.
func (ev *evaluator) offload(ctx context.Context) error {
	wf := ev.wf
	if !ev.offloadWanted() || wf.Spec.Closure == nil {
		return nil
	}
	data, err := json.Marshal(wf.Spec.Closure)
	if err != nil {
		return fmt.Errorf("encode closure: %w", err)
	}
	key := wf.Status.DataDir + "/closure"
	if err := ev.e.blobs.Write(ctx, key, "closure", data); err != nil {
		return err
	}
	wf.Spec.ClosureRef, wf.Spec.Closure = key, nil
	return nil
}

// start is the first round: the workflow runs, its start node succeeds,
// and (greedy rounds) the nodes that unblocks launch in the same round.
func (ev *evaluator) start(ctx context.Context) error {
	wf := ev.wf
	now := time.Now()
	wf.Status.StartedAt = now.UnixNano()
	ev.changed = true
	uid := string(wf.UID)
	if len(uid) > 8 {
		uid = uid[:8]
	}
	wf.Status.DataDir = fmt.Sprintf("executions/%s/%s-%s", wf.Namespace, wf.Name, uid)
	_, err := ev.loadPlan(ctx)
	if err == nil {
		err = ev.offload(ctx)
	}
	if err != nil {
		wf.Status.Phase = v1alpha1.WorkflowFailed
		wf.Status.FinishedAt = now.UnixNano()
		wf.Status.Message = err.Error()
		ev.workflowEvent(ctx)
		return nil
	}
	wf.Status.Phase = v1alpha1.WorkflowRunning
	ev.workflowEvent(ctx)

	// The start node's outputs are the workflow's inputs.
	id := v1alpha1.StartNodeID
	nctx, span := ev.nodeSpan(ctx, id, v1alpha1.NodeKindStart, v1alpha1.NodeNotStarted, 0, -1)
	st := wf.Status.Nodes[id]
	inputs := taskdata.Inputs{Workflow: wf.Spec.Inputs, Item: -1}
	if err := ev.e.blobs.Write(nctx, ev.outputsKey(id, st), "outputs", inputs.Marshal()); err != nil {
		obs.End(span, err)
		return err
	}
	ev.transition(nctx, span, id, v1alpha1.NodeKindStart, &st, v1alpha1.NodeSucceeded, "")
	span.End()

	if err := ev.launchPass(ctx, ev.root()); err != nil {
		return err
	}
	ev.checkFailures(ctx)
	return nil
}

// run is every later round of a running workflow: completions are
// observed first, everywhere, so that the slots they free serve the
// launches of the same round; then one breadth-first pass over the DAG
// (and, recursively, the sub-DAGs of running dynamic and sub-workflow
// nodes) takes every unblocked node's step. With greedyRounds a node's
// success unblocks its downstream nodes within the same pass, so a chain
// advances one node per round and one update persists both the success and
// the next launch.
func (ev *evaluator) run(ctx context.Context) error {
	if _, err := ev.loadPlan(ctx); err != nil {
		return err // validated in the first round: only a corrupted object gets here
	}
	root := ev.root()
	if err := ev.count(ctx, root); err != nil {
		return err
	}
	if err := ev.observe(ctx, root); err != nil {
		return err
	}
	if ev.checkFailures(ctx) {
		return nil
	}
	if err := ev.launchPass(ctx, root); err != nil {
		return err
	}
	ev.checkFailures(ctx)
	return nil
}

// launchPass is a round's launch pass over the DAG from s, then the pod
// launches it deferred.
func (ev *evaluator) launchPass(ctx context.Context, s *scope) error {
	if err := ev.launch(ctx, s); err != nil {
		// The round fails and persists nothing: create no pod for it.
		for _, l := range ev.launches {
			if l.span != nil {
				obs.End(l.span, err)
			}
		}
		ev.launches = nil
		return err
	}
	return ev.flushLaunches(ctx)
}

// count adds up what runs against maxParallelism: task pods (task nodes,
// generators of dynamic nodes), map items and launch-plan children, at
// every nesting depth. Dynamic nodes running their sub-DAG and
// sub-workflow nodes do not count themselves, as in FlytePropeller.
func (ev *evaluator) count(ctx context.Context, s *scope) error {
	nodes := ev.wf.Status.Nodes
	for _, id := range s.d.order {
		st := nodes[s.path(id)]
		if st.Phase != v1alpha1.NodeRunning {
			continue
		}
		spec := s.d.tmpl.Nodes[id]
		switch spec.Kind {
		case v1alpha1.NodeKindTask, v1alpha1.NodeKindLaunchPlan:
			ev.running++
		case v1alpha1.NodeKindMap:
			if st.Map != nil {
				ev.running += int32(strings.Count(st.Map.Items, string(rune(v1alpha1.MapItemRunning))))
			}
		case v1alpha1.NodeKindDynamic, v1alpha1.NodeKindSubWorkflow:
			if spec.Kind == v1alpha1.NodeKindDynamic && st.DynamicRef == "" {
				ev.running++ // the generator's pod
				continue
			}
			sub, err := ev.subScope(ctx, s, id, spec, st)
			if err != nil {
				return err
			}
			if err := ev.count(ctx, sub); err != nil {
				return err
			}
		}
	}
	return nil
}

// observe takes the observe step of every running node of s, recursing
// into running sub-DAGs: a pod's end (task, map item, generator), a
// child's end (launch plan).
func (ev *evaluator) observe(ctx context.Context, s *scope) error {
	nodes := ev.wf.Status.Nodes
	for _, id := range s.d.order {
		path := s.path(id)
		st := nodes[path]
		if st.Phase != v1alpha1.NodeRunning {
			continue
		}
		spec := s.d.tmpl.Nodes[id]
		var err error
		switch spec.Kind {
		case v1alpha1.NodeKindTask:
			err = ev.observeTask(ctx, s, id, spec, &st)
		case v1alpha1.NodeKindMap:
			err = ev.observeMap(ctx, s, id, spec, &st)
		case v1alpha1.NodeKindLaunchPlan:
			err = ev.observeChild(ctx, s, id, spec, &st)
		case v1alpha1.NodeKindDynamic, v1alpha1.NodeKindSubWorkflow:
			if spec.Kind == v1alpha1.NodeKindDynamic && st.DynamicRef == "" {
				err = ev.observeTask(ctx, s, id, spec, &st) // the generator
				break
			}
			sub, serr := ev.subScope(ctx, s, id, spec, st)
			if serr != nil {
				return serr
			}
			if err := ev.observe(ctx, sub); err != nil {
				return err
			}
			continue // the node's own status did not change
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// launch takes, breadth-first, the step of every node of s whose upstream
// nodes have succeeded (in this round or before), recursing into the
// sub-DAGs of running dynamic and sub-workflow nodes as it reaches them.
func (ev *evaluator) launch(ctx context.Context, s *scope) error {
	nodes := ev.wf.Status.Nodes
	for _, id := range s.d.order {
		if len(ev.failures) > 0 {
			return nil // the workflow fails: start nothing more
		}
		path := s.path(id)
		st := nodes[path]
		spec := s.d.tmpl.Nodes[id]
		if st.Phase.IsTerminal() {
			continue
		}
		if st.Phase == v1alpha1.NodeRunning && hasSubDAG(spec, st) {
			if err := ev.advance(ctx, s, id, spec); err != nil {
				return err
			}
			continue
		}
		if ev.touched[path] || !ev.unblocked(s, id) {
			continue
		}
		var err error
		switch {
		case spec.Kind == v1alpha1.NodeKindStart && st.Phase == v1alpha1.NodeNotStarted:
			err = ev.startNested(ctx, s, id, &st)
		case spec.Kind == v1alpha1.NodeKindEnd && st.Phase == v1alpha1.NodeNotStarted:
			err = ev.finish(ctx, s, id, &st)
		case (spec.Kind == v1alpha1.NodeKindTask || spec.Kind == v1alpha1.NodeKindDynamic) &&
			(st.Phase == v1alpha1.NodeNotStarted || st.Phase == v1alpha1.NodeQueued):
			err = ev.launchTask(ctx, s, id, spec, &st)
		case spec.Kind == v1alpha1.NodeKindMap && (st.Phase == v1alpha1.NodeNotStarted || st.Phase == v1alpha1.NodeRunning):
			err = ev.launchMap(ctx, s, id, spec, &st)
		case spec.Kind == v1alpha1.NodeKindSubWorkflow && st.Phase == v1alpha1.NodeNotStarted:
			if err = ev.startSubWorkflow(ctx, s, id, spec, &st); err == nil && st.Phase == v1alpha1.NodeRunning {
				err = ev.advance(ctx, s, id, spec)
			}
		case spec.Kind == v1alpha1.NodeKindLaunchPlan && st.Phase == v1alpha1.NodeNotStarted:
			err = ev.launchChild(ctx, s, id, spec, &st)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// hasSubDAG reports whether a running node is executing a sub-DAG.
func hasSubDAG(spec v1alpha1.NodeSpec, st v1alpha1.NodeStatus) bool {
	return spec.Kind == v1alpha1.NodeKindSubWorkflow || spec.Kind == v1alpha1.NodeKindDynamic && st.DynamicRef != ""
}

// advance runs the launch pass of a running node's sub-DAG and, once the
// sub-DAG's end node has succeeded, the node succeeds in the same round.
func (ev *evaluator) advance(ctx context.Context, s *scope, id string, spec v1alpha1.NodeSpec) error {
	path := s.path(id)
	st := ev.wf.Status.Nodes[path]
	sub, err := ev.subScope(ctx, s, id, spec, st)
	if err != nil {
		return err
	}
	if err := ev.launch(ctx, sub); err != nil {
		return err
	}
	if ev.wf.Status.Nodes[sub.path(v1alpha1.EndNodeID)].Phase != v1alpha1.NodeSucceeded {
		return nil
	}
	st = ev.wf.Status.Nodes[path]
	nctx, span := ev.nodeSpan(ctx, path, spec.Kind, st.Phase, st.Attempts, -1)
	ev.transition(nctx, span, path, spec.Kind, &st, v1alpha1.NodeSucceeded, "")
	span.End()
	return nil
}

// subScope returns the scope of the sub-DAG that node id of s runs: a
// sub-workflow's, or a dynamic node's (read back from the blobstore at
// status dynamicRef after a restart).
func (ev *evaluator) subScope(ctx context.Context, s *scope, id string, spec v1alpha1.NodeSpec, st v1alpha1.NodeStatus) (*scope, error) {
	path := s.path(id)
	if sc, ok := ev.scopes[path]; ok {
		return sc, nil
	}
	var d *dag
	switch spec.Kind {
	case v1alpha1.NodeKindSubWorkflow:
		d = ev.p.subs[spec.SubWorkflow]
	case v1alpha1.NodeKindDynamic:
		if d = ev.p.dynamicDAG(path, st.DynamicRef); d == nil {
			var err error
			if d, err = ev.readSubDAG(ctx, path, st.DynamicRef); err != nil {
				return nil, fmt.Errorf("node %s: %w", path, err)
			}
		}
	}
	if d == nil {
		return nil, fmt.Errorf("node %s (%s) has no sub-DAG", path, spec.Kind)
	}
	sc := &scope{prefix: path, d: d}
	ev.scopes[path] = sc
	return sc, nil
}

// specAt returns the spec of the node at a status path whose scope this
// round has already resolved.
func (ev *evaluator) specAt(path string) (v1alpha1.NodeSpec, bool) {
	prefix, id := v1alpha1.SplitNodePath(path)
	s, ok := ev.scopes[prefix]
	if !ok {
		return v1alpha1.NodeSpec{}, false
	}
	n, ok := s.d.tmpl.Nodes[id]
	return n, ok
}

// fail records that the node at path failed; the workflow fails at the end
// of the observe or launch pass.
func (ev *evaluator) fail(path, msg string) {
	ev.failures = append(ev.failures, failure{path: path, msg: msg})
}

// checkFailures moves the workflow to Failing when a node failed this
// round, with every failed node's error in its message, and fails the
// running nodes that hold a failed node (a dynamic or sub-workflow node
// whose sub-DAG failed). It reports whether the workflow is failing.
func (ev *evaluator) checkFailures(ctx context.Context) bool {
	if len(ev.failures) == 0 {
		return false
	}
	msgs := make([]string, 0, len(ev.failures))
	for _, f := range ev.failures {
		msgs = append(msgs, fmt.Sprintf("node %s: %s", f.path, f.msg))
		for p, _ := v1alpha1.SplitNodePath(f.path); p != ""; p, _ = v1alpha1.SplitNodePath(p) {
			st := ev.wf.Status.Nodes[p]
			spec, ok := ev.specAt(p)
			if !ok || st.Phase.IsTerminal() {
				break
			}
			nctx, span := ev.nodeSpan(ctx, p, spec.Kind, st.Phase, st.Attempts, -1)
			ev.transition(nctx, span, p, spec.Kind, &st, v1alpha1.NodeFailed, fmt.Sprintf("node %s failed: %s", f.path, f.msg))
			span.End()
		}
	}
	ev.wf.Status.Phase = v1alpha1.WorkflowFailing
	ev.wf.Status.Message = strings.Join(msgs, "; ")
	ev.changed = true
	ev.workflowEvent(ctx)
	return true
}

// unblocked reports whether every upstream node of id in s has succeeded
// (greedy rounds: in this round or before; else: persisted before this
// round). A nested start node has none: it runs as soon as its scope does.
func (ev *evaluator) unblocked(s *scope, id string) bool {
	ups := s.d.upstream[id]
	if len(ups) == 0 {
		return id == v1alpha1.StartNodeID && s.prefix != ""
	}
	for _, u := range ups {
		p := s.path(u)
		if ev.persisted != nil && !ev.persisted[p] || ev.wf.Status.Nodes[p].Phase != v1alpha1.NodeSucceeded {
			return false
		}
	}
	return true
}

// budget reports whether one more pod, map item or child may run.
func (ev *evaluator) budget() bool {
	return ev.maxPar == 0 || ev.running < ev.maxPar
}

// startNested runs a sub-DAG's start node: its outputs are the inputs of
// the node that runs the sub-DAG, read back from the blobstore.
func (ev *evaluator) startNested(ctx context.Context, s *scope, id string, st *v1alpha1.NodeStatus) error {
	path := s.path(id)
	ctx, span := ev.nodeSpan(ctx, path, v1alpha1.NodeKindStart, st.Phase, 0, -1)
	data, err := ev.e.blobs.Read(ctx, ev.inputsKey(s.prefix), "inputs")
	if err == nil {
		err = ev.e.blobs.Write(ctx, ev.outputsKey(path, *st), "outputs", data)
	}
	if err != nil {
		err = fmt.Errorf("start node %s: %w", path, err)
		obs.End(span, err)
		return err
	}
	ev.transition(ctx, span, path, v1alpha1.NodeKindStart, st, v1alpha1.NodeSucceeded, "")
	span.End()
	return nil
}

// finish runs an end node: it gathers its upstream nodes' outputs as the
// DAG's outputs. The primary DAG's end makes the workflow succeed in the
// same round; a nested end node's outputs are its parent node's.
func (ev *evaluator) finish(ctx context.Context, s *scope, id string, st *v1alpha1.NodeStatus) error {
	path := s.path(id)
	ctx, span := ev.nodeSpan(ctx, path, v1alpha1.NodeKindEnd, st.Phase, 0, -1)
	key := ev.wf.Status.DataDir + "/outputs"
	if s.prefix != "" {
		key = ev.outputsKey(path, *st)
	}
	in, err := ev.gatherInputs(ctx, s, id, -1)
	if err == nil {
		err = ev.e.blobs.Write(ctx, key, "outputs", in.Marshal())
	}
	if err != nil {
		obs.End(span, err)
		return err
	}
	ev.transition(ctx, span, path, v1alpha1.NodeKindEnd, st, v1alpha1.NodeSucceeded, "")
	span.End()
	if s.prefix == "" {
		ev.wf.Status.Phase = v1alpha1.WorkflowSucceeded
		ev.wf.Status.FinishedAt = time.Now().UnixNano()
		ev.workflowEvent(ctx)
	}
	return nil
}

// abort stops what runs after a node failed (pods, children, at every
// depth), then fails the workflow.
func (ev *evaluator) abort(ctx context.Context) error {
	if _, err := ev.loadPlan(ctx); err != nil {
		return err
	}
	if err := ev.abortScope(ctx, ev.root()); err != nil {
		return err
	}
	ev.wf.Status.Phase = v1alpha1.WorkflowFailed
	ev.wf.Status.FinishedAt = time.Now().UnixNano()
	ev.changed = true
	ev.workflowEvent(ctx)
	return nil
}

func (ev *evaluator) abortScope(ctx context.Context, s *scope) error {
	for _, id := range s.d.order {
		path := s.path(id)
		st := ev.wf.Status.Nodes[path]
		spec := s.d.tmpl.Nodes[id]
		// A failed parent's sub-DAG may still run siblings of the node
		// that failed.
		if hasSubDAG(spec, st) && st.Phase != v1alpha1.NodeNotStarted && st.Phase != v1alpha1.NodeSucceeded {
			sub, err := ev.subScope(ctx, s, id, spec, st)
			if err != nil {
				return err
			}
			if err := ev.abortScope(ctx, sub); err != nil {
				return err
			}
		}
		if st.Phase != v1alpha1.NodeRunning && st.Phase != v1alpha1.NodeQueued {
			continue
		}
		nctx, span := ev.nodeSpan(ctx, path, spec.Kind, st.Phase, st.Attempts, -1)
		var pods []string
		switch {
		case st.Phase != v1alpha1.NodeRunning:
		case st.Map != nil:
			retried := parseRetried(st.Map.Retried)
			for i := range len(st.Map.Items) {
				if st.Map.Items[i] == v1alpha1.MapItemRunning {
					pods = append(pods, PodName(ev.wf.Name, path, i, itemAttempt(retried, i)))
				}
			}
		case spec.Kind == v1alpha1.NodeKindTask || spec.Kind == v1alpha1.NodeKindDynamic && st.DynamicRef == "":
			pods = append(pods, PodName(ev.wf.Name, path, -1, st.Attempts))
		case spec.Kind == v1alpha1.NodeKindLaunchPlan && st.Child != "":
			if err := ev.e.deleteChild(nctx, ev.wf.Namespace, st.Child); err != nil {
				obs.End(span, err)
				return err
			}
		}
		for _, n := range pods {
			if err := ev.e.deletePod(nctx, n); err != nil {
				obs.End(span, err)
				return err
			}
		}
		ev.transition(nctx, span, path, spec.Kind, &st, v1alpha1.NodeAborted, "aborted: another node failed")
		span.End()
	}
	return nil
}

// gatherInputs reads the outputs of node id's upstream nodes in s back
// (real I/O, through the cache) and describes them; item >= 0 is a map
// item.
func (ev *evaluator) gatherInputs(ctx context.Context, s *scope, id string, item int) (taskdata.Inputs, error) {
	in := taskdata.Inputs{Item: item}
	for _, u := range s.d.upstream[id] {
		key := ev.outputsOf(s, u)
		data, err := ev.e.blobs.Read(ctx, key, "inputs")
		if err != nil {
			return in, fmt.Errorf("inputs of node %s: outputs of %s: %w", s.path(id), s.path(u), err)
		}
		in.Upstream = append(in.Upstream, taskdata.Upstream{Node: u, Key: key, Bytes: int64(len(data)), SHA256: taskdata.Digest(data)})
	}
	return in, nil
}

// outputsOf is where node id of s keeps its outputs: a dynamic or
// sub-workflow node's are its sub-DAG's end node's; a launch-plan node's
// are the copy of its child's; a task's are its successful attempt's.
func (ev *evaluator) outputsOf(s *scope, id string) string {
	path := s.path(id)
	switch s.d.tmpl.Nodes[id].Kind {
	case v1alpha1.NodeKindDynamic, v1alpha1.NodeKindSubWorkflow:
		return ev.outputsKey(v1alpha1.JoinNodePath(path, v1alpha1.EndNodeID), v1alpha1.NodeStatus{})
	}
	return ev.outputsKey(path, ev.wf.Status.Nodes[path])
}

// prepareInputs gathers a node's inputs and writes them; it returns their
// hash (the catalog key's input part and the payload seed) and key.
func (ev *evaluator) prepareInputs(ctx context.Context, s *scope, id string) (hash, key string, err error) {
	in, err := ev.gatherInputs(ctx, s, id, -1)
	if err != nil {
		return "", "", err
	}
	path := s.path(id)
	key = ev.inputsKey(path)
	if err := ev.e.blobs.Write(ctx, key, "inputs", in.Marshal()); err != nil {
		return "", "", err
	}
	hash = in.Hash()
	ev.e.inputHashes.Store(ev.wf.Status.DataDir+"/"+path, hash)
	return hash, key, nil
}

// inputHash returns a node's input hash, from memory or, after a restart,
// by reading its inputs document back.
func (ev *evaluator) inputHash(ctx context.Context, path string) (string, error) {
	k := ev.wf.Status.DataDir + "/" + path
	if h, ok := ev.e.inputHashes.Load(k); ok {
		return h.(string), nil
	}
	data, err := ev.e.blobs.Read(ctx, ev.inputsKey(path), "inputs")
	if err != nil {
		return "", fmt.Errorf("inputs of node %s: %w", path, err)
	}
	var in taskdata.Inputs
	if err := unmarshalJSON(data, &in); err != nil {
		return "", fmt.Errorf("inputs of node %s: %w", path, err)
	}
	h := in.Hash()
	ev.e.inputHashes.Store(k, h)
	return h, nil
}

func (ev *evaluator) inputsKey(path string) string {
	return ev.wf.Status.DataDir + "/" + path + "/inputs"
}

// outputsKey is where a node's outputs are: per attempt, 0 for nodes that
// ran no pod (start, end, cached, map manifests, launch-plan copies).
func (ev *evaluator) outputsKey(path string, st v1alpha1.NodeStatus) string {
	return fmt.Sprintf("%s/%s/%d/outputs", ev.wf.Status.DataDir, path, st.Attempts)
}

func (ev *evaluator) itemOutputsKey(path string, item int, attempt int32) string {
	return fmt.Sprintf("%s/%s/%d/%d/outputs", ev.wf.Status.DataDir, path, item, attempt)
}

// dynamicKey is where a dynamic node's generator attempt writes its
// sub-DAG.
func (ev *evaluator) dynamicKey(path string, attempt int32) string {
	return fmt.Sprintf("%s/%s/%d/subdag", ev.wf.Status.DataDir, path, attempt)
}

// nodeSpan starts a node.handle span for the node at path.
func (ev *evaluator) nodeSpan(ctx context.Context, path string, kind v1alpha1.NodeKind, from v1alpha1.NodePhase, attempt int32, item int) (context.Context, trace.Span) {
	attrs := []attribute.KeyValue{
		attribute.String(telemetry.AttrNode, path),
		attribute.String(telemetry.AttrNodeKind, string(kind)),
		attribute.String(telemetry.AttrPhaseFrom, phaseName(from)),
		attribute.Int(telemetry.AttrAttempt, int(attempt)),
	}
	if item >= 0 {
		attrs = append(attrs, attribute.Int(telemetry.AttrMapItem, item))
	}
	return ev.e.tel.Start(ctx, telemetry.SpanNodeHandle, attrs...)
}

// phaseName renders a node phase for spans; the empty phase is NotStarted.
func phaseName(p v1alpha1.NodePhase) string {
	if p == v1alpha1.NodeNotStarted {
		return "NotStarted"
	}
	return string(p)
}

// transition moves the node at path to phase to: span attribute, metric,
// event.
func (ev *evaluator) transition(ctx context.Context, span trace.Span, path string, kind v1alpha1.NodeKind, st *v1alpha1.NodeStatus, to v1alpha1.NodePhase, msg string) {
	ev.transitionAt(ctx, span, path, kind, st, to, msg, time.Time{})
}

// transitionAt is transition with the instant the event reports (zero:
// now). A launch reports the pod create's return, the instant the node
// started running.
func (ev *evaluator) transitionAt(ctx context.Context, span trace.Span, path string, kind v1alpha1.NodeKind, st *v1alpha1.NodeStatus, to v1alpha1.NodePhase, msg string, at time.Time) {
	st.Phase = to
	st.Message = msg
	ev.wf.Status.Nodes[path] = *st
	ev.changed = true
	span.SetAttributes(attribute.String(telemetry.AttrPhaseTo, phaseName(to)), attribute.Int(telemetry.AttrAttempt, int(st.Attempts)))
	ev.e.tel.Metrics.NodeTransitions.WithLabelValues(string(kind), phaseName(to)).Inc()
	phase := phaseName(to)
	if to == v1alpha1.NodeQueued && st.Attempts > 0 {
		// The attempt failed and the node waits for its next one: the
		// event ends this attempt (a phase event consumers may not see
		// go backwards from Running to Queued).
		phase = events.PhaseRetryableFailure
	}
	ev.record(ctx, events.Event{Kind: events.KindNode, Time: at, Node: path, Attempt: st.Attempts, Phase: phase, Message: msg, MapItem: -1})
}

func (ev *evaluator) workflowEvent(ctx context.Context) {
	ev.record(ctx, events.Event{Kind: events.KindWorkflow, Phase: string(ev.wf.Status.Phase), Message: ev.wf.Status.Message, MapItem: -1})
}

func (ev *evaluator) record(ctx context.Context, e events.Event) {
	e.Namespace, e.Workflow, e.UID, e.Execution = ev.wf.Namespace, ev.wf.Name, ev.wf.UID, executionID(ev.wf)
	ev.e.events.Record(ctx, e)
}
