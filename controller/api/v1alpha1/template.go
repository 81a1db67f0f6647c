package v1alpha1

import (
	"fmt"
	"slices"
)

// NewTemplate returns a DAG with only its start and end nodes.
func NewTemplate() WorkflowTemplate {
	return WorkflowTemplate{
		Nodes: map[string]NodeSpec{
			StartNodeID: {Kind: NodeKindStart},
			EndNodeID:   {Kind: NodeKindEnd},
		},
		Connections: Connections{Downstream: map[string][]string{}, Upstream: map[string][]string{}},
	}
}

// AddNode adds a node; it panics on a duplicate ID, a programming error.
func (t *WorkflowTemplate) AddNode(id string, n NodeSpec) {
	if _, ok := t.Nodes[id]; ok {
		panic(fmt.Sprintf("duplicate node %q", id))
	}
	t.Nodes[id] = n
}

// AddEdge records that to depends on from, in both directions.
func (t *WorkflowTemplate) AddEdge(from, to string) {
	if t.Connections.Downstream == nil {
		t.Connections.Downstream = map[string][]string{}
	}
	if t.Connections.Upstream == nil {
		t.Connections.Upstream = map[string][]string{}
	}
	if !slices.Contains(t.Connections.Downstream[from], to) {
		t.Connections.Downstream[from] = append(t.Connections.Downstream[from], to)
	}
	if !slices.Contains(t.Connections.Upstream[to], from) {
		t.Connections.Upstream[to] = append(t.Connections.Upstream[to], from)
	}
}

// ExpandDynamic derives the sub-DAG that a dynamic node's task produces.
// It is deterministic so that benchtask (real pods) and the controller
// (simulated pods) produce the same DAG. generator is the dynamic node's
// own task; nested dynamic nodes reuse it.
func ExpandDynamic(generator string, d DynamicSpec) WorkflowTemplate {
	t := NewTemplate()
	for i := range d.Width {
		id := fmt.Sprintf("n%d", i)
		if d.Depth <= 1 {
			t.AddNode(id, NodeSpec{Kind: NodeKindTask, Task: d.LeafTask})
		} else {
			t.AddNode(id, NodeSpec{Kind: NodeKindDynamic, Task: generator, Dynamic: &DynamicSpec{
				Width: d.Width, Depth: d.Depth - 1, LeafTask: d.LeafTask,
			}})
		}
		t.AddEdge(StartNodeID, id)
		t.AddEdge(id, EndNodeID)
	}
	return t
}
