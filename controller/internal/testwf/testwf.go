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
