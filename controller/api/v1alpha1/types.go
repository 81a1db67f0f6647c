package v1alpha1

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Workflow is one execution of a workflow closure. Like FlytePropeller's
// FlyteWorkflow it has no status subresource: the controller persists spec
// and status with one update per evaluation round.
//
// +genclient
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=wf,categories=benchctl
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Execution",type=string,JSONPath=`.spec.executionID`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:metadata:annotations="benchctl.dev/crd-revision=2"
type Workflow struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   WorkflowSpec   `json:"spec"`
	Status WorkflowStatus `json:"status,omitempty"`
}

// WorkflowList is a list of Workflows.
//
// +kubebuilder:object:root=true
type WorkflowList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Workflow `json:"items"`
}

// WorkflowSpec is what to run. Either Closure or ClosureRef is set.
type WorkflowSpec struct {
	// ExecutionID names this execution in spans, metrics, events and pod
	// labels. Defaults to metadata.name.
	// +optional
	ExecutionID string `json:"executionID,omitempty"`

	// Closure is the static definition: nodes, edges, tasks, sub-workflows.
	// It is nil once offloaded to the blobstore.
	//
	// Its schema is "any object", kept whole (atomic), as FlytePropeller's
	// CRD does for its spec: the API server validated and coerced every
	// field of it on every update, about half of what a 1,000-node
	// workflow's update cost. The controller checks it instead: a closure
	// that does not decode or does not validate fails its workflow at
	// once, naming the field.
	// +optional
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	// +mapType=atomic
	Closure *WorkflowClosure `json:"closure,omitempty"`

	// ClosureRef is the key, in the controller's blobstore, of the
	// offloaded closure (JSON of a WorkflowClosure).
	// +optional
	ClosureRef string `json:"closureRef,omitempty"`

	// OffloadClosure asks the controller to move the closure to the
	// blobstore before the first round. Unset means the controller's
	// configured default.
	// +optional
	OffloadClosure *bool `json:"offloadClosure,omitempty"`

	// Inputs are the workflow's input literals. They feed the input hash of
	// root nodes, so two executions with equal inputs share cache entries.
	// +optional
	Inputs map[string]string `json:"inputs,omitempty"`

	// ExecutionConfig holds per-execution knobs.
	// +optional
	ExecutionConfig ExecutionConfig `json:"executionConfig,omitempty"`
}

// ExecutionConfig holds per-execution knobs.
type ExecutionConfig struct {
	// MaxParallelism bounds how many nodes (task pods, map items, launch-plan
	// children) run at once across the whole execution. 0 means the
	// controller's configured maxParallelism (where 0 means unbounded).
	// +optional
	// +kubebuilder:validation:Minimum=0
	MaxParallelism int32 `json:"maxParallelism,omitempty"`
}

// WorkflowClosure is the static part of a workflow. It is what
// offloadClosure moves to the blobstore. It is atomic for server-side field
// management: the API server still validates it, but tracks it as one
// value instead of thousands of fields (a 1,000-node workflow's update
// takes a quarter less API server time; BenchmarkCRDUpdate).
//
// +structType=atomic
type WorkflowClosure struct {
	// Primary is the top-level DAG.
	Primary WorkflowTemplate `json:"primary"`
	// SubWorkflows are DAGs referenced by sub-workflow and launch-plan nodes.
	// +optional
	SubWorkflows map[string]WorkflowTemplate `json:"subWorkflows,omitempty"`
	// Tasks are referenced by task, map and dynamic nodes.
	Tasks map[string]TaskSpec `json:"tasks"`
}

// WorkflowTemplate is a DAG. It always has the nodes StartNodeID and
// EndNodeID; edges are kept in both directions, as in Flyte.
type WorkflowTemplate struct {
	// Nodes by ID.
	Nodes map[string]NodeSpec `json:"nodes"`
	// Connections are the edges.
	Connections Connections `json:"connections"`
}

// Connections holds the DAG's edges in both directions.
type Connections struct {
	// Downstream maps a node to the nodes that depend on it.
	// +optional
	Downstream map[string][]string `json:"downstream,omitempty"`
	// Upstream maps a node to the nodes it depends on.
	// +optional
	Upstream map[string][]string `json:"upstream,omitempty"`
}

// NodeKind is the kind of a node.
// +kubebuilder:validation:Enum=start;end;task;map;dynamic;subworkflow;launchplan
type NodeKind string

// Node kinds.
const (
	NodeKindStart       NodeKind = "start"
	NodeKindEnd         NodeKind = "end"
	NodeKindTask        NodeKind = "task"
	NodeKindMap         NodeKind = "map"
	NodeKindDynamic     NodeKind = "dynamic"
	NodeKindSubWorkflow NodeKind = "subworkflow"
	NodeKindLaunchPlan  NodeKind = "launchplan"
)

// Well-known node IDs of every WorkflowTemplate.
const (
	StartNodeID = "start-node"
	EndNodeID   = "end-node"
)

// NodeSpec is one node of a DAG.
type NodeSpec struct {
	// Kind of the node.
	Kind NodeKind `json:"kind"`
	// Task names an entry of the closure's Tasks (task, map and dynamic
	// nodes; for a dynamic node it is the task that produces the sub-DAG).
	// +optional
	Task string `json:"task,omitempty"`
	// Map configures a map node.
	// +optional
	Map *MapSpec `json:"map,omitempty"`
	// Dynamic configures a dynamic node.
	// +optional
	Dynamic *DynamicSpec `json:"dynamic,omitempty"`
	// SubWorkflow names an entry of the closure's SubWorkflows, run inline.
	// +optional
	SubWorkflow string `json:"subWorkflow,omitempty"`
	// LaunchPlan configures a launch-plan node.
	// +optional
	LaunchPlan *LaunchPlanSpec `json:"launchPlan,omitempty"`
}

// MapSpec fans a task out over Size items.
type MapSpec struct {
	// Size is the number of items.
	// +kubebuilder:validation:Minimum=1
	Size int32 `json:"size"`
	// Parallelism bounds concurrently running items of this node. 0 means
	// bounded only by the execution's MaxParallelism.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Parallelism int32 `json:"parallelism,omitempty"`
	// MinSuccessRatio is the fraction of items that must succeed for the
	// node to succeed (default 1).
	// +optional
	MinSuccessRatio *resource.Quantity `json:"minSuccessRatio,omitempty"`
}

// DynamicSpec describes the sub-DAG that a dynamic node's task produces.
// The sub-DAG is derived deterministically from it (see Expand), both by
// benchtask in real pods and by the controller when pods are simulated.
type DynamicSpec struct {
	// Width is the number of nodes the sub-DAG runs in parallel.
	// +kubebuilder:validation:Minimum=1
	Width int32 `json:"width"`
	// Depth is the nesting depth: at depth 1 the sub-DAG holds Width task
	// nodes; at depth d > 1 it holds Width dynamic nodes of depth d-1.
	// +kubebuilder:validation:Minimum=1
	Depth int32 `json:"depth"`
	// LeafTask names the closure task that the depth-1 sub-DAG's nodes run.
	LeafTask string `json:"leafTask"`
}

// LaunchPlanSpec launches a child Workflow.
type LaunchPlanSpec struct {
	// Workflow names an entry of the closure's SubWorkflows that becomes
	// the child's primary DAG.
	Workflow string `json:"workflow"`
}

// TaskSpec is a unit of user code. Its behaviour is declared, so user time
// is known ground truth.
type TaskSpec struct {
	// Version is part of the cache key.
	// +optional
	Version string `json:"version,omitempty"`
	// Duration the user code runs.
	// +optional
	Duration metav1.Duration `json:"duration,omitempty"`
	// OutputBytes is the size of the output the task writes.
	// +optional
	// +kubebuilder:validation:Minimum=0
	OutputBytes int64 `json:"outputBytes,omitempty"`
	// Cacheable tasks are looked up in the catalog before they run.
	// +optional
	Cacheable bool `json:"cacheable,omitempty"`
	// Retries is the number of extra attempts after a failure.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Retries int32 `json:"retries,omitempty"`
	// FailAttempts makes the first FailAttempts attempts fail, for tests
	// of retry and failure semantics.
	// +optional
	// +kubebuilder:validation:Minimum=0
	FailAttempts int32 `json:"failAttempts,omitempty"`
	// Image overrides the controller's default task image.
	// +optional
	Image string `json:"image,omitempty"`
}

// WorkflowPhase is the phase of a workflow.
type WorkflowPhase string

// Workflow phases.
const (
	WorkflowPending   WorkflowPhase = ""
	WorkflowRunning   WorkflowPhase = "Running"
	WorkflowSucceeded WorkflowPhase = "Succeeded"
	WorkflowFailing   WorkflowPhase = "Failing"
	WorkflowFailed    WorkflowPhase = "Failed"
	WorkflowAborted   WorkflowPhase = "Aborted"
)

// IsTerminal reports whether the phase is final.
func (p WorkflowPhase) IsTerminal() bool {
	return p == WorkflowSucceeded || p == WorkflowFailed || p == WorkflowAborted
}

// NodePhase is the phase of a node.
type NodePhase string

// Node phases.
const (
	NodeNotStarted NodePhase = ""
	NodeQueued     NodePhase = "Queued"
	NodeRunning    NodePhase = "Running"
	NodeSucceeded  NodePhase = "Succeeded"
	NodeFailed     NodePhase = "Failed"
	NodeSkipped    NodePhase = "Skipped"
	NodeAborted    NodePhase = "Aborted"
)

// IsTerminal reports whether the phase is final.
func (p NodePhase) IsTerminal() bool {
	return p == NodeSucceeded || p == NodeFailed || p == NodeSkipped || p == NodeAborted
}

// WorkflowStatus is the controller's record of an execution.
type WorkflowStatus struct {
	// Phase of the workflow.
	// +optional
	Phase WorkflowPhase `json:"phase,omitempty"`
	// Message explains a failure.
	// +optional
	Message string `json:"message,omitempty"`
	// DataDir is the blobstore prefix of this execution's data.
	// +optional
	DataDir string `json:"dataDir,omitempty"`
	// StartedAt and FinishedAt are unix nanoseconds: metav1.Time keeps
	// whole seconds only.
	// +optional
	StartedAt int64 `json:"startedAt,omitempty"`
	// +optional
	FinishedAt int64 `json:"finishedAt,omitempty"`
	// Nodes by path. Nested nodes (inside dynamic and sub-workflow nodes)
	// are flattened with NodePathSeparator, e.g. "d0/n3/n1". The map is
	// atomic so that managedFields do not repeat every key, and its schema
	// is "any object": the controller alone writes it, and validating
	// every node's fields was two thirds of an offloaded 1,000-node
	// workflow's update (BenchmarkCRDUpdate).
	// +optional
	// +mapType=atomic
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	Nodes map[string]NodeStatus `json:"nodes,omitempty"`
}

// NodePathSeparator joins the IDs of nested nodes into a status key.
const NodePathSeparator = "/"

// NodeStatus is one node's state. It is kept small: a 1,000-node workflow
// must fit far below etcd's object size limit.
type NodeStatus struct {
	// Phase of the node.
	// +optional
	Phase NodePhase `json:"phase,omitempty"`
	// Attempts made so far.
	// +optional
	Attempts int32 `json:"attempts,omitempty"`
	// Cached is true when the catalog served the outputs and no pod ran.
	// +optional
	Cached bool `json:"cached,omitempty"`
	// Message explains a failure.
	// +optional
	Message string `json:"message,omitempty"`
	// Launched is when the pod create call of the current attempt returned,
	// unix nanoseconds.
	// +optional
	Launched int64 `json:"launched,omitempty"`
	// Started and Finished are when user code began and ended, unix
	// nanoseconds, from the pod's termination message.
	// +optional
	Started int64 `json:"started,omitempty"`
	// +optional
	Finished int64 `json:"finished,omitempty"`
	// Map is the compact per-item state of a map node.
	// +optional
	Map *MapStatus `json:"map,omitempty"`
	// DynamicRef is the blobstore URL of a dynamic node's sub-DAG.
	// +optional
	DynamicRef string `json:"dynamicRef,omitempty"`
	// Child is the name of a launch-plan node's child Workflow.
	// +optional
	Child string `json:"child,omitempty"`
}

// MapStatus holds one byte per item (see the MapItem* constants), so a
// 10,000-item map costs about 10 kB of the object.
type MapStatus struct {
	// Items has one MapItem* byte per item.
	Items string `json:"items"`
	// Retried lists "index:attempts" for items that needed more than one
	// attempt, comma-separated; empty when none did.
	// +optional
	Retried string `json:"retried,omitempty"`
}

// Map item states, one byte each in MapStatus.Items.
const (
	MapItemNotStarted = '.'
	MapItemRunning    = 'R'
	MapItemSucceeded  = 'S'
	MapItemFailed     = 'F'
	MapItemCached     = 'C'
)
