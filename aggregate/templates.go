package aggregate

import (
	"fmt"

	"github.com/benchctl/benchctl/controller/api/v1alpha1"
)

// templates resolves the DAG that holds a node, at any nesting depth: the
// primary DAG, a sub-workflow's, or a dynamic node's generated sub-DAG.
type templates struct {
	closure *v1alpha1.WorkflowClosure
	cache   map[string]*v1alpha1.WorkflowTemplate
}

func newTemplates(c *v1alpha1.WorkflowClosure) *templates {
	return &templates{closure: c, cache: map[string]*v1alpha1.WorkflowTemplate{}}
}

// lookup returns the DAG whose nodes have status paths prefix/<id>. A
// launch-plan node's "nested DAG" is its child Workflow's primary one.
func (t *templates) lookup(prefix string) (*v1alpha1.WorkflowTemplate, error) {
	if t.closure == nil {
		return nil, fmt.Errorf("no workflow closure to resolve %q", prefix)
	}
	if prefix == "" {
		return &t.closure.Primary, nil
	}
	if tt, ok := t.cache[prefix]; ok {
		return tt, nil
	}
	parentPrefix, id := splitPath(prefix)
	parent, err := t.lookup(parentPrefix)
	if err != nil {
		return nil, err
	}
	n, ok := parent.Nodes[id]
	if !ok {
		return nil, fmt.Errorf("node %s is not in its DAG", prefix)
	}
	out, err := nestedTemplate(t.closure, prefix, n)
	if err != nil {
		return nil, err
	}
	t.cache[prefix] = &out
	return &out, nil
}

// nestedTemplate is the DAG that node n, at status path path, runs: a
// dynamic node's generated sub-DAG, a sub-workflow's, or a launch-plan
// child's primary DAG.
func nestedTemplate(c *v1alpha1.WorkflowClosure, path string, n v1alpha1.NodeSpec) (v1alpha1.WorkflowTemplate, error) {
	switch n.Kind {
	case v1alpha1.NodeKindDynamic:
		if n.Dynamic == nil {
			return v1alpha1.WorkflowTemplate{}, fmt.Errorf("dynamic node %s has no dynamic spec", path)
		}
		return v1alpha1.ExpandDynamic(n.Task, *n.Dynamic), nil
	case v1alpha1.NodeKindSubWorkflow:
		sw, ok := c.SubWorkflows[n.SubWorkflow]
		if !ok {
			return sw, fmt.Errorf("sub-workflow %q of node %s is not in the closure", n.SubWorkflow, path)
		}
		return sw, nil
	case v1alpha1.NodeKindLaunchPlan:
		if n.LaunchPlan == nil {
			return v1alpha1.WorkflowTemplate{}, fmt.Errorf("launch-plan node %s has no launch-plan spec", path)
		}
		sw, ok := c.SubWorkflows[n.LaunchPlan.Workflow]
		if !ok {
			return sw, fmt.Errorf("launch plan %q of node %s is not in the closure", n.LaunchPlan.Workflow, path)
		}
		return sw, nil
	}
	return v1alpha1.WorkflowTemplate{}, fmt.Errorf("node %s (%s) has no nested DAG", path, n.Kind)
}

// NodeAt returns the spec of the node at a status path, at any nesting
// depth (dynamic expansions and sub-workflows included).
func NodeAt(c *v1alpha1.WorkflowClosure, path string) (v1alpha1.NodeSpec, error) {
	prefix, id := splitPath(path)
	t, err := newTemplates(c).lookup(prefix)
	if err != nil {
		return v1alpha1.NodeSpec{}, err
	}
	n, ok := t.Nodes[id]
	if !ok {
		return v1alpha1.NodeSpec{}, fmt.Errorf("no node %s", path)
	}
	return n, nil
}
