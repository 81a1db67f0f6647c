package portfolio

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/benchctl/benchctl/controller/api/v1alpha1"
)

func compileDoc(t *testing.T, body, tier string) *Compiled {
	t.Helper()
	p, err := Parse("t.yaml", []byte(header+"workflows:\n"+body))
	if err != nil {
		t.Fatal(err)
	}
	c, err := p.Compile(tier)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCompileShapes(t *testing.T) {
	tests := []struct {
		name, spec string
		want       Counts
		primary    int // primary DAG nodes, start and end included
	}{
		{"chain", "chain: {length: 4}", Counts{Nodes: 4, TaskNodes: 4, Pods: 4, Depth: 4, WorkflowEvents: 2, NodeEvents: 10, TaskEvents: 8}, 6},
		{"fanout", "fanout: {width: 5}", Counts{Nodes: 5, TaskNodes: 5, Pods: 5, Depth: 1, WorkflowEvents: 2, NodeEvents: 12, TaskEvents: 10}, 7},
		{"dag", "dag: {layers: 3, width: 4}", Counts{Nodes: 12, TaskNodes: 12, Pods: 12, Depth: 3, WorkflowEvents: 2, NodeEvents: 26, TaskEvents: 24}, 14},
		{"dag width 1 is a chain", "dag: {layers: 3, width: 1}", Counts{Nodes: 3, TaskNodes: 3, Pods: 3, Depth: 3, WorkflowEvents: 2, NodeEvents: 8, TaskEvents: 6}, 5},
		{"map", "map: {size: 7, parallelism: 2}", Counts{Nodes: 1, MapItems: 7, Pods: 7, Depth: 1, WorkflowEvents: 2, NodeEvents: 4, TaskEvents: 14}, 3},
		// generators 1 + 2 + 4, leaves 8; depth: three generator levels then a leaf;
		// node events: 2 top start/end + 7 generators x (2 + their start/end) + 8 x 2
		{"dynamic", "dynamic: {width: 2, depth: 3}", Counts{Nodes: 15, TaskNodes: 8, DynamicNodes: 7, Pods: 15, Depth: 4, WorkflowEvents: 2, NodeEvents: 46, TaskEvents: 30}, 3},
		{"subworkflows", "subworkflows: {count: 3, length: 2}", Counts{Nodes: 9, TaskNodes: 6, SubWorkflows: 3, Pods: 6, Depth: 2, WorkflowEvents: 2, NodeEvents: 26, TaskEvents: 12}, 5},
		{"launchplans", "launchplans: {count: 4, length: 3}", Counts{Nodes: 16, TaskNodes: 12, Children: 4, Pods: 12, Depth: 3, WorkflowEvents: 10, NodeEvents: 42, TaskEvents: 24}, 6},
		{"cacheable chain", "chain: {length: 3}\n    task: {cacheable: true}", Counts{Nodes: 3, TaskNodes: 3, Pods: 3, CacheablePods: 3, Depth: 3, WorkflowEvents: 2, NodeEvents: 8, TaskEvents: 6}, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := compileDoc(t, fmt.Sprintf("  - name: w\n    description: d\n    %s\n", tt.spec), TierDefault)
			w := c.Workflows[0]
			if w.Counts != tt.want {
				t.Errorf("counts = %+v\nwant     %+v", w.Counts, tt.want)
			}
			closure := w.Template.Spec.Closure
			if n := len(closure.Primary.Nodes); n != tt.primary {
				t.Errorf("primary has %d nodes, want %d", n, tt.primary)
			}
			checkTemplate(t, "primary", closure, closure.Primary)
			for name, sub := range closure.SubWorkflows {
				checkTemplate(t, name, closure, sub)
			}
		})
	}
}

// checkTemplate asserts a DAG is well formed: start and end exist, edges
// are recorded in both directions, every node is reachable from start and
// reaches end without cycles, and every reference resolves.
func checkTemplate(t *testing.T, name string, c *v1alpha1.WorkflowClosure, tpl v1alpha1.WorkflowTemplate) {
	t.Helper()
	if tpl.Nodes[v1alpha1.StartNodeID].Kind != v1alpha1.NodeKindStart || tpl.Nodes[v1alpha1.EndNodeID].Kind != v1alpha1.NodeKindEnd {
		t.Fatalf("%s: lacks start or end node", name)
	}
	for from, tos := range tpl.Connections.Downstream {
		for _, to := range tos {
			if !slices.Contains(tpl.Connections.Upstream[to], from) {
				t.Errorf("%s: edge %s->%s missing upstream", name, from, to)
			}
		}
	}
	for to, froms := range tpl.Connections.Upstream {
		for _, from := range froms {
			if !slices.Contains(tpl.Connections.Downstream[from], to) {
				t.Errorf("%s: edge %s->%s missing downstream", name, from, to)
			}
		}
	}
	// Kahn's algorithm from start: every node must be visited once.
	indeg := map[string]int{}
	for id := range tpl.Nodes {
		indeg[id] = len(tpl.Connections.Upstream[id])
	}
	if indeg[v1alpha1.StartNodeID] != 0 {
		t.Fatalf("%s: start has upstreams", name)
	}
	queue, seen := []string{v1alpha1.StartNodeID}, 0
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		seen++
		for _, d := range tpl.Connections.Downstream[id] {
			if indeg[d]--; indeg[d] == 0 {
				queue = append(queue, d)
			}
		}
	}
	if seen != len(tpl.Nodes) {
		t.Errorf("%s: %d of %d nodes reachable in topological order (cycle or orphan)", name, seen, len(tpl.Nodes))
	}
	for id, n := range tpl.Nodes {
		if id != v1alpha1.EndNodeID && len(tpl.Connections.Downstream[id]) == 0 {
			t.Errorf("%s: node %s leads nowhere", name, id)
		}
		switch n.Kind {
		case v1alpha1.NodeKindTask, v1alpha1.NodeKindMap, v1alpha1.NodeKindDynamic:
			if _, ok := c.Tasks[n.Task]; !ok {
				t.Errorf("%s: node %s runs unknown task %q", name, id, n.Task)
			}
		case v1alpha1.NodeKindSubWorkflow:
			if _, ok := c.SubWorkflows[n.SubWorkflow]; !ok {
				t.Errorf("%s: node %s runs unknown sub-workflow %q", name, id, n.SubWorkflow)
			}
		case v1alpha1.NodeKindLaunchPlan:
			if _, ok := c.SubWorkflows[n.LaunchPlan.Workflow]; !ok {
				t.Errorf("%s: node %s launches unknown workflow %q", name, id, n.LaunchPlan.Workflow)
			}
		}
		if n.Dynamic != nil {
			if _, ok := c.Tasks[n.Dynamic.LeafTask]; !ok {
				t.Errorf("%s: node %s has unknown leaf task %q", name, id, n.Dynamic.LeafTask)
			}
		}
	}
}

func TestCompileDeterministic(t *testing.T) {
	var first [][]byte
	var hash string
	for i := range 3 {
		p, err := Load()
		if err != nil {
			t.Fatal(err)
		}
		c, err := p.Compile(TierDefault)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			hash = c.Hash
		} else if c.Hash != hash {
			t.Fatalf("hash changed between compiles: %s then %s", hash, c.Hash)
		}
		for j, w := range c.Workflows {
			b, err := json.Marshal(w.NewExecution("ns", "fixed-name", map[string]string{LabelRun: "r"}))
			if err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				first = append(first, b)
			} else if !bytes.Equal(b, first[j]) {
				t.Errorf("%s: compiled object differs between compiles", w.Name)
			}
		}
	}
}

func TestNewExecution(t *testing.T) {
	c := compileDoc(t, `  - name: cold
    description: d
    inputs: unique
    chain: {length: 2}
  - name: warm
    description: d
    inputs: fixed
    chain: {length: 2}
`, TierDefault)
	for _, tt := range []struct {
		wf        string
		sameInput bool
	}{{"cold", false}, {"warm", true}} {
		w := c.Workflow(tt.wf)
		a := w.NewExecution("ns", tt.wf+"-a", map[string]string{LabelRun: "r1"})
		b := w.NewExecution("ns", tt.wf+"-b", map[string]string{LabelRun: "r1"})
		if a.Spec.ExecutionID != a.Name || a.Namespace != "ns" || a.Labels[LabelRun] != "r1" || a.Labels[LabelBenchmark] != tt.wf {
			t.Errorf("%s: execution meta = %+v, executionID %q", tt.wf, a.ObjectMeta, a.Spec.ExecutionID)
		}
		if got := a.Spec.Inputs[InputSeed] == b.Spec.Inputs[InputSeed]; got != tt.sameInput || a.Spec.Inputs[InputSeed] == "" {
			t.Errorf("%s: inputs %v and %v; same = %v, want %v", tt.wf, a.Spec.Inputs, b.Spec.Inputs, got, tt.sameInput)
		}
		// Everything else is identical, and the template is untouched.
		a.ObjectMeta = b.ObjectMeta
		a.Spec.ExecutionID, a.Spec.Inputs = b.Spec.ExecutionID, b.Spec.Inputs
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		if !bytes.Equal(ja, jb) {
			t.Errorf("%s: executions differ beyond name, ID and inputs", tt.wf)
		}
		if w.Template.Name != "" || w.Template.Labels[LabelRun] != "" {
			t.Errorf("%s: NewExecution modified the template", tt.wf)
		}
	}
}

func TestHash(t *testing.T) {
	base := "  - name: w\n    description: d\n    chain: {length: 3}\n"
	h := compileDoc(t, base, TierDefault).Hash
	tests := []struct {
		name, doc string
		same      bool
	}{
		{"identical", base, true},
		{"description only", "  - name: w\n    description: other words\n    chain: {length: 3}\n", true},
		{"repetitions and timeout", base + "    repetitions: 20\n    timeout: 1h\n", true},
		{"size", "  - name: w\n    description: d\n    chain: {length: 4}\n", false},
		{"task duration", base + "    task: {duration: 1ms}\n", false},
		{"name", "  - name: v\n    description: d\n    chain: {length: 3}\n", false},
		{"inputs", base + "    inputs: fixed\n", false},
		{"offload", base + "    offloadClosure: true\n", false},
	}
	for _, tt := range tests {
		got := compileDoc(t, tt.doc, TierDefault).Hash
		if (got == h) != tt.same {
			t.Errorf("%s: hash %s vs %s, same = %v, want %v", tt.name, got, h, got == h, tt.same)
		}
	}
	p, _ := Load()
	smoke, _ := p.Compile(TierSmoke)
	def, _ := p.Compile(TierDefault)
	if smoke.Hash == def.Hash {
		t.Error("smoke and default tiers hash alike")
	}
}

func TestOverride(t *testing.T) {
	c := compileDoc(t, "  - name: w\n    description: d\n    chain: {length: 3}\n", TierDefault)
	hash := c.Hash
	reps, warm := 2, 0
	if err := c.Override(Overrides{Repetitions: &reps, Warmup: &warm}); err != nil {
		t.Fatal(err)
	}
	if w := c.Workflows[0]; w.Repetitions != 2 || w.Warmup != 0 || w.Timeout != defaultTimeout {
		t.Errorf("after override: %+v", w)
	}
	if c.Hash != hash {
		t.Error("override changed the hash")
	}
	bad := 0
	if err := c.Override(Overrides{Repetitions: &bad}); err == nil {
		t.Error("zero repetitions accepted")
	}
}

func TestPlanInterleaves(t *testing.T) {
	c := compileDoc(t, `  - name: x
    description: d
    repetitions: 2
    warmup: 1
    chain: {length: 1}
  - name: y
    description: d
    repetitions: 1
    warmup: 0
    chain: {length: 1}
`, TierDefault)
	var got []string
	for i, p := range Plan(c, []string{"a", "b"}) {
		if p.Seq != i {
			t.Fatalf("entry %d has seq %d", i, p.Seq)
		}
		kind := "r"
		if p.Warmup {
			kind = "w"
		}
		got = append(got, fmt.Sprintf("%s/%s/%s%d", p.Workflow, p.Target, kind, p.Repetition))
	}
	want := []string{"x/a/w1", "x/b/w1", "x/a/r1", "x/b/r1", "x/b/r2", "x/a/r2", "y/a/r1", "y/b/r1"}
	if !slices.Equal(got, want) {
		t.Errorf("plan = %v\nwant   %v", got, want)
	}
}
