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
	var out v1alpha1.WorkflowTemplate
	switch n.Kind {
	case v1alpha1.NodeKindDynamic:
		if n.Dynamic == nil {
			return nil, fmt.Errorf("dynamic node %s has no dynamic spec", prefix)
		}
		out = v1alpha1.ExpandDynamic(n.Task, *n.Dynamic)
	case v1alpha1.NodeKindSubWorkflow:
		sw, ok := t.closure.SubWorkflows[n.SubWorkflow]
		if !ok {
			return nil, fmt.Errorf("sub-workflow %q of node %s is not in the closure", n.SubWorkflow, prefix)
		}
		out = sw
	case v1alpha1.NodeKindLaunchPlan:
		if n.LaunchPlan == nil {
			return nil, fmt.Errorf("launch-plan node %s has no launch-plan spec", prefix)
		}
		sw, ok := t.closure.SubWorkflows[n.LaunchPlan.Workflow]
		if !ok {
			return nil, fmt.Errorf("launch plan %q of node %s is not in the closure", n.LaunchPlan.Workflow, prefix)
		}
		out = sw
	default:
		return nil, fmt.Errorf("node %s (%s) has no nested DAG", prefix, n.Kind)
	}
	t.cache[prefix] = &out
	return &out, nil
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
