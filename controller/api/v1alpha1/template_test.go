package v1alpha1

import "testing"

func TestExpandDynamic(t *testing.T) {
	tests := []struct {
		name      string
		spec      DynamicSpec
		wantKind  NodeKind
		wantNodes int
	}{
		{"leaf level", DynamicSpec{Width: 5, Depth: 1, LeafTask: "leaf"}, NodeKindTask, 7},
		{"nested level", DynamicSpec{Width: 3, Depth: 3, LeafTask: "leaf"}, NodeKindDynamic, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ExpandDynamic("gen", tt.spec)
			if len(got.Nodes) != tt.wantNodes {
				t.Fatalf("nodes = %d, want %d", len(got.Nodes), tt.wantNodes)
			}
			n0 := got.Nodes["n0"]
			if n0.Kind != tt.wantKind {
				t.Fatalf("n0 kind = %q, want %q", n0.Kind, tt.wantKind)
			}
			if tt.wantKind == NodeKindDynamic && (n0.Task != "gen" || n0.Dynamic.Depth != tt.spec.Depth-1) {
				t.Fatalf("nested node = %+v, want generator task and depth %d", n0, tt.spec.Depth-1)
			}
			if len(got.Connections.Downstream[StartNodeID]) != int(tt.spec.Width) || len(got.Connections.Upstream[EndNodeID]) != int(tt.spec.Width) {
				t.Fatalf("edges = %+v", got.Connections)
			}
			again := ExpandDynamic("gen", tt.spec)
			if len(again.Nodes) != len(got.Nodes) || again.Connections.Downstream[StartNodeID][0] != got.Connections.Downstream[StartNodeID][0] {
				t.Fatal("expansion is not deterministic")
			}
		})
	}
}
