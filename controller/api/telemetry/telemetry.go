// Package telemetry is the observability contract between the bundled
// controller, which emits these spans and metrics, and the harness, which
// turns them into measurements. Both sides use these names and nothing
// else, so a rename breaks the build rather than a report.
//
// Rounds. Every evaluation round is one workflow.streak span inside a
// workflow.handle (attr workflow = the Workflow object's name). It holds
// one node.handle per node that did work or changed phase, and ends with
// at most one workflow.update (the CR write). A round is greedy: the nodes
// that a success unblocks take their step in the same round, so a node's
// pod.create can precede the workflow.update that persists its upstream
// node's success (its ready instant): launched - ready is then negative by
// about one update, and the controller time (launched - ready) + (done -
// finished) still sums with user and kubernetes time to done - ready.
//
// Nested nodes. A node inside a dynamic node's sub-DAG or a sub-workflow
// has the status path <parent path>/<id> (v1alpha1.NodePathSeparator) in
// AttrNode. Every nested DAG has a start and an end node, each moved to
// Succeeded by a node.handle (so ready(<p>/n) = max done(<p>/upstream),
// down to done(<p>/start-node)); the parent node's node.handle to
// Succeeded is in the same round as its end node's. The nested DAG is
// v1alpha1.ExpandDynamic(task, dynamic) for a dynamic node and
// closure.SubWorkflows[subWorkflow] for a sub-workflow node.
//
// Dynamic nodes. A dynamic node's generator task runs as attempts of the
// node itself: pod.create with node = the dynamic node's path, and the
// node.handle that observes the generator pod's end carries
// AttrUserStarted/AttrUserFinished (phase.from and phase.to Running: the
// node keeps running its sub-DAG, which starts in the same round).
//
// Launch plans. A launch-plan node's node.handle NotStarted -> Running
// holds a workflow.create span (AttrNode, AttrChild) for the child
// Workflow, whose spec.executionID is the parent's: the child's spans,
// under its own workflow.handle (workflow = child name), and its pods
// (v1alpha1.LabelExecution) belong to the parent's execution. The node's
// node.handle Running -> Succeeded comes in the parent round that sees the
// child succeeded. Every span of a child is counted in the same metrics.
package telemetry

// Span names, outermost first. The Go names say what a span is; the wire
// names are older and stay for compatibility with recorded runs.
const (
	// SpanStreak is one work-queue item: the streak of rounds one worker
	// runs on its in-memory copy, bounded by maxStreakLength.
	SpanStreak = "workflow.handle"
	// SpanRound is one evaluation round inside a streak.
	SpanRound = "workflow.streak"
	// SpanNodeHandle is one node's evaluation within a round that moved it.
	SpanNodeHandle = "node.handle"
	// SpanCatalogGet and SpanCatalogPut are cache catalog operations.
	SpanCatalogGet = "catalog.get"
	SpanCatalogPut = "catalog.put"
	// SpanBlobRead and SpanBlobWrite are blobstore operations.
	SpanBlobRead  = "blob.read"
	SpanBlobWrite = "blob.write"
	// SpanPodCreate is a task pod create call.
	SpanPodCreate = "pod.create"
	// SpanEventRecord is one workflow, node or task event sent to the sink.
	SpanEventRecord = "event.record"
	// SpanWorkflowUpdate is the CRD write (etcd) that ends a round.
	SpanWorkflowUpdate = "workflow.update"
	// SpanWorkflowCreate is a launch-plan child Workflow create call.
	SpanWorkflowCreate = "workflow.create"
)

// Span attribute keys. Every span carries AttrExecution.
const (
	AttrExecution = "execution.id"
	AttrWorkflow  = "workflow"
	AttrNamespace = "namespace"
	// AttrRound is the round's index within its workflow.handle (from 0).
	AttrRound = "round"
	// AttrNode is the node's status path (see v1alpha1.NodePathSeparator).
	AttrNode      = "node"
	AttrNodeKind  = "node.kind"
	AttrPhaseFrom = "phase.from"
	AttrPhaseTo   = "phase.to"
	AttrAttempt   = "attempt"
	// AttrMapItem is the item index on spans of a map node's item.
	AttrMapItem = "map.item"
	// AttrUserStarted and AttrUserFinished are the user-code instants (unix
	// nanoseconds) read from the pod's termination message; set on the
	// node.handle span that observes the pod's end.
	AttrUserStarted  = "user.started"
	AttrUserFinished = "user.finished"
	// AttrPodEndSeen is when the controller's pod informer delivered the
	// pod's end (unix nanoseconds), on the same node.handle span: between
	// user.finished and it lie the kubelet's (KWOK's) status write and the
	// watch; between it and the span's start, the wait for a round. Absent
	// when the end was found without an event (a resync, a restart).
	AttrPodEndSeen = "pod.end.seen"
	// AttrCached is set on node.handle when the catalog served the node.
	AttrCached = "cached"
	// AttrEventKind is workflow, node or task.
	AttrEventKind = "event.kind"
	// AttrBlobPurpose is inputs, outputs, closure or dynamic.
	AttrBlobPurpose = "blob.purpose"
	AttrBlobBytes   = "blob.bytes"
	// AttrCacheHit is set on catalog.get.
	AttrCacheHit = "cache.hit"
	// AttrUpdateResult is ok, conflict, too_large or error on workflow.update.
	AttrUpdateResult = "update.result"
	// AttrUpdateBytes is the size of the object written.
	AttrUpdateBytes = "update.bytes"
	// AttrWorkflowPhase is the workflow phase that a workflow.update persisted.
	AttrWorkflowPhase = "workflow.phase"
	// AttrPod is the pod name on pod.create.
	AttrPod = "pod"
	// AttrChild is the child Workflow name on workflow.create.
	AttrChild = "child"
)

// Values of AttrUpdateResult.
const (
	UpdateOK       = "ok"
	UpdateConflict = "conflict"
	UpdateTooLarge = "too_large"
	UpdateError    = "error"
)

// Prometheus metric names (namespace benchflow). Histograms are in seconds.
const (
	MetricRoundDuration    = "benchflow_round_duration_seconds"
	MetricRounds           = "benchflow_rounds_total"
	MetricStreakLength     = "benchflow_streak_length_rounds"
	MetricWorkersFree      = "benchflow_workers_free"
	MetricQueueDepth       = "benchflow_queue_depth"
	MetricWorkflowUpdate   = "benchflow_workflow_update_duration_seconds" // label result
	MetricUpdateConflicts  = "benchflow_workflow_update_conflicts_total"
	MetricUpdateTooLarge   = "benchflow_workflow_update_too_large_total"
	MetricEventRecord      = "benchflow_event_record_duration_seconds" // label kind
	MetricEventsDropped    = "benchflow_events_dropped_total"          // label kind
	MetricBlobOperation    = "benchflow_blob_operation_duration_seconds"
	MetricCatalogOperation = "benchflow_catalog_operation_duration_seconds" // label op=get|put
	MetricCatalogHits      = "benchflow_catalog_hits_total"
	MetricCatalogMisses    = "benchflow_catalog_misses_total"
	MetricPodCreate        = "benchflow_pod_create_duration_seconds"
	MetricWorkflowCreate   = "benchflow_workflow_create_duration_seconds"
	MetricSpansDropped     = "benchflow_spans_dropped_total"
	MetricNodeTransitions  = "benchflow_node_transitions_total" // labels kind, to
	LabelResult            = "result"
	LabelKind              = "kind"
	LabelOp                = "op"
	LabelTo                = "to"
)

// HTTP endpoints the controller serves on its (loopback by default) address.
const (
	// PathMetrics is the Prometheus endpoint.
	PathMetrics = "/metrics"
	// PathSpans serves one execution's spans as an OTLP
	// ExportTraceServiceRequest for GET ?execution=ID, in JSON, or in
	// protobuf when the request accepts ContentTypeProtobuf; DELETE frees
	// them.
	PathSpans = "/v1/spans"
	// ContentTypeProtobuf is OTLP/HTTP's protobuf media type.
	ContentTypeProtobuf = "application/x-protobuf"
	// HeaderSpansDropped carries the count of spans dropped for the
	// execution because the in-memory store was full.
	HeaderSpansDropped = "X-Benchflow-Spans-Dropped"
	// PathConfig serves the effective config (after defaults) as YAML.
	PathConfig = "/v1/config"
	// PathVersion serves the controller's version as JSON.
	PathVersion = "/v1/version"
	PathHealthz = "/healthz"
	PathReadyz  = "/readyz"
	// PathPprof serves Go's net/http/pprof profiles (go tool pprof
	// http://ADDR/debug/pprof/profile).
	PathPprof = "/debug/pprof/"
	// PathCPUProfile starts a CPU profile on POST and, on DELETE, stops
	// it and returns it (pprof's gzipped protobuf): a profile exactly as
	// long as one execution, which /debug/pprof/profile?seconds=N cannot
	// give when N is not known beforehand. A second POST is 409.
	PathCPUProfile = "/debug/cpuprofile"
)
