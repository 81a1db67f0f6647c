package portfolio

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/benchctl/benchctl/controller/api/v1alpha1"
	"github.com/benchctl/benchctl/portfolio/flyte"
	"github.com/benchctl/benchctl/reports"
)

// Labels the harness puts on the Workflows it creates.
const (
	// LabelBenchmark is the portfolio workflow's name.
	LabelBenchmark = v1alpha1.Domain + "/benchmark"
	// LabelRun is the run ID, so a resumed run finds its leftovers.
	LabelRun = v1alpha1.Domain + "/run"
	// LabelTarget is the deployment (target) the execution ran on.
	LabelTarget = v1alpha1.Domain + "/target"
)

// Closure task names.
const (
	TaskName      = "task"
	GeneratorTask = "generator"
	// SubWorkflowName is the chain that sub-workflow and launch-plan nodes run.
	SubWorkflowName = "chain"
	// InputSeed is the workflow input that makes executions unique (or not).
	InputSeed = "seed"
)

// Compiled is one tier of a portfolio, compiled to Workflow objects.
type Compiled struct {
	Name string `json:"name"`
	Tier string `json:"tier"`
	// Hash is "sha256:" and the hex digest of the canonical compiled
	// workflows (names, input modes and Workflow templates). Repetitions,
	// warm-ups and timeouts are left out: they change how many samples a
	// report has, not what a sample measures. Reports refuse to diff runs
	// whose hashes differ.
	Hash      string      `json:"hash"`
	Workflows []*Workflow `json:"workflows"`
}

// Workflow is one compiled portfolio entry.
type Workflow struct {
	Name        string        `json:"name"`
	Description string        `json:"description"`
	Shape       string        `json:"shape"` // e.g. "chain length=10"
	Repetitions int           `json:"repetitions"`
	Warmup      int           `json:"warmup"`
	Timeout     time.Duration `json:"timeout"`
	Inputs      string        `json:"inputs"` // InputsUnique or InputsFixed
	// Counts is what one execution implies, derived from the closure.
	Counts Counts `json:"counts"`
	// Template is the Workflow every execution copies; its name, execution
	// ID and (for unique inputs) inputs are left empty. Nil for a flyte:
	// entry.
	Template *v1alpha1.Workflow `json:"template"`
	// Flyte is the registered launch plan a flyte: entry executes (nil
	// for the bundled controller's shapes).
	Flyte *flyte.Entry `json:"flyte,omitempty"`
}

// Engine is the engine that runs the tier: flyte for flyte: entries
// (validation keeps a tier to one engine), else the bundled controller.
func (c *Compiled) Engine() string {
	if len(c.Workflows) > 0 && c.Workflows[0].Flyte != nil {
		return reports.EngineFlyte
	}
	return reports.EngineBundled
}

// Compile compiles the workflows of tier (skipping those marked skip).
func (p *Portfolio) Compile(tier string) (*Compiled, error) {
	if !p.knownTiers(nil)[tier] {
		return nil, fmt.Errorf("unknown tier %q (known: %s)", tier, strings.Join(p.Tiers(), ", "))
	}
	c := &Compiled{Name: p.Name, Tier: tier}
	for _, e := range p.entries {
		w, _, err := p.resolve(e, tier)
		if err != nil {
			return nil, err
		}
		if w.Skip {
			continue
		}
		s := p.settings(w, tier)
		cw := &Workflow{
			Name:        w.Name,
			Description: w.Description,
			Shape:       w.shapeString(),
			Repetitions: *s.Repetitions,
			Warmup:      *s.Warmup,
			Timeout:     time.Duration(*s.Timeout),
		}
		if w.Flyte != nil {
			cw.Flyte = w.Flyte
		} else {
			cw.Inputs, cw.Template = w.Inputs, w.compile()
			cw.Counts = Count(cw.Template.Spec.Closure)
		}
		c.Workflows = append(c.Workflows, cw)
	}
	if len(c.Workflows) == 0 {
		return nil, fmt.Errorf("tier %q of portfolio %s has no workflows (all are skipped)", tier, p.Name)
	}
	c.Hash = hashWorkflows(c.Workflows)
	return c, nil
}

// Workflow returns the named compiled workflow, or nil.
func (c *Compiled) Workflow(name string) *Workflow {
	for _, w := range c.Workflows {
		if w.Name == name {
			return w
		}
	}
	return nil
}

func hashWorkflows(ws []*Workflow) string {
	type canon struct {
		Name     string             `json:"name"`
		Inputs   string             `json:"inputs"`
		Template *v1alpha1.Workflow `json:"template"`
		// Omitted for the bundled controller's shapes, whose hashes so
		// stay what they were before flyte: entries existed.
		Flyte *flyte.Entry `json:"flyte,omitempty"`
	}
	h := sha256.New()
	enc := json.NewEncoder(h)
	for _, w := range ws {
		// encoding/json sorts map keys and the compiler builds slices in a
		// fixed order, so the encoding is canonical.
		if err := enc.Encode(canon{w.Name, w.Inputs, w.Template, w.Flyte}); err != nil {
			panic(fmt.Sprintf("portfolio: encode %s: %v", w.Name, err)) // plain data; cannot fail
		}
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// NewExecution returns a fresh Workflow object for one execution: the
// template with its name, namespace, execution ID, labels and, for unique
// inputs, an input seed equal to the execution ID.
func (w *Workflow) NewExecution(namespace, name string, labels map[string]string) *v1alpha1.Workflow {
	obj := w.Template.DeepCopy()
	obj.Name, obj.Namespace = name, namespace
	obj.Spec.ExecutionID = name
	for k, v := range labels {
		obj.Labels[k] = v
	}
	if w.Inputs == InputsUnique {
		obj.Spec.Inputs = map[string]string{InputSeed: name}
	}
	return obj
}

func (w *WorkflowSpec) shapeString() string {
	switch {
	case w.Chain != nil:
		return fmt.Sprintf("chain length=%d", w.Chain.Length)
	case w.FanOut != nil:
		return fmt.Sprintf("fanout width=%d", w.FanOut.Width)
	case w.DAG != nil:
		return fmt.Sprintf("dag %dx%d", w.DAG.Layers, w.DAG.Width)
	case w.Map != nil:
		if w.Map.Parallelism > 0 {
			return fmt.Sprintf("map size=%d parallelism=%d", w.Map.Size, w.Map.Parallelism)
		}
		return fmt.Sprintf("map size=%d", w.Map.Size)
	case w.Dynamic != nil:
		return fmt.Sprintf("dynamic width=%d depth=%d", w.Dynamic.Width, w.Dynamic.Depth)
	case w.SubWorkflows != nil:
		return fmt.Sprintf("subworkflows %dx%d", w.SubWorkflows.Count, w.SubWorkflows.Length)
	case w.LaunchPlans != nil:
		return fmt.Sprintf("launchplans %dx%d", w.LaunchPlans.Count, w.LaunchPlans.Length)
	case w.Flyte != nil:
		return fmt.Sprintf("flyte launch plan %s version %s", w.Flyte.LaunchPlan, w.Flyte.Version)
	}
	return ""
}

// compile builds the Workflow template. Node IDs are short (n0, n1, ...)
// because they are status keys and pod name parts.
func (w *WorkflowSpec) compile() *v1alpha1.Workflow {
	task := v1alpha1.TaskSpec{
		Version:     w.Task.Version,
		Duration:    metav1.Duration{Duration: time.Duration(w.Task.Duration)},
		OutputBytes: int64(w.Task.OutputBytes),
		Cacheable:   w.Task.Cacheable,
		Retries:     int32(w.Task.Retries),
	}
	closure := &v1alpha1.WorkflowClosure{Tasks: map[string]v1alpha1.TaskSpec{TaskName: task}}
	t := v1alpha1.NewTemplate()
	taskNode := v1alpha1.NodeSpec{Kind: v1alpha1.NodeKindTask, Task: TaskName}
	id := func(i int) string { return fmt.Sprintf("n%d", i) }
	switch {
	case w.Chain != nil:
		chain(&t, w.Chain.Length, taskNode)
	case w.FanOut != nil:
		parallel(&t, w.FanOut.Width, "n", func(int) v1alpha1.NodeSpec { return taskNode })
	case w.DAG != nil:
		L, W := w.DAG.Layers, w.DAG.Width
		for l := range L {
			for j := range W {
				n := id(l*W + j)
				t.AddNode(n, taskNode)
				if l == 0 {
					t.AddEdge(v1alpha1.StartNodeID, n)
				} else {
					t.AddEdge(id((l-1)*W+j), n)
					t.AddEdge(id((l-1)*W+(j+1)%W), n)
				}
				if l == L-1 {
					t.AddEdge(n, v1alpha1.EndNodeID)
				}
			}
		}
	case w.Map != nil:
		parallel(&t, 1, "map", func(int) v1alpha1.NodeSpec {
			return v1alpha1.NodeSpec{Kind: v1alpha1.NodeKindMap, Task: TaskName, Map: &v1alpha1.MapSpec{
				Size: int32(w.Map.Size), Parallelism: int32(w.Map.Parallelism),
			}}
		})
	case w.Dynamic != nil:
		closure.Tasks[GeneratorTask] = v1alpha1.TaskSpec{Version: w.Task.Version, Duration: task.Duration}
		parallel(&t, 1, "dyn", func(int) v1alpha1.NodeSpec {
			return v1alpha1.NodeSpec{Kind: v1alpha1.NodeKindDynamic, Task: GeneratorTask, Dynamic: &v1alpha1.DynamicSpec{
				Width: int32(w.Dynamic.Width), Depth: int32(w.Dynamic.Depth), LeafTask: TaskName,
			}}
		})
	case w.SubWorkflows != nil:
		sub := v1alpha1.NewTemplate()
		chain(&sub, w.SubWorkflows.Length, taskNode)
		closure.SubWorkflows = map[string]v1alpha1.WorkflowTemplate{SubWorkflowName: sub}
		parallel(&t, w.SubWorkflows.Count, "sw", func(int) v1alpha1.NodeSpec {
			return v1alpha1.NodeSpec{Kind: v1alpha1.NodeKindSubWorkflow, SubWorkflow: SubWorkflowName}
		})
	case w.LaunchPlans != nil:
		sub := v1alpha1.NewTemplate()
		chain(&sub, w.LaunchPlans.Length, taskNode)
		closure.SubWorkflows = map[string]v1alpha1.WorkflowTemplate{SubWorkflowName: sub}
		parallel(&t, w.LaunchPlans.Count, "lp", func(int) v1alpha1.NodeSpec {
			return v1alpha1.NodeSpec{Kind: v1alpha1.NodeKindLaunchPlan, LaunchPlan: &v1alpha1.LaunchPlanSpec{Workflow: SubWorkflowName}}
		})
	}
	closure.Primary = t
	obj := &v1alpha1.Workflow{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: "Workflow"},
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{LabelBenchmark: w.Name}},
		Spec: v1alpha1.WorkflowSpec{
			Closure:         closure,
			OffloadClosure:  w.OffloadClosure,
			ExecutionConfig: v1alpha1.ExecutionConfig{MaxParallelism: int32(w.MaxParallelism)},
		},
	}
	if w.Inputs == InputsFixed {
		obj.Spec.Inputs = map[string]string{InputSeed: w.Name}
	}
	return obj
}

// chain adds n nodes n0 -> n1 -> ... between start and end.
func chain(t *v1alpha1.WorkflowTemplate, n int, node v1alpha1.NodeSpec) {
	prev := v1alpha1.StartNodeID
	for i := range n {
		id := fmt.Sprintf("n%d", i)
		t.AddNode(id, node)
		t.AddEdge(prev, id)
		prev = id
	}
	t.AddEdge(prev, v1alpha1.EndNodeID)
}

// parallel adds n nodes prefix0..prefix{n-1}, each between start and end.
// A single node keeps the bare prefix as its ID.
func parallel(t *v1alpha1.WorkflowTemplate, n int, prefix string, node func(int) v1alpha1.NodeSpec) {
	for i := range n {
		id := prefix
		if n > 1 || prefix == "n" {
			id = fmt.Sprintf("%s%d", prefix, i)
		}
		t.AddNode(id, node(i))
		t.AddEdge(v1alpha1.StartNodeID, id)
		t.AddEdge(id, v1alpha1.EndNodeID)
	}
}

// Counts is what one successful execution of a closure implies, with no
// retries and no cache hits. Start and end nodes are not counted.
type Counts struct {
	// Nodes counts every node that runs, nested ones (dynamic expansions,
	// sub-workflows, launch-plan children) included.
	Nodes int `json:"nodes"`
	// TaskNodes are task nodes, nested ones included (one pod each).
	TaskNodes int `json:"taskNodes"`
	// MapItems are the items of all map nodes (one pod each).
	MapItems int `json:"mapItems"`
	// DynamicNodes are dynamic nodes, nested ones included (one generator
	// pod each).
	DynamicNodes int `json:"dynamicNodes"`
	// SubWorkflows are sub-workflow nodes, run inline.
	SubWorkflows int `json:"subWorkflows"`
	// Children are launch-plan nodes, each creating one child Workflow.
	Children int `json:"children"`
	// Pods is the task pods created: task nodes + map items + generators.
	Pods int `json:"pods"`
	// CacheablePods are the pods of cacheable tasks: a warm execution
	// creates Pods - CacheablePods.
	CacheablePods int `json:"cacheablePods"`
	// Depth is the longest path from start to end, in nodes that run
	// (nested levels add their own depth): the serial steps.
	Depth int `json:"depth"`
	// WorkflowEvents, NodeEvents and TaskEvents are the events the
	// controller records: Running and Succeeded for each Workflow object
	// (launch-plan children included); Running and Succeeded for each
	// node, plus one Succeeded for every start and end node, nested ones
	// included; Running and the terminal phase for each pod. A cache hit
	// replaces a task node's two node events and its pod's two task events
	// with one node event.
	WorkflowEvents int `json:"workflowEvents"`
	NodeEvents     int `json:"nodeEvents"`
	TaskEvents     int `json:"taskEvents"`
}

func (c *Counts) add(o Counts) {
	c.Nodes += o.Nodes
	c.TaskNodes += o.TaskNodes
	c.MapItems += o.MapItems
	c.DynamicNodes += o.DynamicNodes
	c.SubWorkflows += o.SubWorkflows
	c.Children += o.Children
	c.Pods += o.Pods
	c.CacheablePods += o.CacheablePods
	c.WorkflowEvents += o.WorkflowEvents
	c.NodeEvents += o.NodeEvents
	c.TaskEvents += o.TaskEvents
}

// Count derives Counts from a closure. The aggregate can call it on the
// closure in an execution record.
func Count(c *v1alpha1.WorkflowClosure) Counts {
	if c == nil {
		return Counts{}
	}
	total := countTemplate(c, c.Primary)
	total.WorkflowEvents += 2
	return total
}

func countTemplate(c *v1alpha1.WorkflowClosure, t v1alpha1.WorkflowTemplate) Counts {
	var total Counts
	depth := map[string]int{} // longest path ending at a node, inclusive
	var visit func(id string) int
	visit = func(id string) int {
		if d, ok := depth[id]; ok {
			return d
		}
		depth[id] = 0 // a cycle, if any, counts as nothing rather than looping
		best := 0
		for _, up := range t.Connections.Upstream[id] {
			best = max(best, visit(up))
		}
		n := countNode(c, t.Nodes[id])
		depth[id] = best + n.Depth
		return depth[id]
	}
	for _, id := range sortedKeys(t.Nodes) {
		total.add(countNode(c, t.Nodes[id]))
	}
	total.Depth = visit(v1alpha1.EndNodeID)
	return total
}

// countNode counts one node, with its nested work; Depth is its own depth.
func countNode(c *v1alpha1.WorkflowClosure, n v1alpha1.NodeSpec) Counts {
	cacheable := func(task string, pods int) int {
		if c.Tasks[task].Cacheable {
			return pods
		}
		return 0
	}
	switch n.Kind {
	case v1alpha1.NodeKindStart, v1alpha1.NodeKindEnd:
		return Counts{NodeEvents: 1}
	case v1alpha1.NodeKindTask:
		return Counts{Nodes: 1, TaskNodes: 1, Pods: 1, CacheablePods: cacheable(n.Task, 1), Depth: 1, NodeEvents: 2, TaskEvents: 2}
	case v1alpha1.NodeKindMap:
		size := 0
		if n.Map != nil {
			size = int(n.Map.Size)
		}
		return Counts{Nodes: 1, MapItems: size, Pods: size, CacheablePods: cacheable(n.Task, size), Depth: 1, NodeEvents: 2, TaskEvents: 2 * size}
	case v1alpha1.NodeKindDynamic, v1alpha1.NodeKindSubWorkflow, v1alpha1.NodeKindLaunchPlan:
		out := map[v1alpha1.NodeKind]Counts{
			v1alpha1.NodeKindDynamic:     {Nodes: 1, DynamicNodes: 1, Pods: 1, CacheablePods: cacheable(n.Task, 1), NodeEvents: 2, TaskEvents: 2},
			v1alpha1.NodeKindSubWorkflow: {Nodes: 1, SubWorkflows: 1, NodeEvents: 2},
			v1alpha1.NodeKindLaunchPlan:  {Nodes: 1, Children: 1, NodeEvents: 2, WorkflowEvents: 2},
		}[n.Kind]
		if nested, err := c.Nested(n); err == nil {
			sub := countTemplate(c, nested)
			out.add(sub)
			out.Depth = sub.Depth
			if n.Kind == v1alpha1.NodeKindDynamic {
				out.Depth++ // the generator runs before its sub-DAG
			}
		}
		return out
	}
	return Counts{}
}
