// Package reports defines benchctl's versioned report format
// (apiVersion benchctl/v1, kind Report), the statistics every number in a
// report is computed with, the text/Markdown/Go-benchmark renderers, and
// the diff of two reports with its significance tests and CI gate.
//
// # Units
//
// Every statistic is a [Stats] with a unit field. Times are seconds as
// float64 (unit "s"), so YAML stays readable and any tool can read it
// without a duration parser; counts are unit "count" and shares of a total
// are unit "ratio" (0..1). The raw samples, one per measured execution,
// are kept next to the summary: the summary is recomputed from them when a
// report is saved or loaded, and a mismatch is an error, so nothing in a
// report can be typed in by hand or synthesised.
//
// # Constructors
//
// The aggregate stage builds a report with [NewWorkflow] from one
// [ExecutionSample] per measured execution (or, at a lower level, with
// [NewStats], [NewBreakdown] and [NewInfraMetric]), [NewConfig] for the
// effective controller config and its hash, [CurrentHost], [NewReason]
// and [NewValidity], then [Save]s it.
package reports

import "time"

// Schema identifiers. A report with another apiVersion or kind is refused
// by Load, so a future v2 never gets misread as v1.
const (
	APIVersion = "benchctl/v1"
	KindReport = "Report"
	KindDiff   = "Diff"
)

// Units of a Stats.
const (
	UnitSeconds = "s"
	UnitCount   = "count"
	UnitRatio   = "ratio"
)

// Report is one benchmark run of one config: the environment it ran in,
// how it ran, the measurements per workflow and whether they can be
// trusted.
type Report struct {
	APIVersion  string      `yaml:"apiVersion"`
	Kind        string      `yaml:"kind"`
	Environment Environment `yaml:"environment"`
	Run         RunInfo     `yaml:"run"`
	// Workflows are in portfolio order.
	Workflows []Workflow `yaml:"workflows"`
	Validity  Validity   `yaml:"validity"`
}

// Environment fingerprints everything that can change a result. Two
// reports are comparable when schema, provider and portfolio hash agree.
type Environment struct {
	// Engine is what ran the workflows (absent in reports made before
	// benchctl had engines: the bundled controller).
	Engine     *Engine    `yaml:"engine,omitempty" json:"engine,omitempty"`
	Provider   Provider   `yaml:"provider" json:"provider"`
	Benchctl   BuildInfo  `yaml:"benchctl" json:"benchctl"`
	Controller Controller `yaml:"controller" json:"controller"`
	Config     Config     `yaml:"config" json:"config"`
	// Admin is the admin service the controller reported events to
	// (absent when its event sink was not admin).
	Admin *Admin `yaml:"admin,omitempty" json:"admin,omitempty"`
	// Floor is the cluster's calibrated floor (absent when the run did
	// not calibrate, or in reports made before benchctl did).
	Floor     *Floor    `yaml:"floor,omitempty" json:"floor,omitempty"`
	Portfolio Portfolio `yaml:"portfolio" json:"portfolio"`
	Host      Host      `yaml:"host" json:"host"`
}

// Engines: what runs a report's workflows.
const (
	// EngineBundled is benchctl's own FlytePropeller-style controller.
	EngineBundled = "bundled"
	// EngineFlyte is a Flyte deployment, driven through Flyte Admin.
	EngineFlyte = "flyte"
)

// Engine names what ran the workflows and its version: the bundled
// controller's build, or the Flyte release Admin reports.
type Engine struct {
	Name    string `yaml:"name" json:"name"`
	Version string `yaml:"version" json:"version"`
}

// EngineName is the environment's engine, the bundled controller when
// the report names none.
func (e Environment) EngineName() string {
	if e.Engine == nil || e.Engine.Name == "" {
		return EngineBundled
	}
	return e.Engine.Name
}

// Admin is the admin service's effective configuration: its build and
// the kind of database it persists events in (never its DSN).
type Admin struct {
	Version  string `yaml:"version" json:"version"`
	Commit   string `yaml:"commit" json:"commit"`
	Database string `yaml:"database" json:"database"`
}

// Provider is the cluster the run used.
type Provider struct {
	// Name is local, kind, eks, gke or existing.
	Name              string `yaml:"name" json:"name"`
	KubernetesVersion string `yaml:"kubernetesVersion" json:"kubernetesVersion"`
	Nodes             int    `yaml:"nodes" json:"nodes"`
	// Options are the provider options that can change results (instance
	// types, region, KWOK stage delays, ...).
	Options map[string]string `yaml:"options,omitempty" json:"options,omitempty"`
}

// BuildInfo identifies a binary: its version and the commit it was built
// from.
type BuildInfo struct {
	Version string `yaml:"version" json:"version"`
	Commit  string `yaml:"commit" json:"commit"`
}

// Controller identifies the controller under test.
type Controller struct {
	Version string `yaml:"version" json:"version"`
	Commit  string `yaml:"commit" json:"commit"`
	// Source is where it was built from: a directory or a git ref.
	Source string `yaml:"source,omitempty" json:"source,omitempty"`
}

// Config is the named controller config with its effective values (after
// defaults) and their hash; build it with NewConfig.
type Config struct {
	Name   string         `yaml:"name" json:"name"`
	Values map[string]any `yaml:"values,omitempty" json:"values,omitempty"`
	// Hash is "sha256:" + hex of the canonical JSON of Values.
	Hash string `yaml:"hash" json:"hash"`
}

// Portfolio identifies the workflows that ran.
type Portfolio struct {
	Name string `yaml:"name" json:"name"`
	Tier string `yaml:"tier" json:"tier"`
	// Hash covers the compiled portfolio; diff refuses reports whose
	// hashes differ because they did not run the same workflows.
	Hash string `yaml:"hash" json:"hash"`
}

// Host is the machine benchctl ran on; build it with CurrentHost.
type Host struct {
	OS        string `yaml:"os" json:"os"`
	Arch      string `yaml:"arch" json:"arch"`
	CPUs      int    `yaml:"cpus" json:"cpus"`
	GoVersion string `yaml:"goVersion" json:"goVersion"`
}

// Interleaving modes.
const (
	// InterleaveNone: each config's repetitions ran back to back.
	InterleaveNone = "none"
	// InterleaveAlternating: configs alternated repetition by repetition,
	// each repetition in the order of the next row of a Williams design
	// (A B, B A, ... for two; balanced for position and carry-over for
	// any number), so drift and position effects hit all of them alike.
	InterleaveAlternating = "alternating"
)

// RunInfo says how the executions were scheduled.
type RunInfo struct {
	// Warmup executions ran first and are not in any statistic.
	Warmup int `yaml:"warmup"`
	// Warmup and Repetitions are the most warm-ups and measured
	// executions planned for any workflow; Workflow.Planned is each
	// workflow's own, Workflow.Executions how many produced samples.
	Repetitions  int          `yaml:"repetitions"`
	Start        time.Time    `yaml:"start"`
	End          time.Time    `yaml:"end"`
	Interleaving Interleaving `yaml:"interleaving"`
}

// Interleaving records whether this config's executions alternated with
// other configs' executions.
type Interleaving struct {
	Mode string `yaml:"mode"`
	// Configs lists the configs in the order they alternated.
	Configs []string `yaml:"configs,omitempty,flow"`
}

// Workflow holds the measurements of one portfolio workflow over its
// measured executions. Every Stats in it has one sample per execution,
// in execution order, except infrastructure latencies (see InfraMetric).
type Workflow struct {
	Name string `yaml:"name"`
	// Planned is the number of measured executions planned.
	Planned int `yaml:"planned,omitempty"`
	// Executions is the number of measured executions: the sample count.
	Executions int `yaml:"executions"`
	// Stopped says why a run with adaptive repetitions (run
	// --target-precision) stopped measuring the workflow; absent for a
	// fixed number of repetitions.
	Stopped *Stopped `yaml:"stopped,omitempty"`
	// Wall is created -> the workflow's success persisted.
	Wall Stats `yaml:"wall"`
	// Setup is created -> the start node's success persisted.
	Setup Stats `yaml:"setup"`
	// Teardown is the last node done -> the workflow's success persisted.
	Teardown Stats `yaml:"teardown"`
	// Overhead sums the per-node breakdown of each execution: over
	// parallel nodes these are node-seconds, not seconds of wall time
	// (CriticalPath has those).
	Overhead Breakdown `yaml:"overhead"`
	// Nodes has the same breakdown per node, in first-seen order.
	Nodes []Node `yaml:"nodes,omitempty"`
	// Infrastructure is the table of operation counts and latencies.
	Infrastructure []InfraMetric `yaml:"infrastructure,omitempty"`
	// CriticalPath is where the wall time went (absent in reports made
	// before benchctl measured it).
	CriticalPath *CriticalPath `yaml:"criticalPath,omitempty"`
	// Attempts counts the units of user code per execution: task-node
	// attempts, map items' attempts, cache hits, children's included.
	Attempts *Stats `yaml:"attempts,omitempty"`
	// PathSteps counts, per execution, the serial steps of the critical
	// path: the attempts whose pod time lies on it (a chain's nodes; a
	// fan-out's one branch).
	PathSteps *Stats `yaml:"pathSteps,omitempty"`
	// FloorMultiple is, per execution, the controller time on the
	// critical path per serial step over the environment's floor per
	// serial node (ratio): how many floors the controller spends on each
	// step the workflow's end waited for. On a chain it is the controller
	// time per node; 1 would be a controller that adds nothing to the API
	// work a node needs.
	FloorMultiple *Stats `yaml:"floorMultiple,omitempty"`
	// Clamped counts the instants moved to keep each execution's instants
	// in order, and by how much in all.
	Clamped *Clamped `yaml:"clamped,omitempty"`
	// Events compares the admin service's persisted events with the
	// trace (absent without an admin service).
	Events *EventCheck `yaml:"events,omitempty"`
}

// EventCheck is the cross-check of the admin service's events against the
// trace, over a workflow's executions.
type EventCheck struct {
	// Persisted is the number of events the service persisted per
	// execution (equal, by a validity check, to those the controller sent).
	Persisted Stats `yaml:"persisted"`
	// Compared is the number of task attempts per execution whose
	// event-derived runtime (the service's TASK_RUNTIME) was compared with
	// the span-derived one (launched to finished).
	Compared Stats `yaml:"compared"`
	// MaxDisagreement is the largest difference found, in seconds, at
	// Node; Tolerance is the bound beyond which a run is invalid.
	MaxDisagreement float64 `yaml:"maxDisagreement"`
	Node            string  `yaml:"node,omitempty"`
	Tolerance       float64 `yaml:"tolerance"`
}

// Stopped is why adaptive repetitions stopped for a workflow.
type Stopped struct {
	// Reason is "precision" (the interval reached the target),
	// "max-repetitions" or "failed-execution".
	Reason string `yaml:"reason" json:"reason"`
	// Repetitions is the measured repetitions per config at the stop.
	Repetitions int `yaml:"repetitions" json:"repetitions"`
	// Precision is the widest relative half-width of the wall intervals
	// the rule looked at (absent when there was no finite interval), and
	// Target the one asked for.
	Precision *float64 `yaml:"precision,omitempty" json:"precision,omitempty"`
	Target    float64  `yaml:"target" json:"target"`
}

// Breakdown splits node time (done - ready) into user, kubernetes and
// controller time. Build it with NewBreakdown, which also derives Total
// and the ratios from the same samples.
type Breakdown struct {
	// User is finished - started: the task's own code.
	User Stats `yaml:"user"`
	// Kubernetes is started - launched: scheduling and pod start.
	Kubernetes Stats `yaml:"kubernetes"`
	// Controller is (launched - ready) + (done - finished).
	Controller Stats `yaml:"controller"`
	// Total is user + kubernetes + controller of each execution.
	Total Stats `yaml:"total"`
	// The ratios are each part over Total, per execution (0 when Total
	// is 0). For a workflow they are ratios of the sums over its nodes.
	UserRatio       Stats `yaml:"userRatio"`
	KubernetesRatio Stats `yaml:"kubernetesRatio"`
	ControllerRatio Stats `yaml:"controllerRatio"`
}

// Node is one node's breakdown. Name is its status path (nested nodes
// joined by "/", as in the Workflow status).
type Node struct {
	Name      string `yaml:"name"`
	Kind      string `yaml:"kind,omitempty"`
	Breakdown `yaml:",inline"`
}

// Infrastructure metric names, in the order the table shows them.
const (
	InfraEventsWorkflow = "events.workflow"
	InfraEventsNode     = "events.node"
	InfraEventsTask     = "events.task"
	// InfraAdminWrites is the admin service's database transaction per
	// persisted event (its own timing, reported with each event).
	InfraAdminWrites = "admin.db.writes"
	InfraCRDUpdates  = "crd.updates"
	InfraBlobReads   = "blob.reads"
	InfraBlobWrites  = "blob.writes"
	InfraCatalogGets = "catalog.gets"
	InfraCatalogPuts = "catalog.puts"
	InfraPodCreates  = "pod.creates"
	InfraRounds      = "rounds"
	InfraStreaks     = "streaks"
)

// InfraMetrics lists the standard infrastructure metrics in table order.
var InfraMetrics = []string{
	InfraEventsWorkflow, InfraEventsNode, InfraEventsTask, InfraAdminWrites, InfraCRDUpdates,
	InfraBlobReads, InfraBlobWrites, InfraCatalogGets, InfraCatalogPuts,
	InfraPodCreates, InfraRounds, InfraStreaks,
}

// InfraMetric is one row of the infrastructure table. Count has one
// sample per execution (how many operations it did). P50..Max are
// quantiles of that execution's operation latencies, so they have one
// sample per execution that did at least one operation, or none at all
// in a row of counts only (where the engine exposes no latency per
// operation, as Flyte's propeller does not).
type InfraMetric struct {
	Name  string `yaml:"name"`
	Count Stats  `yaml:"count"`
	P50   Stats  `yaml:"p50"`
	P90   Stats  `yaml:"p90"`
	P95   Stats  `yaml:"p95"`
	Max   Stats  `yaml:"max"`
}

// Severities of a validity reason.
const (
	// SeverityInvalid makes the run invalid: its numbers must not be used.
	SeverityInvalid = "invalid"
	// SeverityWarning is shown but leaves the run valid.
	SeverityWarning = "warning"
)

// Kinds of validity reasons.
const (
	ReasonFailedExecution = "failed-execution"
	ReasonTimedOut        = "timed-out"
	ReasonDroppedSpans    = "dropped-spans"
	// ReasonDroppedEvents: the controller dropped workflow, node or task
	// events (its rate limit, or a sink that failed them after retries).
	ReasonDroppedEvents = "dropped-events"
	// ReasonEventDisagreement: the admin service's event-derived task
	// runtime differs from the trace's beyond the tolerance.
	ReasonEventDisagreement = "event-disagreement"
	ReasonCountMismatch     = "count-mismatch"
	ReasonClockSkew         = "clock-skew"
	// ReasonIncompleteTrace: the spans lacked something a measurement
	// needs (a pod create, a persisted success), so it was not computed.
	ReasonIncompleteTrace   = "incomplete-trace"
	ReasonTooFewRepetitions = "too-few-repetitions"
	ReasonNoisySamples      = "noisy-samples"
	// ReasonMissingExecutions: planned executions have no record (the
	// run was interrupted); the report covers what was recorded.
	ReasonMissingExecutions = "missing-executions"
	// ReasonClamped: instants moved to keep order are a large share of a
	// workflow's kubernetes time, so its split is uncertain.
	ReasonClamped = "clamped-instants"
	// ReasonForcedResume: the run was resumed with --force although its
	// controller, config or portfolio differed from what it started with.
	ReasonForcedResume = "forced-resume"
	// ReasonAPIServerRestart: the kube-apiserver restarted during an
	// execution (its process start time changed between the scrapes), so
	// its counts restarted from zero and the execution's API work
	// includes the outage.
	ReasonAPIServerRestart = "apiserver-restarted"
)

// defaultSeverity says which reasons invalidate a run. Too few or noisy
// samples weaken conclusions but are not wrong numbers; the diff reports
// their consequence (no significance) row by row.
var defaultSeverity = map[string]string{
	ReasonFailedExecution:   SeverityInvalid,
	ReasonTimedOut:          SeverityInvalid,
	ReasonDroppedSpans:      SeverityInvalid,
	ReasonDroppedEvents:     SeverityInvalid,
	ReasonEventDisagreement: SeverityInvalid,
	ReasonCountMismatch:     SeverityInvalid,
	ReasonClockSkew:         SeverityInvalid,
	ReasonIncompleteTrace:   SeverityInvalid,
	ReasonTooFewRepetitions: SeverityWarning,
	ReasonNoisySamples:      SeverityWarning,
	ReasonMissingExecutions: SeverityWarning,
	ReasonClamped:           SeverityWarning,
	ReasonForcedResume:      SeverityWarning,
	ReasonAPIServerRestart:  SeverityInvalid,
}

// Validity is the run's verdict. Valid is false exactly when a reason has
// severity invalid; build it with NewValidity.
type Validity struct {
	Valid   bool     `yaml:"valid"`
	Reasons []Reason `yaml:"reasons,omitempty"`
}

// Reason is one finding about the run.
type Reason struct {
	Kind     string `yaml:"kind"`
	Severity string `yaml:"severity"`
	// Workflow is empty for run-wide findings.
	Workflow string `yaml:"workflow,omitempty"`
	Message  string `yaml:"message"`
}
