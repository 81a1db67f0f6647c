// Package testwf builds small Workflow objects for the controller's tests.
package testwf

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/benchctl/benchctl/controller/api/v1alpha1"
)

// Task returns a task spec running for d and writing outBytes.
func Task(d time.Duration, outBytes int64) v1alpha1.TaskSpec {
	return v1alpha1.TaskSpec{Version: "1", Duration: metav1.Duration{Duration: d}, OutputBytes: outBytes}
}

// New wraps a template and one task "t" into a Workflow named name.
func New(namespace, name string, tmpl v1alpha1.WorkflowTemplate, task v1alpha1.TaskSpec) *v1alpha1.Workflow {
	return &v1alpha1.Workflow{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: "Workflow"},
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: v1alpha1.WorkflowSpec{
			Closure: &v1alpha1.WorkflowClosure{Primary: tmpl, Tasks: map[string]v1alpha1.TaskSpec{"t": task}},
			Inputs:  map[string]string{"seed": "1"},
		},
	}
}

// NodeID is the ID of the i-th task node of the builders.
func NodeID(i int) string { return fmt.Sprintf("n%d", i) }

// Chain is start -> n0 -> ... -> n(n-1) -> end.
func Chain(namespace, name string, n int, task v1alpha1.TaskSpec) *v1alpha1.Workflow {
	t := v1alpha1.NewTemplate()
	prev := v1alpha1.StartNodeID
	for i := range n {
		id := NodeID(i)
		t.AddNode(id, v1alpha1.NodeSpec{Kind: v1alpha1.NodeKindTask, Task: "t"})
		t.AddEdge(prev, id)
		prev = id
	}
	t.AddEdge(prev, v1alpha1.EndNodeID)
	return New(namespace, name, t, task)
}

// FanOut is start -> n0..n(n-1) in parallel -> end.
func FanOut(namespace, name string, n int, task v1alpha1.TaskSpec) *v1alpha1.Workflow {
	t := v1alpha1.NewTemplate()
	for i := range n {
		id := NodeID(i)
		t.AddNode(id, v1alpha1.NodeSpec{Kind: v1alpha1.NodeKindTask, Task: "t"})
		t.AddEdge(v1alpha1.StartNodeID, id)
		t.AddEdge(id, v1alpha1.EndNodeID)
	}
	return New(namespace, name, t, task)
}

// Map is start -> map node "m" of size items -> end.
func Map(namespace, name string, size, parallelism int32, task v1alpha1.TaskSpec) *v1alpha1.Workflow {
	t := v1alpha1.NewTemplate()
	t.AddNode("m", v1alpha1.NodeSpec{Kind: v1alpha1.NodeKindMap, Task: "t", Map: &v1alpha1.MapSpec{Size: size, Parallelism: parallelism}})
	t.AddEdge(v1alpha1.StartNodeID, "m")
	t.AddEdge("m", v1alpha1.EndNodeID)
	return New(namespace, name, t, task)
}

// Task and generator names of the builders below.
const (
	GeneratorTask = "gen"
	SubWorkflow   = "sub"
)

// Dynamic is start -> dynamic node "dyn" -> end: the node's generator task
// (gen) yields width nodes per level, depth levels deep, whose innermost
// nodes run task "t".
func Dynamic(namespace, name string, width, depth int32, task, gen v1alpha1.TaskSpec) *v1alpha1.Workflow {
	t := v1alpha1.NewTemplate()
	t.AddNode("dyn", v1alpha1.NodeSpec{Kind: v1alpha1.NodeKindDynamic, Task: GeneratorTask,
		Dynamic: &v1alpha1.DynamicSpec{Width: width, Depth: depth, LeafTask: "t"}})
	t.AddEdge(v1alpha1.StartNodeID, "dyn")
	t.AddEdge("dyn", v1alpha1.EndNodeID)
	wf := New(namespace, name, t, task)
	wf.Spec.Closure.Tasks[GeneratorTask] = gen
	return wf
}

// chainTemplate is start -> n0 -> ... -> n(length-1) -> end of task "t".
func chainTemplate(length int) v1alpha1.WorkflowTemplate {
	t := v1alpha1.NewTemplate()
	prev := v1alpha1.StartNodeID
	for i := range length {
		id := NodeID(i)
		t.AddNode(id, v1alpha1.NodeSpec{Kind: v1alpha1.NodeKindTask, Task: "t"})
		t.AddEdge(prev, id)
		prev = id
	}
	t.AddEdge(prev, v1alpha1.EndNodeID)
	return t
}

// parallel puts count nodes prefix0..prefix(count-1) between start and end.
func parallel(count int, prefix string, node v1alpha1.NodeSpec) v1alpha1.WorkflowTemplate {
	t := v1alpha1.NewTemplate()
	for i := range count {
		id := fmt.Sprintf("%s%d", prefix, i)
		t.AddNode(id, node)
		t.AddEdge(v1alpha1.StartNodeID, id)
		t.AddEdge(id, v1alpha1.EndNodeID)
	}
	return t
}

// SubWorkflows is count parallel sub-workflow nodes sw0.. each running
// sub-workflow "sub", a chain of length tasks.
func SubWorkflows(namespace, name string, count, length int, task v1alpha1.TaskSpec) *v1alpha1.Workflow {
	wf := New(namespace, name, parallel(count, "sw", v1alpha1.NodeSpec{Kind: v1alpha1.NodeKindSubWorkflow, SubWorkflow: SubWorkflow}), task)
	wf.Spec.Closure.SubWorkflows = map[string]v1alpha1.WorkflowTemplate{SubWorkflow: chainTemplate(length)}
	return wf
}

// LaunchPlans is count parallel launch-plan nodes lp0.. each launching a
// child Workflow whose primary DAG is sub-workflow "sub", a chain of length
// tasks.
func LaunchPlans(namespace, name string, count, length int, task v1alpha1.TaskSpec) *v1alpha1.Workflow {
	wf := New(namespace, name, parallel(count, "lp", v1alpha1.NodeSpec{Kind: v1alpha1.NodeKindLaunchPlan,
		LaunchPlan: &v1alpha1.LaunchPlanSpec{Workflow: SubWorkflow}}), task)
	wf.Spec.Closure.SubWorkflows = map[string]v1alpha1.WorkflowTemplate{SubWorkflow: chainTemplate(length)}
	return wf
}

// Layers is layers of width task nodes; each node depends on two nodes of
// the layer before (as the portfolio's dag shape), the first layer on the
// start node, the last feeds the end node.
func Layers(namespace, name string, layers, width int, task v1alpha1.TaskSpec) *v1alpha1.Workflow {
	t := v1alpha1.NewTemplate()
	id := func(l, j int) string { return NodeID(l*width + j) }
	for l := range layers {
		for j := range width {
			n := id(l, j)
			t.AddNode(n, v1alpha1.NodeSpec{Kind: v1alpha1.NodeKindTask, Task: "t"})
			if l == 0 {
				t.AddEdge(v1alpha1.StartNodeID, n)
			} else {
				t.AddEdge(id(l-1, j), n)
				t.AddEdge(id(l-1, (j+1)%width), n)
			}
			if l == layers-1 {
				t.AddEdge(n, v1alpha1.EndNodeID)
			}
		}
	}
	return New(namespace, name, t, task)
}

// ChildClosure is the closure of the child of a launch-plan node that runs
// sub-workflow sub of c, as the controller builds it.
func ChildClosure(c *v1alpha1.WorkflowClosure, sub string) *v1alpha1.WorkflowClosure {
	return &v1alpha1.WorkflowClosure{Primary: c.SubWorkflows[sub], SubWorkflows: c.SubWorkflows, Tasks: c.Tasks}
}
