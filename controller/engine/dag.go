package engine

import (
	"fmt"
	"slices"

	"github.com/benchctl/benchctl/controller/api/v1alpha1"
)

// dag is a validated workflow template with its breadth-first order.
type dag struct {
	closure  *v1alpha1.WorkflowClosure
	tmpl     *v1alpha1.WorkflowTemplate
	order    []string // breadth-first from the start node, every node once
	upstream map[string][]string
}

// buildDAG validates the closure's primary template and orders its nodes.
func buildDAG(c *v1alpha1.WorkflowClosure) (*dag, error) {
	t := &c.Primary
	for _, id := range []string{v1alpha1.StartNodeID, v1alpha1.EndNodeID} {
		n, ok := t.Nodes[id]
		want := v1alpha1.NodeKindStart
		if id == v1alpha1.EndNodeID {
			want = v1alpha1.NodeKindEnd
		}
		if !ok || n.Kind != want {
			return nil, fmt.Errorf("spec.closure.primary.nodes: needs node %q of kind %s", id, want)
		}
	}
	ids := make([]string, 0, len(t.Nodes))
	for id := range t.Nodes {
		ids = append(ids, id)
	}
	slices.Sort(ids) // deterministic validation errors and order
	for _, id := range ids {
		n := t.Nodes[id]
		field := fmt.Sprintf("spec.closure.primary.nodes[%s]", id)
		switch n.Kind {
		case v1alpha1.NodeKindStart, v1alpha1.NodeKindEnd:
			if id != v1alpha1.StartNodeID && id != v1alpha1.EndNodeID {
				return nil, fmt.Errorf("%s: kind %s is reserved for node %q", field, n.Kind, map[v1alpha1.NodeKind]string{
					v1alpha1.NodeKindStart: v1alpha1.StartNodeID, v1alpha1.NodeKindEnd: v1alpha1.EndNodeID}[n.Kind])
			}
		case v1alpha1.NodeKindTask, v1alpha1.NodeKindMap:
			if _, ok := c.Tasks[n.Task]; !ok {
				return nil, fmt.Errorf("%s.task: no task %q in spec.closure.tasks", field, n.Task)
			}
			if n.Kind == v1alpha1.NodeKindMap && (n.Map == nil || n.Map.Size < 1) {
				return nil, fmt.Errorf("%s.map: a map node needs map.size >= 1", field)
			}
			if n.Kind == v1alpha1.NodeKindMap && n.Map.MinSuccessRatio != nil {
				if r := n.Map.MinSuccessRatio.AsApproximateFloat64(); r < 0 || r > 1 {
					return nil, fmt.Errorf("%s.map.minSuccessRatio: must be within [0, 1], got %v", field, r)
				}
			}
		case v1alpha1.NodeKindDynamic, v1alpha1.NodeKindSubWorkflow, v1alpha1.NodeKindLaunchPlan:
			return nil, fmt.Errorf("%s: node kind %s is not supported by this controller version", field, n.Kind)
		default:
			return nil, fmt.Errorf("%s.kind: unknown kind %q", field, n.Kind)
		}
	}
	for _, dir := range []struct {
		name  string
		edges map[string][]string
		other map[string][]string
	}{
		{"downstream", t.Connections.Downstream, t.Connections.Upstream},
		{"upstream", t.Connections.Upstream, t.Connections.Downstream},
	} {
		for from, tos := range dir.edges {
			if _, ok := t.Nodes[from]; !ok {
				return nil, fmt.Errorf("spec.closure.primary.connections.%s: unknown node %q", dir.name, from)
			}
			for _, to := range tos {
				if _, ok := t.Nodes[to]; !ok {
					return nil, fmt.Errorf("spec.closure.primary.connections.%s[%s]: unknown node %q", dir.name, from, to)
				}
				if !slices.Contains(dir.other[to], from) {
					return nil, fmt.Errorf("spec.closure.primary.connections: edge %s %s %s has no reverse edge", from, dir.name, to)
				}
			}
		}
	}
	// Breadth-first from the start node; Kahn's algorithm also proves the
	// graph acyclic and every node reachable.
	d := &dag{closure: c, tmpl: t, upstream: t.Connections.Upstream}
	indeg := map[string]int{}
	for _, id := range ids {
		indeg[id] = len(t.Connections.Upstream[id])
	}
	if indeg[v1alpha1.StartNodeID] != 0 {
		return nil, fmt.Errorf("spec.closure.primary.connections.upstream[%s]: the start node cannot have upstream nodes", v1alpha1.StartNodeID)
	}
	queue := []string{v1alpha1.StartNodeID}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		d.order = append(d.order, id)
		for _, next := range t.Connections.Downstream[id] {
			indeg[next]--
			if indeg[next] == 0 {
				queue = append(queue, next)
			}
		}
	}
	if len(d.order) != len(t.Nodes) {
		var stuck []string
		for _, id := range ids {
			if !slices.Contains(d.order, id) {
				stuck = append(stuck, id)
			}
		}
		return nil, fmt.Errorf("spec.closure.primary: nodes %v are on a cycle or not reachable from %s", stuck, v1alpha1.StartNodeID)
	}
	if len(t.Connections.Downstream[v1alpha1.EndNodeID]) > 0 {
		return nil, fmt.Errorf("spec.closure.primary.connections.downstream[%s]: the end node cannot have downstream nodes", v1alpha1.EndNodeID)
	}
	return d, nil
}
