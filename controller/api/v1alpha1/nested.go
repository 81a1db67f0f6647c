package v1alpha1

import (
	"fmt"
	"strings"
)

// JoinNodePath is the status path of node id inside the DAG whose nodes'
// paths start with prefix ("" for the primary DAG).
func JoinNodePath(prefix, id string) string {
	if prefix == "" {
		return id
	}
	return prefix + NodePathSeparator + id
}

// SplitNodePath splits a status path into the prefix of its DAG and the
// node's own ID; JoinNodePath undoes it.
func SplitNodePath(path string) (prefix, id string) {
	i := strings.LastIndex(path, NodePathSeparator)
	if i < 0 {
		return "", path
	}
	return path[:i], path[i+len(NodePathSeparator):]
}

// Nested is the DAG that node n runs inside itself: a dynamic node's
// generated sub-DAG (ExpandDynamic of its spec), a sub-workflow node's
// template, or the primary DAG of a launch-plan node's child Workflow.
// Other kinds have none. This is the one resolution of nested DAGs that
// the controller, the portfolio compiler and the harness share.
func (c *WorkflowClosure) Nested(n NodeSpec) (WorkflowTemplate, error) {
	switch n.Kind {
	case NodeKindDynamic:
		if n.Dynamic == nil {
			return WorkflowTemplate{}, fmt.Errorf("dynamic node has no dynamic spec")
		}
		return ExpandDynamic(n.Task, *n.Dynamic), nil
	case NodeKindSubWorkflow:
		sw, ok := c.SubWorkflows[n.SubWorkflow]
		if !ok {
			return sw, fmt.Errorf("sub-workflow %q is not in the closure", n.SubWorkflow)
		}
		return sw, nil
	case NodeKindLaunchPlan:
		if n.LaunchPlan == nil {
			return WorkflowTemplate{}, fmt.Errorf("launch-plan node has no launch-plan spec")
		}
		sw, ok := c.SubWorkflows[n.LaunchPlan.Workflow]
		if !ok {
			return sw, fmt.Errorf("launch plan's workflow %q is not in the closure", n.LaunchPlan.Workflow)
		}
		return sw, nil
	}
	return WorkflowTemplate{}, fmt.Errorf("a %s node has no nested DAG", n.Kind)
}

// TemplateAt returns the DAG whose nodes have status paths prefix/<id>,
// at any nesting depth ("" is the primary DAG). A launch-plan node's
// nested DAG is its child Workflow's primary one.
func (c *WorkflowClosure) TemplateAt(prefix string) (WorkflowTemplate, error) {
	if c == nil {
		return WorkflowTemplate{}, fmt.Errorf("no workflow closure to resolve %q", prefix)
	}
	t := c.Primary
	if prefix == "" {
		return t, nil
	}
	walked := ""
	for _, id := range strings.Split(prefix, NodePathSeparator) {
		walked = JoinNodePath(walked, id)
		n, ok := t.Nodes[id]
		if !ok {
			return WorkflowTemplate{}, fmt.Errorf("node %s is not in its DAG", walked)
		}
		next, err := c.Nested(n)
		if err != nil {
			return WorkflowTemplate{}, fmt.Errorf("node %s: %w", walked, err)
		}
		t = next
	}
	return t, nil
}

// NodeAt returns the spec of the node at a status path, at any depth.
func (c *WorkflowClosure) NodeAt(path string) (NodeSpec, error) {
	prefix, id := SplitNodePath(path)
	t, err := c.TemplateAt(prefix)
	if err != nil {
		return NodeSpec{}, err
	}
	n, ok := t.Nodes[id]
	if !ok {
		return NodeSpec{}, fmt.Errorf("no node %s", path)
	}
	return n, nil
}
