package engine

import (
	"context"

	"github.com/benchctl/benchctl/controller/api/v1alpha1"
	"github.com/benchctl/benchctl/controller/obs"
)

// Sub-workflow nodes run a DAG of the closure's subWorkflows inline, under
// status paths <node>/<id>, with their own start and end nodes. Data goes
// in and out through the blobstore: the node writes its inputs document,
// its start node copies that document to its own outputs, and the node's
// outputs are its end node's. Like FlytePropeller, a sub-workflow node does
// not count against maxParallelism; the nodes inside it do.

// startSubWorkflow takes a sub-workflow node's first step: its inputs are
// written and it runs; its sub-DAG starts in the same round.
func (ev *evaluator) startSubWorkflow(ctx context.Context, s *scope, id string, spec v1alpha1.NodeSpec, st *v1alpha1.NodeStatus) error {
	path := s.path(id)
	ctx, span := ev.nodeSpan(ctx, path, spec.Kind, st.Phase, st.Attempts, -1)
	if _, _, err := ev.prepareInputs(ctx, s, id); err != nil {
		obs.End(span, err)
		return err
	}
	ev.transition(ctx, span, path, spec.Kind, st, v1alpha1.NodeRunning, "")
	span.End()
	return nil
}
