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
	"github.com/benchctl/benchctl/controller/config"
	"github.com/benchctl/benchctl/controller/events"
	"github.com/benchctl/benchctl/controller/obs"
	"github.com/benchctl/benchctl/controller/taskdata"
)

// evaluator is one round over one workflow. It mutates wf in place.
type evaluator struct {
	e  *Engine
	wf *v1alpha1.Workflow
	d  *dag
	// persisted holds the nodes whose success was persisted before the
	// round: only their downstream nodes are unblocked.
	persisted map[string]bool
	// maxPar bounds running pods and map items (0: unbounded); running
	// counts them.
	maxPar  int32
	running int32
	// touched nodes took their step in the observe pass; touchedItems are
	// map items that did (by node).
	touched      map[string]bool
	touchedItems map[string]map[int]bool
	failures     []string
	changed      bool
}

func (e *Engine) newEvaluator(wf *v1alpha1.Workflow) *evaluator {
	return &evaluator{e: e, wf: wf, touched: map[string]bool{},
		maxPar: e.cfg.EffectiveMaxParallelism(wf.Spec.ExecutionConfig.MaxParallelism)}
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

// dag returns the workflow's validated DAG, cached by UID; an offloaded
// closure is read from the blobstore once per controller process.
func (ev *evaluator) dag(ctx context.Context) (*dag, error) {
	if d, ok := ev.e.dags.Load(ev.wf.UID); ok {
		return d.(*dag), nil
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
	d, err := buildDAG(closure)
	if err != nil {
		return nil, err
	}
	ev.e.dags.Store(ev.wf.UID, d)
	return d, nil
}

// offload moves the closure to the blobstore when the workflow or the
// config asks for it, leaving closureRef (a key of the controller's
// blobstore) in the spec.
func (ev *evaluator) offload(ctx context.Context) error {
	wf := ev.wf
	want := ev.e.cfg.OffloadClosure
	if wf.Spec.OffloadClosure != nil {
		want = *wf.Spec.OffloadClosure
	}
	if !want || wf.Spec.Closure == nil {
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

// start is the first round: the workflow runs and its start node succeeds.
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
	d, err := ev.dag(ctx)
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
	ev.d = d
	wf.Status.Phase = v1alpha1.WorkflowRunning
	ev.workflowEvent(ctx)

	// The start node's outputs are the workflow's inputs.
	id := v1alpha1.StartNodeID
	ctx, span := ev.nodeSpan(ctx, id, v1alpha1.NodeKindStart, v1alpha1.NodeNotStarted, 0, -1)
	st := wf.Status.Nodes[id]
	inputs := taskdata.Inputs{Workflow: wf.Spec.Inputs, Item: -1}
	if err := ev.e.blobs.Write(ctx, ev.outputsKey(id, st), "outputs", inputs.Marshal()); err != nil {
		obs.End(span, err)
		return err
	}
	ev.transition(ctx, span, id, v1alpha1.NodeKindStart, &st, v1alpha1.NodeSucceeded, "")
	span.End()
	return nil
}

// run is every later round of a running workflow.
func (ev *evaluator) run(ctx context.Context) error {
	d, err := ev.dag(ctx)
	if err != nil {
		return err // validated in the first round: only a corrupted object gets here
	}
	ev.d = d
	nodes := ev.wf.Status.Nodes
	ev.persisted = make(map[string]bool, len(nodes))
	for id, st := range nodes {
		switch st.Phase {
		case v1alpha1.NodeSucceeded:
			ev.persisted[id] = true
		case v1alpha1.NodeRunning:
			if st.Map != nil {
				ev.running += int32(strings.Count(st.Map.Items, string(rune(v1alpha1.MapItemRunning))))
			} else {
				ev.running++
			}
		}
	}

	// Observe pass: completions first, so that the slots they free are
	// available to the launch pass of the same round.
	for _, id := range d.order {
		st := nodes[id]
		if st.Phase != v1alpha1.NodeRunning {
			continue
		}
		spec := d.tmpl.Nodes[id]
		var err error
		switch spec.Kind {
		case v1alpha1.NodeKindTask:
			err = ev.observeTask(ctx, id, spec, &st)
		case v1alpha1.NodeKindMap:
			err = ev.observeMap(ctx, id, spec, &st)
		}
		nodes[id] = st
		if err != nil {
			return err
		}
	}
	if len(ev.failures) > 0 {
		ev.wf.Status.Phase = v1alpha1.WorkflowFailing
		ev.wf.Status.Message = strings.Join(ev.failures, "; ")
		ev.changed = true
		ev.workflowEvent(ctx)
		return nil
	}

	// Launch pass, breadth-first.
	for _, id := range d.order {
		if ev.touched[id] || !ev.unblocked(id) {
			continue
		}
		st := nodes[id]
		spec := d.tmpl.Nodes[id]
		var err error
		switch {
		case spec.Kind == v1alpha1.NodeKindEnd && st.Phase == v1alpha1.NodeNotStarted:
			err = ev.finish(ctx, id, &st)
		case spec.Kind == v1alpha1.NodeKindTask && (st.Phase == v1alpha1.NodeNotStarted || st.Phase == v1alpha1.NodeQueued):
			err = ev.launchTask(ctx, id, spec, &st)
		case spec.Kind == v1alpha1.NodeKindMap && (st.Phase == v1alpha1.NodeNotStarted || st.Phase == v1alpha1.NodeRunning):
			err = ev.launchMap(ctx, id, spec, &st)
		}
		nodes[id] = st
		if err != nil {
			return err
		}
	}
	return nil
}

// unblocked reports whether every upstream node's success was persisted.
func (ev *evaluator) unblocked(id string) bool {
	for _, u := range ev.d.upstream[id] {
		if !ev.persisted[u] {
			return false
		}
	}
	return id != v1alpha1.StartNodeID
}

// budget reports whether one more pod or map item may run.
func (ev *evaluator) budget() bool {
	return ev.maxPar == 0 || ev.running < ev.maxPar
}

// finish runs the end node: it gathers the leaves' outputs as the
// workflow's outputs, and the workflow succeeds in the same round.
func (ev *evaluator) finish(ctx context.Context, id string, st *v1alpha1.NodeStatus) error {
	ctx, span := ev.nodeSpan(ctx, id, v1alpha1.NodeKindEnd, st.Phase, 0, -1)
	in, err := ev.gatherInputs(ctx, id, -1)
	if err == nil {
		err = ev.e.blobs.Write(ctx, ev.wf.Status.DataDir+"/outputs", "outputs", in.Marshal())
	}
	if err != nil {
		obs.End(span, err)
		return err
	}
	ev.transition(ctx, span, id, v1alpha1.NodeKindEnd, st, v1alpha1.NodeSucceeded, "")
	span.End()
	ev.wf.Status.Phase = v1alpha1.WorkflowSucceeded
	ev.wf.Status.FinishedAt = time.Now().UnixNano()
	ev.workflowEvent(ctx)
	return nil
}

// abort stops what runs after a node failed, then fails the workflow.
func (ev *evaluator) abort(ctx context.Context) error {
	d, err := ev.dag(ctx)
	if err != nil {
		return err
	}
	ev.d = d
	for _, id := range d.order {
		st := ev.wf.Status.Nodes[id]
		if st.Phase != v1alpha1.NodeRunning && st.Phase != v1alpha1.NodeQueued {
			continue
		}
		spec := d.tmpl.Nodes[id]
		nctx, span := ev.nodeSpan(ctx, id, spec.Kind, st.Phase, st.Attempts, -1)
		var names []string
		if st.Map != nil {
			retried := parseRetried(st.Map.Retried)
			for i := range len(st.Map.Items) {
				if st.Map.Items[i] == v1alpha1.MapItemRunning {
					names = append(names, PodName(ev.wf.Name, id, i, itemAttempt(retried, i)))
				}
			}
		} else if st.Phase == v1alpha1.NodeRunning {
			names = append(names, PodName(ev.wf.Name, id, -1, st.Attempts))
		}
		for _, n := range names {
			if err := ev.e.deletePod(nctx, n); err != nil {
				obs.End(span, err)
				return err
			}
		}
		ev.transition(nctx, span, id, spec.Kind, &st, v1alpha1.NodeAborted, "aborted: another node failed")
		span.End()
		ev.wf.Status.Nodes[id] = st
	}
	ev.wf.Status.Phase = v1alpha1.WorkflowFailed
	ev.wf.Status.FinishedAt = time.Now().UnixNano()
	ev.changed = true
	ev.workflowEvent(ctx)
	return nil
}

// gatherInputs reads the upstream nodes' outputs back (real I/O, through
// the cache) and describes them; item >= 0 is a map item.
func (ev *evaluator) gatherInputs(ctx context.Context, id string, item int) (taskdata.Inputs, error) {
	in := taskdata.Inputs{Item: item}
	for _, u := range ev.d.upstream[id] {
		key := ev.outputsKey(u, ev.wf.Status.Nodes[u])
		data, err := ev.e.blobs.Read(ctx, key, "inputs")
		if err != nil {
			return in, fmt.Errorf("inputs of node %s: outputs of %s: %w", id, u, err)
		}
		in.Upstream = append(in.Upstream, taskdata.Upstream{Node: u, Key: key, Bytes: int64(len(data)), SHA256: taskdata.Digest(data)})
	}
	return in, nil
}

// prepareInputs gathers a node's inputs and writes them; it returns their
// hash (the catalog key's input part and the payload seed) and key.
func (ev *evaluator) prepareInputs(ctx context.Context, id string) (hash, key string, err error) {
	in, err := ev.gatherInputs(ctx, id, -1)
	if err != nil {
		return "", "", err
	}
	key = ev.inputsKey(id)
	if err := ev.e.blobs.Write(ctx, key, "inputs", in.Marshal()); err != nil {
		return "", "", err
	}
	hash = in.Hash()
	ev.e.inputHashes.Store(ev.wf.Status.DataDir+"/"+id, hash)
	return hash, key, nil
}

// inputHash returns a node's input hash, from memory or, after a restart,
// by reading its inputs document back.
func (ev *evaluator) inputHash(ctx context.Context, id string) (string, error) {
	k := ev.wf.Status.DataDir + "/" + id
	if h, ok := ev.e.inputHashes.Load(k); ok {
		return h.(string), nil
	}
	data, err := ev.e.blobs.Read(ctx, ev.inputsKey(id), "inputs")
	if err != nil {
		return "", fmt.Errorf("inputs of node %s: %w", id, err)
	}
	var in taskdata.Inputs
	if err := unmarshalJSON(data, &in); err != nil {
		return "", fmt.Errorf("inputs of node %s: %w", id, err)
	}
	h := in.Hash()
	ev.e.inputHashes.Store(k, h)
	return h, nil
}

func (ev *evaluator) inputsKey(id string) string {
	return ev.wf.Status.DataDir + "/" + id + "/inputs"
}

// outputsKey is where a node's outputs are: per attempt, 0 for nodes that
// ran no pod (start, cached, map manifests).
func (ev *evaluator) outputsKey(id string, st v1alpha1.NodeStatus) string {
	return fmt.Sprintf("%s/%s/%d/outputs", ev.wf.Status.DataDir, id, st.Attempts)
}

func (ev *evaluator) itemOutputsKey(id string, item int, attempt int32) string {
	return fmt.Sprintf("%s/%s/%d/%d/outputs", ev.wf.Status.DataDir, id, item, attempt)
}

// nodeSpan starts a node.handle span.
func (ev *evaluator) nodeSpan(ctx context.Context, id string, kind v1alpha1.NodeKind, from v1alpha1.NodePhase, attempt int32, item int) (context.Context, trace.Span) {
	attrs := []attribute.KeyValue{
		attribute.String(telemetry.AttrNode, id),
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

// transition moves a node to phase to: span attribute, metric, event.
func (ev *evaluator) transition(ctx context.Context, span trace.Span, id string, kind v1alpha1.NodeKind, st *v1alpha1.NodeStatus, to v1alpha1.NodePhase, msg string) {
	st.Phase = to
	st.Message = msg
	ev.wf.Status.Nodes[id] = *st
	ev.changed = true
	span.SetAttributes(attribute.String(telemetry.AttrPhaseTo, phaseName(to)), attribute.Int(telemetry.AttrAttempt, int(st.Attempts)))
	ev.e.tel.Metrics.NodeTransitions.WithLabelValues(string(kind), phaseName(to)).Inc()
	ev.record(ctx, events.Event{Kind: events.KindNode, Node: id, Attempt: st.Attempts, Phase: phaseName(to), Message: msg, MapItem: -1})
}

func (ev *evaluator) workflowEvent(ctx context.Context) {
	ev.record(ctx, events.Event{Kind: events.KindWorkflow, Phase: string(ev.wf.Status.Phase), Message: ev.wf.Status.Message, MapItem: -1})
}

func (ev *evaluator) record(ctx context.Context, e events.Event) {
	e.Namespace, e.Workflow, e.UID, e.Execution = ev.wf.Namespace, ev.wf.Name, ev.wf.UID, executionID(ev.wf)
	ev.e.events.Record(ctx, e)
}

// simulated reports whether the controller writes task outputs itself.
func (ev *evaluator) simulated() bool { return ev.e.cfg.TaskOutputs == config.TaskOutputsSimulate }
