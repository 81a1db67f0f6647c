package engine

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/benchctl/benchctl/controller/api/v1alpha1"
)

// dag is a validated workflow template with its breadth-first order.
type dag struct {
	tmpl     *v1alpha1.WorkflowTemplate
	order    []string // breadth-first (topological) from the start node, every node once
	upstream map[string][]string
}

// plan is a workflow's validated static structure: its closure, the
// primary DAG, every sub-workflow's DAG and, as they are generated, the
// sub-DAGs of its dynamic nodes. The engine caches it per Workflow UID (the
// spec is immutable once running).
type plan struct {
	closure *v1alpha1.WorkflowClosure
	primary *dag
	subs    map[string]*dag

	mu sync.Mutex
	// dynamic holds the sub-DAGs of dynamic nodes by status path, keyed
	// with the blob key they were read from.
	dynamic map[string]dynamicDAG
}

type dynamicDAG struct {
	ref string
	d   *dag
}

func (p *plan) dynamicDAG(path, ref string) *dag {
	p.mu.Lock()
	defer p.mu.Unlock()
	if x, ok := p.dynamic[path]; ok && x.ref == ref {
		return x.d
	}
	return nil
}

func (p *plan) setDynamic(path, ref string, d *dag) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dynamic[path] = dynamicDAG{ref: ref, d: d}
}

// buildPlan validates a whole closure: the primary DAG, every sub-workflow
// (each once, however many nodes run it) and the references between them,
// which must not form a cycle (a sub-workflow or launch plan that runs
// itself would never end). Errors name the offending field.
func buildPlan(c *v1alpha1.WorkflowClosure) (*plan, error) {
	p := &plan{closure: c, subs: map[string]*dag{}, dynamic: map[string]dynamicDAG{}}
	if err := checkTasks(c.Tasks); err != nil {
		return nil, err
	}
	var err error
	if p.primary, err = compileTemplate(c, &c.Primary, "spec.closure.primary"); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(c.SubWorkflows))
	for name := range c.SubWorkflows {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		t := c.SubWorkflows[name]
		d, err := compileTemplate(c, &t, fmt.Sprintf("spec.closure.subWorkflows[%s]", name))
		if err != nil {
			return nil, err
		}
		p.subs[name] = d
	}
	// Reference cycles, depth-first over sub-workflow and launch-plan
	// references.
	const (
		visiting = 1
		done     = 2
	)
	state := map[string]int{}
	var visit func(name string, path []string) error
	visit = func(name string, path []string) error {
		switch state[name] {
		case visiting:
			return fmt.Errorf("spec.closure.subWorkflows: %s runs itself (%s)", name, strings.Join(append(path, name), " -> "))
		case done:
			return nil
		}
		state[name] = visiting
		for _, ref := range references(p.subs[name].tmpl) {
			if err := visit(ref, append(path, name)); err != nil {
				return err
			}
		}
		state[name] = done
		return nil
	}
	for _, name := range names {
		if err := visit(name, nil); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// checkTasks checks what the API server no longer does (the closure is
// schemaless in the CRD): no count or size of a task is negative.
func checkTasks(tasks map[string]v1alpha1.TaskSpec) error {
	names := make([]string, 0, len(tasks))
	for name := range tasks {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		t := tasks[name]
		field := fmt.Sprintf("spec.closure.tasks[%s]", name)
		for _, f := range []struct {
			name string
			v    int64
		}{{"retries", int64(t.Retries)}, {"failAttempts", int64(t.FailAttempts)}, {"outputBytes", t.OutputBytes}, {"duration", int64(t.Duration.Duration)}} {
			if f.v < 0 {
				return fmt.Errorf("%s.%s: must not be negative, got %d", field, f.name, f.v)
			}
		}
	}
	return nil
}

// references lists the sub-workflows a template's nodes run, sorted.
func references(t *v1alpha1.WorkflowTemplate) []string {
	var out []string
	for _, n := range t.Nodes {
		switch {
		case n.Kind == v1alpha1.NodeKindSubWorkflow:
			out = append(out, n.SubWorkflow)
		case n.Kind == v1alpha1.NodeKindLaunchPlan && n.LaunchPlan != nil:
			out = append(out, n.LaunchPlan.Workflow)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// compileTemplate validates one DAG of closure c and orders its nodes;
// field names the template in errors (a spec field path, or where a dynamic
// node's sub-DAG came from).
func compileTemplate(c *v1alpha1.WorkflowClosure, t *v1alpha1.WorkflowTemplate, field string) (*dag, error) {
	for _, id := range []string{v1alpha1.StartNodeID, v1alpha1.EndNodeID} {
		n, ok := t.Nodes[id]
		want := v1alpha1.NodeKindStart
		if id == v1alpha1.EndNodeID {
			want = v1alpha1.NodeKindEnd
		}
		if !ok || n.Kind != want {
			return nil, fmt.Errorf("%s.nodes: needs node %q of kind %s", field, id, want)
		}
	}
	ids := make([]string, 0, len(t.Nodes))
	for id := range t.Nodes {
		ids = append(ids, id)
	}
	slices.Sort(ids) // deterministic validation errors and order
	for _, id := range ids {
		if err := checkNode(c, id, t.Nodes[id], fmt.Sprintf("%s.nodes[%s]", field, id)); err != nil {
			return nil, err
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
				return nil, fmt.Errorf("%s.connections.%s: unknown node %q", field, dir.name, from)
			}
			for _, to := range tos {
				if _, ok := t.Nodes[to]; !ok {
					return nil, fmt.Errorf("%s.connections.%s[%s]: unknown node %q", field, dir.name, from, to)
				}
				if !slices.Contains(dir.other[to], from) {
					return nil, fmt.Errorf("%s.connections: edge %s %s %s has no reverse edge", field, from, dir.name, to)
				}
			}
		}
	}
	// Breadth-first from the start node; Kahn's algorithm also proves the
	// graph acyclic and every node reachable.
	d := &dag{tmpl: t, upstream: t.Connections.Upstream}
	indeg := map[string]int{}
	for _, id := range ids {
		indeg[id] = len(t.Connections.Upstream[id])
	}
	if indeg[v1alpha1.StartNodeID] != 0 {
		return nil, fmt.Errorf("%s.connections.upstream[%s]: the start node cannot have upstream nodes", field, v1alpha1.StartNodeID)
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
		return nil, fmt.Errorf("%s: nodes %v are on a cycle or not reachable from %s", field, stuck, v1alpha1.StartNodeID)
	}
	if len(t.Connections.Downstream[v1alpha1.EndNodeID]) > 0 {
		return nil, fmt.Errorf("%s.connections.downstream[%s]: the end node cannot have downstream nodes", field, v1alpha1.EndNodeID)
	}
	return d, nil
}

// checkNode validates one node spec against the closure.
func checkNode(c *v1alpha1.WorkflowClosure, id string, n v1alpha1.NodeSpec, field string) error {
	if id == "" || strings.Contains(id, v1alpha1.NodePathSeparator) {
		return fmt.Errorf("%s: a node ID must be non-empty and must not contain %q (it joins nested node IDs)", field, v1alpha1.NodePathSeparator)
	}
	task := func() error {
		if _, ok := c.Tasks[n.Task]; !ok {
			return fmt.Errorf("%s.task: no task %q in spec.closure.tasks", field, n.Task)
		}
		return nil
	}
	switch n.Kind {
	case v1alpha1.NodeKindStart, v1alpha1.NodeKindEnd:
		if id != v1alpha1.StartNodeID && id != v1alpha1.EndNodeID {
			return fmt.Errorf("%s: kind %s is reserved for node %q", field, n.Kind, map[v1alpha1.NodeKind]string{
				v1alpha1.NodeKindStart: v1alpha1.StartNodeID, v1alpha1.NodeKindEnd: v1alpha1.EndNodeID}[n.Kind])
		}
	case v1alpha1.NodeKindTask:
		return task()
	case v1alpha1.NodeKindMap:
		if err := task(); err != nil {
			return err
		}
		if n.Map == nil || n.Map.Size < 1 {
			return fmt.Errorf("%s.map: a map node needs map.size >= 1", field)
		}
		if n.Map.Parallelism < 0 {
			return fmt.Errorf("%s.map.parallelism: must not be negative, got %d", field, n.Map.Parallelism)
		}
		if n.Map.MinSuccessRatio != nil {
			if r := n.Map.MinSuccessRatio.AsApproximateFloat64(); r < 0 || r > 1 {
				return fmt.Errorf("%s.map.minSuccessRatio: must be within [0, 1], got %v", field, r)
			}
		}
	case v1alpha1.NodeKindDynamic:
		if err := task(); err != nil {
			return err
		}
		d := n.Dynamic
		if d == nil || d.Width < 1 || d.Depth < 1 {
			return fmt.Errorf("%s.dynamic: a dynamic node needs dynamic.width >= 1 and dynamic.depth >= 1", field)
		}
		if _, ok := c.Tasks[d.LeafTask]; !ok {
			return fmt.Errorf("%s.dynamic.leafTask: no task %q in spec.closure.tasks", field, d.LeafTask)
		}
	case v1alpha1.NodeKindSubWorkflow:
		if _, ok := c.SubWorkflows[n.SubWorkflow]; !ok {
			return fmt.Errorf("%s.subWorkflow: no sub-workflow %q in spec.closure.subWorkflows", field, n.SubWorkflow)
		}
	case v1alpha1.NodeKindLaunchPlan:
		if n.LaunchPlan == nil {
			return fmt.Errorf("%s.launchPlan: a launch-plan node needs launchPlan.workflow", field)
		}
		if _, ok := c.SubWorkflows[n.LaunchPlan.Workflow]; !ok {
			return fmt.Errorf("%s.launchPlan.workflow: no sub-workflow %q in spec.closure.subWorkflows", field, n.LaunchPlan.Workflow)
		}
	default:
		return fmt.Errorf("%s.kind: unknown kind %q", field, n.Kind)
	}
	return nil
}
