package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/benchctl/benchctl/controller/api/telemetry"
	"github.com/benchctl/benchctl/controller/api/v1alpha1"
	"github.com/benchctl/benchctl/controller/blobstore"
)

// Dynamic nodes. A dynamic node first runs its generator task, one pod per
// attempt, as the node's own attempts (retries included). The generator
// writes the sub-DAG (v1alpha1.ExpandDynamic of the node's spec: benchtask
// in real pods, the controller when outputs are simulated) next to its
// outputs. When the generator's pod ends, the controller reads the sub-DAG
// back, validates it against the closure, records its key in the node's
// status (dynamicRef) and keeps it in memory; the node stays Running while
// its sub-DAG runs inside the workflow, under status paths <node>/<id>,
// starting in the same round. Nested dynamic nodes do the same one level
// down. The node succeeds in the round its sub-DAG's end node does; its
// outputs are that end node's.

// generated takes the step of a dynamic node whose generator succeeded:
// read, validate and record its sub-DAG. The node stays Running (the span's
// phase.to says so) and no phase transition is counted. An invalid sub-DAG
// fails the node: rerunning the same generator cannot fix it.
func (ev *evaluator) generated(ctx context.Context, span trace.Span, path string, gen *generator, st *v1alpha1.NodeStatus) error {
	_, err := ev.readSubDAG(ctx, path, gen.key)
	var invalid invalidSubDAG
	switch {
	case errors.As(err, &invalid):
		msg := fmt.Sprintf("attempt %d: %v", st.Attempts, err)
		ev.fail(path, msg)
		ev.transition(ctx, span, path, v1alpha1.NodeKindDynamic, st, v1alpha1.NodeFailed, msg)
		return nil
	case err != nil:
		return fmt.Errorf("node %s: %w", path, err)
	}
	st.DynamicRef = gen.key
	st.Message = ""
	ev.wf.Status.Nodes[path] = *st
	ev.changed = true
	span.SetAttributes(attribute.String(telemetry.AttrPhaseTo, phaseName(st.Phase)), attribute.Int(telemetry.AttrAttempt, int(st.Attempts)))
	return nil
}

// invalidSubDAG is a sub-DAG that cannot run.
type invalidSubDAG struct{ error }

// readSubDAG reads the sub-DAG at key, validates it and caches it in the
// plan under path.
func (ev *evaluator) readSubDAG(ctx context.Context, path, key string) (*dag, error) {
	if d := ev.p.dynamicDAG(path, key); d != nil {
		return d, nil
	}
	data, err := ev.e.blobs.Read(ctx, key, "dynamic")
	if errors.Is(err, blobstore.ErrNotFound) {
		return nil, invalidSubDAG{fmt.Errorf("the generator wrote no sub-DAG to %s", key)}
	}
	if err != nil {
		return nil, fmt.Errorf("read sub-DAG: %w", err)
	}
	t := &v1alpha1.WorkflowTemplate{}
	if err := json.Unmarshal(data, t); err != nil {
		return nil, invalidSubDAG{fmt.Errorf("sub-DAG %s: %w", key, err)}
	}
	d, err := compileTemplate(ev.p.closure, t, "sub-DAG "+key)
	if err != nil {
		return nil, invalidSubDAG{err}
	}
	ev.p.setDynamic(path, key, d)
	return d, nil
}
