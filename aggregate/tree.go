package aggregate

import (
	"fmt"

	"github.com/benchctl/benchctl/controller/api/telemetry"
	"github.com/benchctl/benchctl/controller/api/v1alpha1"
)

// MeasureTree measures the Workflow named root and, recursively, the
// launch-plan children it created: they share its execution id, so their
// spans come with its own. A child's nodes appear under its launch-plan
// node's path ("lp0/n1"), its attempts count in the execution's sums, the
// launch-plan node sums its child's time as a map node sums its items, and
// its infrastructure operations join the execution's. Children inherit
// the parent's limits (the controller copies its executionConfig).
func MeasureTree(spans []*Span, root string, created Call, closure *v1alpha1.WorkflowClosure, limits Limits) (*Execution, error) {
	return measureTree(ByWorkflow(spans), root, created, closure, limits, 0)
}

// maxDepth bounds launch-plan recursion; the controller refuses a closure
// whose launch plan runs itself, so this only guards against bad traces.
const maxDepth = 16

func measureTree(parts map[string][]*Span, name string, created Call, closure *v1alpha1.WorkflowClosure, limits Limits, depth int) (*Execution, error) {
	e, err := Measure(parts[name], created, closure, limits)
	if err != nil || depth >= maxDepth {
		return e, err
	}
	e.Name = name
	var order []string // creation order
	for _, s := range parts[name] {
		if s.Name != telemetry.SpanWorkflowCreate {
			continue
		}
		lp, child := s.Str(telemetry.AttrNode), s.Str(telemetry.AttrChild)
		spec, err := closure.NodeAt(lp)
		if err != nil || spec.Kind != v1alpha1.NodeKindLaunchPlan {
			e.problem(incomplete("workflow.create from %s, which is not a launch-plan node", lp))
			continue
		}
		sub, err := closure.Nested(spec)
		if err != nil {
			e.problem(incomplete("launch-plan node %s: %v", lp, err))
			continue
		}
		cc := &v1alpha1.WorkflowClosure{Primary: sub, SubWorkflows: closure.SubWorkflows, Tasks: closure.Tasks}
		ce, err := measureTree(parts, child, Call{Sent: s.Start, Returned: s.End}, cc, limits, depth+1)
		if err != nil {
			e.problem(incomplete("child %s of %s: %v", child, lp, err))
			continue
		}
		e.Children[lp] = ce
		order = append(order, lp)
	}
	if len(e.Children) > 0 {
		e.gate(limits) // the children hold slots of the parent's limit too
	}
	index := map[string]int{}
	for i, n := range e.Nodes {
		index[n.Node] = i
	}
	for _, lp := range order {
		ce := e.Children[lp]
		for _, p := range ce.Problems {
			e.problem(Problem{Kind: p.Kind, Msg: fmt.Sprintf("child %s of %s: %s", ce.Name, lp, p.Msg)})
		}
		e.Clamps = append(e.Clamps, ce.Clamps...)
		for _, a := range ce.Attempts {
			a.Node = v1alpha1.JoinNodePath(lp, a.Node)
			e.Attempts = append(e.Attempts, a)
		}
		for _, n := range ce.Nodes {
			n.Node = v1alpha1.JoinNodePath(lp, n.Node)
			e.Nodes = append(e.Nodes, n)
		}
		if i, ok := index[lp]; ok {
			n := &e.Nodes[i]
			n.User += ce.User
			n.Kubernetes += ce.Kubernetes
			n.Controller += ce.Controller
			n.Attempts += len(ce.Attempts)
		}
		e.User += ce.User
		e.Kubernetes += ce.Kubernetes
		e.Controller += ce.Controller
		for k, v := range ce.Infra {
			e.Infra[k] = append(e.Infra[k], v...)
		}
	}
	return e, nil
}
