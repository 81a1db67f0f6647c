// Package obs is the bundled controller's observability: OpenTelemetry
// spans (named and attributed as in controller/api/telemetry, each carrying
// the execution id), a bounded per-execution span store served as OTLP JSON,
// Prometheus metrics, and the HTTP server that exposes them.
package obs

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/benchctl/benchctl/controller/api/telemetry"
)

type executionKey struct{}

// WithExecution returns a context whose spans carry execution id id.
func WithExecution(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, executionKey{}, id)
}

// Execution returns the execution id of ctx, or "".
func Execution(ctx context.Context) string {
	id, _ := ctx.Value(executionKey{}).(string)
	return id
}

// Telemetry is what instrumented code needs: a tracer and the metrics.
type Telemetry struct {
	tracer  trace.Tracer
	Metrics *Metrics
	// Inflight counts open work items per execution, so that span readers
	// can wait for the spans of a round still ending.
	Inflight *Inflight
}

// NewTelemetry wraps a tracer provider and metrics. A nil provider traces
// nothing (for unit tests of code that only needs metrics).
func NewTelemetry(tp trace.TracerProvider, m *Metrics) *Telemetry {
	if tp == nil {
		tp = trace.NewNoopTracerProvider()
	}
	return &Telemetry{tracer: tp.Tracer("github.com/benchctl/benchctl/controller"), Metrics: m, Inflight: NewInflight()}
}

// Inflight counts, per execution, the work items whose spans are still
// open. The API server shows a workflow's final phase before the round
// that wrote it has returned and ended its spans; GET /v1/spans waits for
// the count to drop to zero so that a caller who saw the phase gets a
// complete hierarchy.
type Inflight struct {
	mu sync.Mutex
	n  map[string]int
}

// NewInflight returns an empty tracker.
func NewInflight() *Inflight { return &Inflight{n: map[string]int{}} }

// Begin marks a work item of execution as open; call the returned func
// when its spans have ended.
func (f *Inflight) Begin(execution string) func() {
	f.mu.Lock()
	f.n[execution]++
	f.mu.Unlock()
	return func() {
		f.mu.Lock()
		if f.n[execution]--; f.n[execution] <= 0 {
			delete(f.n, execution)
		}
		f.mu.Unlock()
	}
}

// Wait waits until no work item of execution is open, or ctx is done.
func (f *Inflight) Wait(ctx context.Context, execution string) error {
	for {
		f.mu.Lock()
		open := f.n[execution]
		f.mu.Unlock()
		if open == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
}

// Start starts a span named name with attrs plus the execution id of ctx,
// so that no span can lack it.
func (t *Telemetry) Start(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	attrs = append(attrs, attribute.String(telemetry.AttrExecution, Execution(ctx)))
	return t.tracer.Start(ctx, name, trace.WithAttributes(attrs...))
}

// End ends span, recording err if any.
func End(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// Tracing owns the SDK tracer provider and its exporters.
type Tracing struct {
	Provider *sdktrace.TracerProvider
	Store    *SpanStore
}

// TracingOptions configures NewTracing.
type TracingOptions struct {
	ServiceName    string
	ServiceVersion string
	// OTLPEndpoint is an OTLP/HTTP traces URL; empty exports only to Store.
	OTLPEndpoint string
	// StoreSize bounds the in-memory store (spans, across executions).
	StoreSize int
	Metrics   *Metrics
	// Disabled samples no span (to measure what tracing costs).
	Disabled bool
}

// NewTracing builds a tracer provider exporting to the in-memory span
// store and, if configured, to an OTLP/HTTP endpoint. Both go through batch
// processors that block rather than drop when their queue is full, so the
// only spans lost are those the store has no room for, and those are
// counted.
func NewTracing(ctx context.Context, o TracingOptions) (*Tracing, error) {
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(
		semconv.ServiceName(o.ServiceName), semconv.ServiceVersion(o.ServiceVersion)))
	if err != nil {
		return nil, fmt.Errorf("otel resource: %w", err)
	}
	store := NewSpanStore(o.StoreSize, o.Metrics)
	// The official exporter does the SDK-to-OTLP transformation; the store
	// is its client, so what GET /v1/spans serves is exactly what an OTLP
	// collector would receive.
	storeExp, err := otlptrace.New(ctx, store)
	if err != nil {
		return nil, fmt.Errorf("span store exporter: %w", err)
	}
	sampler := sdktrace.AlwaysSample()
	if o.Disabled {
		sampler = sdktrace.NeverSample()
	}
	opts := []sdktrace.TracerProviderOption{
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sampler),
		sdktrace.WithSpanProcessor(sdktrace.NewBatchSpanProcessor(storeExp,
			sdktrace.WithBlocking(), sdktrace.WithMaxQueueSize(16384), sdktrace.WithMaxExportBatchSize(1024),
			sdktrace.WithBatchTimeout(500*time.Millisecond))),
		sdktrace.WithRawSpanLimits(sdktrace.SpanLimits{
			AttributeValueLengthLimit: 1024, AttributeCountLimit: 32, EventCountLimit: 8, LinkCountLimit: 0,
			AttributePerEventCountLimit: 8, AttributePerLinkCountLimit: 0,
		}),
	}
	if o.OTLPEndpoint != "" {
		exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(o.OTLPEndpoint))
		if err != nil {
			return nil, fmt.Errorf("otlp exporter for %s: %w", o.OTLPEndpoint, err)
		}
		opts = append(opts, sdktrace.WithSpanProcessor(sdktrace.NewBatchSpanProcessor(exp, sdktrace.WithMaxQueueSize(16384))))
	}
	return &Tracing{Provider: sdktrace.NewTracerProvider(opts...), Store: store}, nil
}

// Shutdown flushes and stops the exporters.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if err := t.Provider.Shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("shut down tracing: %w", err)
	}
	return nil
}
