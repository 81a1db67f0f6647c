package v1alpha1

import (
	"strings"
	"testing"
)

func TestNodePaths(t *testing.T) {
	tests := []struct{ prefix, id, path string }{
		{"", "n0", "n0"},
		{"d0", "n1", "d0/n1"},
		{"d0/n3", "n1", "d0/n3/n1"},
	}
	for _, tt := range tests {
		if got := JoinNodePath(tt.prefix, tt.id); got != tt.path {
			t.Errorf("JoinNodePath(%q, %q) = %q, want %q", tt.prefix, tt.id, got, tt.path)
		}
		if p, id := SplitNodePath(tt.path); p != tt.prefix || id != tt.id {
			t.Errorf("SplitNodePath(%q) = %q, %q", tt.path, p, id)
		}
	}
}

// nestedClosure has every kind of nested DAG: a dynamic node two levels
// deep, a sub-workflow and a launch plan running the same chain.
func nestedClosure() *WorkflowClosure {
	chain := NewTemplate()
	chain.AddNode("c0", NodeSpec{Kind: NodeKindTask, Task: "t"})
	chain.AddEdge(StartNodeID, "c0")
	chain.AddEdge("c0", EndNodeID)
	p := NewTemplate()
	p.AddNode("d0", NodeSpec{Kind: NodeKindDynamic, Task: "gen", Dynamic: &DynamicSpec{Width: 2, Depth: 2, LeafTask: "t"}})
	p.AddNode("s0", NodeSpec{Kind: NodeKindSubWorkflow, SubWorkflow: "chain"})
	p.AddNode("lp0", NodeSpec{Kind: NodeKindLaunchPlan, LaunchPlan: &LaunchPlanSpec{Workflow: "chain"}})
	p.AddNode("bad", NodeSpec{Kind: NodeKindSubWorkflow, SubWorkflow: "absent"})
	p.AddNode("t0", NodeSpec{Kind: NodeKindTask, Task: "t"})
	return &WorkflowClosure{Primary: p, SubWorkflows: map[string]WorkflowTemplate{"chain": chain}}
}

func TestNodeAt(t *testing.T) {
	c := nestedClosure()
	tests := []struct {
		path     string
		wantKind NodeKind
		wantErr  string
	}{
		{"t0", NodeKindTask, ""},
		{"d0", NodeKindDynamic, ""},
		{"d0/n1", NodeKindDynamic, ""},
		{"d0/n1/n0", NodeKindTask, ""},
		{"s0/c0", NodeKindTask, ""},
		{"lp0/c0", NodeKindTask, ""},
		{"d0/n7", "", "no node d0/n7"},
		{"t0/x", "", "node t0: a task node has no nested DAG"},
		{"bad/c0", "", `node bad: sub-workflow "absent" is not in the closure`},
		{"nope/c0", "", "node nope is not in its DAG"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			n, err := c.NodeAt(tt.path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || n.Kind != tt.wantKind {
				t.Fatalf("NodeAt = %v, %v; want kind %s", n.Kind, err, tt.wantKind)
			}
		})
	}
}
