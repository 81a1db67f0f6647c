package obs

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/benchctl/benchctl/controller/api/telemetry"
)

// Metrics are the controller's Prometheus metrics, named in
// controller/api/telemetry.
type Metrics struct {
	Registry *prometheus.Registry

	RoundDuration    prometheus.Histogram
	Rounds           prometheus.Counter
	StreakLength     prometheus.Histogram
	WorkersFree      prometheus.Gauge
	QueueDepth       prometheus.Gauge
	WorkflowUpdate   *prometheus.HistogramVec // result
	UpdateConflicts  prometheus.Counter
	UpdateTooLarge   prometheus.Counter
	EventRecord      *prometheus.HistogramVec // kind
	EventsDropped    *prometheus.CounterVec   // kind
	BlobOperation    *prometheus.HistogramVec // op
	CatalogOperation *prometheus.HistogramVec // op
	CatalogHits      prometheus.Counter
	CatalogMisses    prometheus.Counter
	PodCreate        prometheus.Histogram
	WorkflowCreate   prometheus.Histogram
	SpansDropped     prometheus.Counter
	NodeTransitions  *prometheus.CounterVec // kind, to
}

// latencyBuckets span 250µs to about 60s: local CR updates take a few
// milliseconds, cloud ones hundreds.
var latencyBuckets = prometheus.ExponentialBucketsRange(0.00025, 60, 24)

// NewMetrics registers the metrics, plus Go and process collectors, in a
// fresh registry (not the global one, so several controllers can live in
// one test binary).
func NewMetrics() *Metrics {
	reg := prometheus.NewRegistry()
	hist := func(name, help string) prometheus.Histogram {
		return prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: latencyBuckets})
	}
	histVec := func(name, help string, labels ...string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: latencyBuckets}, labels)
	}
	m := &Metrics{
		Registry:      reg,
		RoundDuration: hist(telemetry.MetricRoundDuration, "Duration of one evaluation round of a workflow, its CR update included."),
		Rounds:        prometheus.NewCounter(prometheus.CounterOpts{Name: telemetry.MetricRounds, Help: "Evaluation rounds run."}),
		StreakLength: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: telemetry.MetricStreakLength, Help: "Rounds run by one work item (a streak), bounded by maxStreakLength.",
			Buckets: prometheus.LinearBuckets(1, 1, 16),
		}),
		WorkersFree:      prometheus.NewGauge(prometheus.GaugeOpts{Name: telemetry.MetricWorkersFree, Help: "Workers not handling a workflow."}),
		QueueDepth:       prometheus.NewGauge(prometheus.GaugeOpts{Name: telemetry.MetricQueueDepth, Help: "Workflows waiting in the work queue."}),
		WorkflowUpdate:   histVec(telemetry.MetricWorkflowUpdate, "Duration of Workflow CR updates (one per round that changed something), by result.", telemetry.LabelResult),
		UpdateConflicts:  prometheus.NewCounter(prometheus.CounterOpts{Name: telemetry.MetricUpdateConflicts, Help: "Workflow CR updates rejected with a resourceVersion conflict."}),
		UpdateTooLarge:   prometheus.NewCounter(prometheus.CounterOpts{Name: telemetry.MetricUpdateTooLarge, Help: "Workflow CR updates rejected because the object is too large."}),
		EventRecord:      histVec(telemetry.MetricEventRecord, "Duration of recording one event in the sink, by event kind.", telemetry.LabelKind),
		EventsDropped:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: telemetry.MetricEventsDropped, Help: "Events dropped by the event rate limit, by event kind."}, []string{telemetry.LabelKind}),
		BlobOperation:    histVec(telemetry.MetricBlobOperation, "Duration of blobstore operations, by operation (read, write).", telemetry.LabelOp),
		CatalogOperation: histVec(telemetry.MetricCatalogOperation, "Duration of cache catalog operations, by operation (get, put).", telemetry.LabelOp),
		CatalogHits:      prometheus.NewCounter(prometheus.CounterOpts{Name: telemetry.MetricCatalogHits, Help: "Catalog lookups that found outputs, so no pod ran."}),
		CatalogMisses:    prometheus.NewCounter(prometheus.CounterOpts{Name: telemetry.MetricCatalogMisses, Help: "Catalog lookups that found nothing."}),
		PodCreate:        hist(telemetry.MetricPodCreate, "Duration of task pod create calls."),
		WorkflowCreate:   hist(telemetry.MetricWorkflowCreate, "Duration of child Workflow create calls (launch plans)."),
		SpansDropped:     prometheus.NewCounter(prometheus.CounterOpts{Name: telemetry.MetricSpansDropped, Help: "Spans dropped because the in-memory span store was full."}),
		NodeTransitions:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: telemetry.MetricNodeTransitions, Help: "Node phase transitions, by node kind and new phase."}, []string{telemetry.LabelKind, telemetry.LabelTo}),
	}
	reg.MustRegister(
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.RoundDuration, m.Rounds, m.StreakLength, m.WorkersFree, m.QueueDepth, m.WorkflowUpdate,
		m.UpdateConflicts, m.UpdateTooLarge, m.EventRecord, m.EventsDropped, m.BlobOperation,
		m.CatalogOperation, m.CatalogHits, m.CatalogMisses, m.PodCreate, m.WorkflowCreate,
		m.SpansDropped, m.NodeTransitions,
	)
	// Label values known up front appear at zero, so counter deltas taken
	// before and after an execution are defined even when nothing happened.
	for _, r := range []string{telemetry.UpdateOK, telemetry.UpdateConflict, telemetry.UpdateTooLarge, telemetry.UpdateError} {
		m.WorkflowUpdate.WithLabelValues(r)
	}
	for _, k := range []string{"workflow", "node", "task"} {
		m.EventRecord.WithLabelValues(k)
		m.EventsDropped.WithLabelValues(k)
	}
	for _, op := range []string{"read", "write"} {
		m.BlobOperation.WithLabelValues(op)
	}
	for _, op := range []string{"get", "put"} {
		m.CatalogOperation.WithLabelValues(op)
	}
	return m
}
