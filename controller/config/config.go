// Package config is the bundled controller's configuration: one YAML file,
// the one the chart's ConfigMap holds, covering every knob. Load decodes it
// strictly over Defaults(), so a file names only what it changes and a typo
// is an error naming the file, the line and the field.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Config is the controller's configuration. Field comments give the
// default and why it matters for a benchmark.
type Config struct {
	// Workers is the number of goroutines that evaluate workflows
	// (default 8). Like FlytePropeller's workers, a workflow is handled by
	// at most one worker at a time.
	Workers int `yaml:"workers"`
	// MaxStreakLength is how many consecutive rounds one work item may run
	// on its in-memory copy (default 8). Each round that changed something
	// ends with one CR update; the streak stops early at a round that
	// changed nothing. With 1, the next round waits for the informer to
	// deliver the controller's own write.
	MaxStreakLength int `yaml:"maxStreakLength"`
	// GreedyRounds makes a round evaluate, in the same breadth-first pass,
	// the nodes that a success in that round unblocks, so one CR update
	// persists both the success and the next launches (default true: a
	// serial chain costs one update per node). False restores
	// persisted-first rounds: a node launches only in a round after the
	// one whose update persisted its upstream nodes' success (two updates
	// per serial node), so that no launch precedes its ready instant as
	// the harness defines it (the end of that update).
	GreedyRounds bool `yaml:"greedyRounds"`
	// MaxParallelism bounds, per Workflow object, the task pods (task
	// nodes, dynamic nodes' generator tasks, map items) and launch-plan
	// children running at once, when the Workflow's
	// executionConfig.maxParallelism is 0 (default 0: unbounded; the named
	// config max-parallelism-25 sets FlytePropeller's 25). Sub-workflow and
	// dynamic nodes themselves do not count; the nodes inside them do.
	MaxParallelism int32 `yaml:"maxParallelism"`
	// LaunchConcurrency is how many of one round's map-item launches (a
	// catalog lookup and a pod create each) run at once (default 16; 1
	// launches them one after another, as before this option existed).
	// The client's qps and burst still bound the creates; concurrency
	// only overlaps their round trips, which on a 10,000-item map are
	// most of the launch time.
	LaunchConcurrency int `yaml:"launchConcurrency"`
	// WorkflowReevalDuration re-evaluates every running workflow this long
	// after its last handling even if nothing happened (default 10s). It
	// catches lost events; it is not on the fast path.
	WorkflowReevalDuration Duration `yaml:"workflowReevalDuration"`
	// DownstreamEvalDuration is the delay between a task pod changing
	// phase and its workflow being enqueued (default 0s: at once). A
	// positive value batches the completions of many pods into one round
	// (the work queue keeps the earliest deadline of a waiting item), at the
	// price of that much latency per transition.
	DownstreamEvalDuration Duration `yaml:"downstreamEvalDuration"`
	// WorkflowStore is the policy for reading and writing Workflow objects:
	// ResourceVersionCache (default), PassThrough or InMemory. See
	// StorePolicy.
	WorkflowStore StorePolicy `yaml:"workflowStore"`
	// OffloadClosure moves each Workflow's static spec to the blobstore,
	// leaving a reference in the CR (default false). A Workflow's
	// spec.offloadClosure overrides it.
	OffloadClosure bool `yaml:"offloadClosure"`
	// TaskOutputs says who writes a task's outputs to the blobstore:
	// "simulate" (default) or "pod". See TaskOutputsMode.
	TaskOutputs TaskOutputsMode `yaml:"taskOutputs"`
	// PodMissingTimeout is how long a launched pod may be absent from the
	// informer cache before the controller asks the API server and, if the
	// pod is gone, fails the attempt (default 30s).
	PodMissingTimeout Duration `yaml:"podMissingTimeout"`
	// LogLevel is debug, info (default), warn or error.
	LogLevel string `yaml:"logLevel"`

	Queue          QueueConfig          `yaml:"queue"`
	KubeClient     KubeClientConfig     `yaml:"kubeClient"`
	Blobstore      BlobstoreConfig      `yaml:"blobstore"`
	TaskPod        TaskPodConfig        `yaml:"taskPod"`
	Events         EventsConfig         `yaml:"events"`
	Telemetry      TelemetryConfig      `yaml:"telemetry"`
	HTTP           HTTPConfig           `yaml:"http"`
	LeaderElection LeaderElectionConfig `yaml:"leaderElection"`
	LaunchPlans    LaunchPlansConfig    `yaml:"launchPlans"`
}

// StorePolicy is how the controller reads and writes Workflow objects.
type StorePolicy string

// Workflow store policies, after FlytePropeller's.
const (
	// StoreResourceVersionCache remembers, per workflow, the
	// resourceVersions its own writes superseded. An informer copy carrying
	// one of them is stale: the work item is dropped (the informer event of
	// the newer version enqueues it again), and a write that conflicts is
	// not retried for the same reason.
	StoreResourceVersionCache StorePolicy = "ResourceVersionCache"
	// StorePassThrough always evaluates the informer's copy and retries a
	// conflicting write through the rate-limited queue: stale copies cost a
	// wasted round and a conflict.
	StorePassThrough StorePolicy = "PassThrough"
	// StoreInMemory keeps the object returned by the controller's last
	// write and starts the next round from it whenever the informer has not
	// caught up yet. Every round is still written to the API server.
	StoreInMemory StorePolicy = "InMemory"
)

// TaskOutputsMode says who writes task outputs.
type TaskOutputsMode string

// Task output modes.
const (
	// TaskOutputsSimulate: the controller writes each attempt's outputs on
	// the pod's behalf, in a goroutine started right after the pod is
	// created, so the write runs concurrently with the pod and off the
	// node's critical path; the controller joins that write before it reads
	// the outputs back. Use it where no task code runs (KWOK). The bytes
	// still cross the blobstore, but from the controller's host, and the
	// write's cost shows as blob.write spans of the controller.
	TaskOutputsSimulate TaskOutputsMode = "simulate"
	// TaskOutputsPod: benchtask in the pod writes its outputs; the
	// controller only reads them. Needs a blobstore that pods can reach
	// (s3://, gs://, or a file:// path on a shared volume).
	TaskOutputsPod TaskOutputsMode = "pod"
)

// QueueConfig is the work queue's per-item exponential back-off, used when a
// round fails or a write conflicts, combined with an overall token bucket,
// as in client-go's default controller rate limiter.
type QueueConfig struct {
	// BaseDelay is the first retry delay (default 5ms).
	BaseDelay Duration `yaml:"baseDelay"`
	// MaxDelay caps the back-off (default 60s).
	MaxDelay Duration `yaml:"maxDelay"`
	// QPS and Burst bound rate-limited re-adds overall (default 100, 1000).
	QPS   float64 `yaml:"qps"`
	Burst int     `yaml:"burst"`
}

// KubeClientConfig sets the Kubernetes client's client-side rate limit and
// request timeout. Client throttling is one of the things benchmarked.
type KubeClientConfig struct {
	// QPS is the sustained request rate (default 100; negative disables the
	// client-side limiter).
	QPS float32 `yaml:"qps"`
	// Burst is the bucket size (default 200).
	Burst int `yaml:"burst"`
	// Timeout bounds each request (default 30s; 0 means none).
	Timeout Duration `yaml:"timeout"`
}

// BlobstoreConfig is where inputs, outputs, catalog entries and offloaded
// closures live.
type BlobstoreConfig struct {
	// URL is a gocloud.dev/blob bucket URL: file:///dir (default
	// file:///tmp/benchflow-blobs?create_dir=1&no_tmp_dir=1&metadata=skip;
	// metadata=skip: no sidecar attributes file per blob, which doubled
	// every write and which nothing reads), mem://, s3://bucket?region=...,
	// gs://bucket.
	URL string `yaml:"url"`
	// CacheSizeBytes is the write-through cache's capacity (default 0: no
	// cache, every read reaches the bucket; the named config blob-cache-64mb
	// sets 64Mi). Accepts Kubernetes quantities such as 256Mi.
	CacheSizeBytes ByteSize `yaml:"cacheSizeBytes"`
}

// TaskPodConfig shapes task pods.
type TaskPodConfig struct {
	// Image runs benchtask (default ghcr.io/benchctl/benchtask:latest).
	// KWOK never pulls it.
	Image string `yaml:"image"`
	// ImagePullPolicy is passed through (default IfNotPresent).
	ImagePullPolicy string `yaml:"imagePullPolicy"`
	// ServiceAccountName for task pods (default: the namespace default).
	ServiceAccountName string `yaml:"serviceAccountName"`
	// NodeSelector and Tolerations place task pods, e.g. on KWOK nodes.
	NodeSelector map[string]string `yaml:"nodeSelector"`
	Tolerations  []Toleration      `yaml:"tolerations"`
	// CPU and Memory are the container's requests (and memory limit);
	// empty means none.
	CPU    string `yaml:"cpu"`
	Memory string `yaml:"memory"`
}

// Toleration is a pod toleration.
type Toleration struct {
	Key      string `yaml:"key,omitempty"`
	Operator string `yaml:"operator,omitempty"`
	Value    string `yaml:"value,omitempty"`
	Effect   string `yaml:"effect,omitempty"`
}

// EventSink names an event sink.
type EventSink string

// Event sinks.
const (
	// EventSinkAdmin sends each event to the bundled admin service
	// (benchadmin), which persists it in a database, as FlytePropeller
	// reports to FlyteAdmin: one network round trip and one database
	// transaction per event. The chart's default.
	EventSinkAdmin EventSink = "admin"
	// EventSinkKube creates core/v1 Events through the API, one request per
	// event.
	EventSinkKube EventSink = "kube"
	// EventSinkFile appends JSON lines to Events.File.
	EventSinkFile EventSink = "file"
	// EventSinkLog writes events to the controller's log at debug level.
	EventSinkLog EventSink = "log"
	// EventSinkNone drops events without recording them.
	EventSinkNone EventSink = "none"
)

// EventsConfig configures workflow, node and task events.
type EventsConfig struct {
	// Sink is admin, kube, file, log (default; the chart's is admin) or
	// none.
	Sink EventSink `yaml:"sink"`
	// File is the JSON-lines path for the file sink.
	File string `yaml:"file"`
	// Admin configures the admin sink.
	Admin AdminSinkConfig `yaml:"admin"`
	// QPS and Burst form the token bucket bounding the event rate (default
	// 500, FlytePropeller's event rate, and a burst of 10000: a round that
	// observes the ends of thousands of map items reports their events at
	// the admin service's own pace, ~650 per second here, and with
	// FlytePropeller's capacity of 1000 a 5,000-item map lost 2,000).
	// Events beyond it are dropped and counted, which invalidates the
	// execution.
	QPS   float64 `yaml:"qps"`
	Burst int     `yaml:"burst"`
}

// AdminSinkConfig configures the admin event sink. An event is sent once
// and retried on a network error or a 5xx answer up to Retries times,
// waiting Backoff, then twice as long, and so on; an event still not
// persisted after that is dropped and counted
// (benchflow_events_dropped_total), which makes the harness mark the
// execution invalid; later events then get one attempt each until one
// succeeds. An event the service already has (AlreadyExists) is
// a success; one whose phase goes backwards (IncompatiblePhase) is
// dropped at once, as FlytePropeller drops an event FlyteAdmin refuses.
type AdminSinkConfig struct {
	// URL is the service's base URL, e.g. http://127.0.0.1:8089. The
	// chart fills in its admin Service's address when it is empty.
	URL string `yaml:"url"`
	// Timeout bounds one attempt (default 5s).
	Timeout Duration `yaml:"timeout"`
	// Retries after the first attempt (default 3).
	Retries int `yaml:"retries"`
	// Backoff is the wait before the first retry (default 50ms).
	Backoff Duration `yaml:"backoff"`
}

// TelemetryConfig configures traces.
type TelemetryConfig struct {
	// OTLPEndpoint is an OTLP/HTTP traces URL, e.g.
	// http://127.0.0.1:4318/v1/traces; empty (default) exports nowhere
	// but the in-memory store.
	OTLPEndpoint string `yaml:"otlpEndpoint"`
	// SpanStoreSize bounds the spans kept in memory for GET /v1/spans
	// across executions (default 200000). Spans beyond it are dropped
	// and counted per execution.
	SpanStoreSize int `yaml:"spanStoreSize"`
	// ServiceName is the OTel service.name (default benchflow).
	ServiceName string `yaml:"serviceName"`
	// DisableTracing samples no span (the spans are still started, as
	// non-recording ones): only for measuring what tracing costs
	// (BenchmarkTracingCost), since benchctl measures from the spans.
	DisableTracing bool `yaml:"disableTracing,omitempty"`
}

// HTTPConfig is the controller's HTTP server: metrics, spans, config.
type HTTPConfig struct {
	// Address to listen on (default 127.0.0.1:8080). Loopback by default;
	// the chart's Deployment overrides it with a flag inside the pod.
	Address string `yaml:"address"`
}

// LeaderElectionConfig lets several replicas run with one active.
type LeaderElectionConfig struct {
	// Enabled turns leader election on (default false: one replica).
	Enabled bool `yaml:"enabled"`
	// LeaseName is the coordination.k8s.io Lease (default benchflow).
	LeaseName string `yaml:"leaseName"`
	// LeaseDuration, RenewDeadline, RetryPeriod as in client-go
	// (defaults 15s, 10s, 2s).
	LeaseDuration Duration `yaml:"leaseDuration"`
	RenewDeadline Duration `yaml:"renewDeadline"`
	RetryPeriod   Duration `yaml:"retryPeriod"`
}

// LaunchPlansConfig is the launcher of launch-plan children, after
// FlytePropeller's admin launcher: child creation goes through a token
// bucket, and the launcher keeps a bounded cache of the children it created
// and of their last phase seen by the watch.
type LaunchPlansConfig struct {
	// CreateQPS and CreateBurst bound child Workflow creations per second
	// across the controller (default 100 and 10, the admin launcher's tps
	// and burst). A node held back waits in NotStarted and its workflow is
	// re-evaluated when a token is due.
	CreateQPS   float64 `yaml:"createQPS"`
	CreateBurst int     `yaml:"createBurst"`
	// CacheSize bounds the children the launcher remembers (default
	// 10000). A child missing from the cache is looked up in the informer.
	CacheSize int `yaml:"cacheSize"`
}

// Defaults returns the configuration used for every field a file omits.
func Defaults() Config {
	return Config{
		Workers:                8,
		MaxStreakLength:        8,
		GreedyRounds:           true,
		MaxParallelism:         0,
		LaunchConcurrency:      16,
		WorkflowReevalDuration: Duration(10 * time.Second),
		DownstreamEvalDuration: 0,
		WorkflowStore:          StoreResourceVersionCache,
		OffloadClosure:         false,
		TaskOutputs:            TaskOutputsSimulate,
		PodMissingTimeout:      Duration(30 * time.Second),
		LogLevel:               "info",
		Queue: QueueConfig{
			BaseDelay: Duration(5 * time.Millisecond),
			MaxDelay:  Duration(60 * time.Second),
			QPS:       100,
			Burst:     1000,
		},
		KubeClient: KubeClientConfig{QPS: 100, Burst: 200, Timeout: Duration(30 * time.Second)},
		Blobstore: BlobstoreConfig{
			URL:            "file:///tmp/benchflow-blobs?create_dir=1&no_tmp_dir=1&metadata=skip",
			CacheSizeBytes: 0,
		},
		TaskPod: TaskPodConfig{
			Image:           "ghcr.io/benchctl/benchtask:latest",
			ImagePullPolicy: "IfNotPresent",
		},
		Events: EventsConfig{Sink: EventSinkLog, QPS: 500, Burst: 10000,
			Admin: AdminSinkConfig{Timeout: Duration(5 * time.Second), Retries: 3, Backoff: Duration(50 * time.Millisecond)}},
		Telemetry: TelemetryConfig{SpanStoreSize: 200000, ServiceName: "benchflow"},
		HTTP:      HTTPConfig{Address: "127.0.0.1:8080"},
		LeaderElection: LeaderElectionConfig{
			LeaseName:     "benchflow",
			LeaseDuration: Duration(15 * time.Second),
			RenewDeadline: Duration(10 * time.Second),
			RetryPeriod:   Duration(2 * time.Second),
		},
		LaunchPlans: LaunchPlansConfig{CreateQPS: 100, CreateBurst: 10, CacheSize: 10000},
	}
}

// Load reads the file at path over Defaults and validates the result.
func Load(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, b)
}

// Parse decodes data (named name in errors) over Defaults and validates it.
// An empty document yields the defaults.
func Parse(name string, data []byte) (Config, error) {
	cfg := Defaults()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, fmt.Errorf("config %s: %w", name, err)
	}
	// A second document would be silently ignored: refuse it.
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return Config{}, fmt.Errorf("config %s: more than one YAML document", name)
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, fmt.Errorf("config %s: %w", name, err)
	}
	return cfg, nil
}

// Validate checks every field and names the first bad one.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if c.Workers < 1 {
		bad("workers", "must be at least 1, got %d", c.Workers)
	}
	if c.MaxStreakLength < 1 {
		bad("maxStreakLength", "must be at least 1, got %d", c.MaxStreakLength)
	}
	if c.MaxParallelism < 0 {
		bad("maxParallelism", "must be 0 (unbounded) or positive, got %d", c.MaxParallelism)
	}
	if c.LaunchConcurrency < 1 || c.LaunchConcurrency > 1000 {
		bad("launchConcurrency", "must be between 1 and 1000, got %d", c.LaunchConcurrency)
	}
	if c.WorkflowReevalDuration <= 0 {
		bad("workflowReevalDuration", "must be positive, got %s", c.WorkflowReevalDuration)
	}
	if c.DownstreamEvalDuration < 0 {
		bad("downstreamEvalDuration", "must not be negative, got %s", c.DownstreamEvalDuration)
	}
	switch c.WorkflowStore {
	case StoreResourceVersionCache, StorePassThrough, StoreInMemory:
	default:
		bad("workflowStore", "must be ResourceVersionCache, PassThrough or InMemory, got %q", c.WorkflowStore)
	}
	switch c.TaskOutputs {
	case TaskOutputsSimulate, TaskOutputsPod:
	default:
		bad("taskOutputs", "must be simulate or pod, got %q", c.TaskOutputs)
	}
	if c.PodMissingTimeout <= 0 {
		bad("podMissingTimeout", "must be positive, got %s", c.PodMissingTimeout)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("logLevel", "must be debug, info, warn or error, got %q", c.LogLevel)
	}
	if c.Queue.BaseDelay <= 0 || c.Queue.MaxDelay < c.Queue.BaseDelay {
		bad("queue", "need 0 < baseDelay <= maxDelay, got %s and %s", c.Queue.BaseDelay, c.Queue.MaxDelay)
	}
	if c.Queue.QPS <= 0 || c.Queue.Burst < 1 {
		bad("queue", "qps and burst must be positive, got %g and %d", c.Queue.QPS, c.Queue.Burst)
	}
	if c.KubeClient.QPS == 0 {
		bad("kubeClient.qps", "must be positive, or negative to disable the client-side limiter")
	}
	if c.KubeClient.QPS > 0 && c.KubeClient.Burst < 1 {
		bad("kubeClient.burst", "must be at least 1, got %d", c.KubeClient.Burst)
	}
	if c.KubeClient.Timeout < 0 {
		bad("kubeClient.timeout", "must not be negative, got %s", c.KubeClient.Timeout)
	}
	if u, err := url.Parse(c.Blobstore.URL); err != nil || u.Scheme == "" {
		bad("blobstore.url", "must be a bucket URL such as file:///dir, mem://, s3://bucket or gs://bucket, got %q", c.Blobstore.URL)
	}
	if c.Blobstore.CacheSizeBytes < 0 {
		bad("blobstore.cacheSizeBytes", "must not be negative, got %d", c.Blobstore.CacheSizeBytes)
	}
	if c.TaskPod.Image == "" {
		bad("taskPod.image", "must be set")
	}
	switch c.TaskPod.ImagePullPolicy {
	case "Always", "IfNotPresent", "Never":
	default:
		bad("taskPod.imagePullPolicy", "must be Always, IfNotPresent or Never, got %q", c.TaskPod.ImagePullPolicy)
	}
	for name, q := range map[string]string{"taskPod.cpu": c.TaskPod.CPU, "taskPod.memory": c.TaskPod.Memory} {
		if q == "" {
			continue
		}
		if _, err := resource.ParseQuantity(q); err != nil {
			bad(name, "%v", err)
		}
	}
	for i, t := range c.TaskPod.Tolerations {
		switch t.Operator {
		case "", "Equal", "Exists":
		default:
			bad(fmt.Sprintf("taskPod.tolerations[%d].operator", i), "must be Equal or Exists, got %q", t.Operator)
		}
		switch t.Effect {
		case "", "NoSchedule", "PreferNoSchedule", "NoExecute":
		default:
			bad(fmt.Sprintf("taskPod.tolerations[%d].effect", i), "must be NoSchedule, PreferNoSchedule or NoExecute, got %q", t.Effect)
		}
	}
	switch c.Events.Sink {
	case EventSinkAdmin:
		if u, err := url.Parse(c.Events.Admin.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("events.admin.url", "must be an http(s) URL such as http://127.0.0.1:8089 when events.sink is admin, got %q", c.Events.Admin.URL)
		}
	case EventSinkKube, EventSinkLog, EventSinkNone:
	case EventSinkFile:
		if c.Events.File == "" {
			bad("events.file", "must be set when events.sink is file")
		}
	default:
		bad("events.sink", "must be admin, kube, file, log or none, got %q", c.Events.Sink)
	}
	if a := c.Events.Admin; a.Timeout <= 0 || a.Retries < 0 || a.Backoff < 0 {
		bad("events.admin", "timeout must be positive and retries and backoff >= 0, got %s, %d and %s", time.Duration(a.Timeout), a.Retries, time.Duration(a.Backoff))
	}
	if c.Events.QPS <= 0 || c.Events.Burst < 1 {
		bad("events", "qps and burst must be positive, got %g and %d", c.Events.QPS, c.Events.Burst)
	}
	if e := c.Telemetry.OTLPEndpoint; e != "" {
		if u, err := url.Parse(e); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("telemetry.otlpEndpoint", "must be an http(s) URL such as http://127.0.0.1:4318/v1/traces, got %q", e)
		}
	}
	if c.Telemetry.SpanStoreSize < 0 {
		bad("telemetry.spanStoreSize", "must not be negative, got %d", c.Telemetry.SpanStoreSize)
	}
	if c.Telemetry.ServiceName == "" {
		bad("telemetry.serviceName", "must be set")
	}
	if _, _, err := net.SplitHostPort(c.HTTP.Address); err != nil {
		bad("http.address", "must be host:port, got %q: %v", c.HTTP.Address, err)
	}
	if le := c.LeaderElection; le.Enabled {
		if le.LeaseName == "" {
			bad("leaderElection.leaseName", "must be set")
		}
		if !(le.LeaseDuration > le.RenewDeadline && le.RenewDeadline > le.RetryPeriod && le.RetryPeriod > 0) {
			bad("leaderElection", "need leaseDuration > renewDeadline > retryPeriod > 0")
		}
	}
	if c.LaunchPlans.CreateQPS <= 0 || c.LaunchPlans.CreateBurst < 1 {
		bad("launchPlans", "createQPS and createBurst must be positive, got %g and %d", c.LaunchPlans.CreateQPS, c.LaunchPlans.CreateBurst)
	}
	if c.LaunchPlans.CacheSize < 1 {
		bad("launchPlans.cacheSize", "must be at least 1, got %d", c.LaunchPlans.CacheSize)
	}
	return errors.Join(errs...)
}

// EffectiveMaxParallelism is the bound for an execution that asked for
// requested (0 = use the configured default); 0 means unbounded.
func (c Config) EffectiveMaxParallelism(requested int32) int32 {
	if requested > 0 {
		return requested
	}
	return c.MaxParallelism
}

// YAML renders the configuration, defaults included, as Load reads it.
func (c Config) YAML() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	return buf.Bytes(), nil
}

// Duration is a time.Duration written as a Go duration string ("250ms").
type Duration time.Duration

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return time.Duration(d).String() }

// UnmarshalYAML accepts a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return fmt.Errorf("line %d: want a duration such as 250ms: %w", n.Line, err)
	}
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("line %d: want a duration such as 250ms, got %q", n.Line, s)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes a Go duration string.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// ByteSize is a size in bytes, written as an integer or a Kubernetes
// quantity ("64Mi").
type ByteSize int64

// UnmarshalYAML accepts an integer or a quantity.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return fmt.Errorf("line %d: want a size such as 64Mi: %w", n.Line, err)
	}
	q, err := resource.ParseQuantity(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("line %d: want a size such as 64Mi, got %q", n.Line, s)
	}
	*b = ByteSize(q.Value())
	return nil
}

// MarshalYAML writes the size as an integer number of bytes.
func (b ByteSize) MarshalYAML() (any, error) { return int64(b), nil }
