package obs

import (
	"context"
	"sync"

	collectorpb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/benchctl/benchctl/controller/api/telemetry"
)

// SpanStore keeps finished spans in memory, grouped by execution id, up to a
// total number of spans. It is an otlptrace.Client, so it receives spans
// already in OTLP form from the official exporter.
type SpanStore struct {
	limit   int
	metrics *Metrics

	mu       sync.Mutex
	total    int
	resource *resourcepb.Resource
	scope    *commonpb.InstrumentationScope
	execs    map[string]*execSpans
}

type execSpans struct {
	spans   []*tracepb.Span
	dropped int64
}

// NewSpanStore returns a store holding at most limit spans (0: none kept,
// all counted as dropped).
func NewSpanStore(limit int, m *Metrics) *SpanStore {
	return &SpanStore{limit: limit, metrics: m, execs: map[string]*execSpans{}}
}

// Start implements otlptrace.Client.
func (s *SpanStore) Start(context.Context) error { return nil }

// Stop implements otlptrace.Client.
func (s *SpanStore) Stop(context.Context) error { return nil }

// UploadTraces implements otlptrace.Client: it files each span under its
// execution.id attribute.
func (s *SpanStore) UploadTraces(_ context.Context, rss []*tracepb.ResourceSpans) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var dropped int
	for _, rs := range rss {
		if s.resource == nil {
			s.resource = rs.GetResource()
		}
		for _, ss := range rs.GetScopeSpans() {
			if s.scope == nil {
				s.scope = ss.GetScope()
			}
			for _, sp := range ss.GetSpans() {
				id := executionOf(sp)
				e := s.execs[id]
				if e == nil {
					e = &execSpans{}
					s.execs[id] = e
				}
				if s.total >= s.limit {
					e.dropped++
					dropped++
					continue
				}
				e.spans = append(e.spans, sp)
				s.total++
			}
		}
	}
	if dropped > 0 && s.metrics != nil {
		s.metrics.SpansDropped.Add(float64(dropped))
	}
	return nil
}

func executionOf(sp *tracepb.Span) string {
	for _, kv := range sp.GetAttributes() {
		if kv.GetKey() == telemetry.AttrExecution {
			return kv.GetValue().GetStringValue()
		}
	}
	return ""
}

// Get returns the execution's spans as one OTLP export request, the count
// of its spans that were dropped, and whether any span of it was seen.
func (s *SpanStore) Get(execution string) (*collectorpb.ExportTraceServiceRequest, int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.execs[execution]
	if !ok {
		return &collectorpb.ExportTraceServiceRequest{}, 0, false
	}
	spans := make([]*tracepb.Span, len(e.spans))
	copy(spans, e.spans)
	return &collectorpb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource:   s.resource,
		ScopeSpans: []*tracepb.ScopeSpans{{Scope: s.scope, Spans: spans}},
	}}}, e.dropped, true
}

// Delete frees an execution's spans and reports whether it had any.
func (s *SpanStore) Delete(execution string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.execs[execution]
	if !ok {
		return false
	}
	s.total -= len(e.spans)
	delete(s.execs, execution)
	return true
}

// Len is the number of spans held.
func (s *SpanStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}
