package obs

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	collectorpb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/benchctl/benchctl/controller/api/telemetry"
)

func TestMetricsLint(t *testing.T) {
	m := NewMetrics()
	problems, err := testutil.GatherAndLint(m.Registry)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

func TestMetricsEndpointParses(t *testing.T) {
	m := NewMetrics()
	m.Rounds.Add(3)
	m.WorkflowUpdate.WithLabelValues(telemetry.UpdateOK).Observe(0.004)
	srv := &Server{o: ServerOptions{Metrics: m}}
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, telemetry.PathMetrics, nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	for _, name := range []string{telemetry.MetricRounds, telemetry.MetricWorkflowUpdate, telemetry.MetricQueueDepth, telemetry.MetricSpansDropped} {
		if families[name] == nil {
			t.Errorf("metric %s missing", name)
		}
	}
	if got := families[telemetry.MetricRounds].GetMetric()[0].GetCounter().GetValue(); got != 3 {
		t.Errorf("rounds = %v, want 3", got)
	}
}

func TestSpanStoreServesPerExecution(t *testing.T) {
	ctx := context.Background()
	m := NewMetrics()
	tr, err := NewTracing(ctx, TracingOptions{ServiceName: "test", StoreSize: 3, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Shutdown(ctx)
	tel := NewTelemetry(tr.Provider, m)

	// Two spans for e1 (parent and child), two for e2: the store holds three.
	c1 := WithExecution(ctx, "e1")
	c1, parent := tel.Start(c1, telemetry.SpanStreak)
	_, child := tel.Start(c1, telemetry.SpanRound)
	child.End()
	parent.End()
	if err := tr.Provider.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}
	c2 := WithExecution(ctx, "e2")
	for range 2 {
		_, s := tel.Start(c2, telemetry.SpanNodeHandle)
		s.End()
	}

	srv := &Server{o: ServerOptions{Metrics: m, Tracing: tr}}
	h := srv.Handler()
	get := func(id string) (*http.Response, *collectorpb.ExportTraceServiceRequest) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, telemetry.PathSpans+"?execution="+id, nil))
		res := rec.Result()
		var req collectorpb.ExportTraceServiceRequest
		if res.StatusCode == http.StatusOK {
			b, _ := io.ReadAll(res.Body)
			if err := protojson.Unmarshal(b, &req); err != nil {
				t.Fatalf("spans of %s are not OTLP JSON: %v", id, err)
			}
		}
		return res, &req
	}

	res, req := get("e1")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET e1: %d", res.StatusCode)
	}
	spans := req.GetResourceSpans()[0].GetScopeSpans()[0].GetSpans()
	if len(spans) != 2 || res.Header.Get(telemetry.HeaderSpansDropped) != "0" {
		t.Fatalf("e1: %d spans, dropped %q; want 2 and 0", len(spans), res.Header.Get(telemetry.HeaderSpansDropped))
	}
	var parentID []byte
	for _, s := range spans {
		if s.GetName() == telemetry.SpanStreak {
			parentID = s.GetSpanId()
		}
	}
	for _, s := range spans {
		if s.GetName() == telemetry.SpanRound && string(s.GetParentSpanId()) != string(parentID) {
			t.Fatalf("streak span is not a child of handle")
		}
	}

	res, req = get("e2")
	if n := len(req.GetResourceSpans()[0].GetScopeSpans()[0].GetSpans()); n != 1 || res.Header.Get(telemetry.HeaderSpansDropped) != "1" {
		t.Fatalf("e2: %d spans, dropped %q; want 1 and 1", n, res.Header.Get(telemetry.HeaderSpansDropped))
	}
	if got := testutil.ToFloat64(m.SpansDropped); got != 1 {
		t.Fatalf("spans dropped metric = %v, want 1", got)
	}

	// Asked for protobuf, the same spans come in OTLP's binary encoding.
	prec := httptest.NewRecorder()
	preq := httptest.NewRequest(http.MethodGet, telemetry.PathSpans+"?execution=e1", nil)
	preq.Header.Set("Accept", telemetry.ContentTypeProtobuf)
	h.ServeHTTP(prec, preq)
	var pb collectorpb.ExportTraceServiceRequest
	if ct := prec.Result().Header.Get("Content-Type"); ct != telemetry.ContentTypeProtobuf {
		t.Fatalf("protobuf GET: content type %q", ct)
	}
	if err := proto.Unmarshal(prec.Body.Bytes(), &pb); err != nil {
		t.Fatalf("protobuf GET: %v", err)
	}
	if n := len(pb.GetResourceSpans()[0].GetScopeSpans()[0].GetSpans()); n != 2 {
		t.Fatalf("protobuf GET e1: %d spans, want 2", n)
	}

	if res, _ := get("nope"); res.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown execution: %d, want 404", res.StatusCode)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodDelete, telemetry.PathSpans+"?execution=e1", nil))
	if rec.Code != http.StatusNoContent {
		t.Fatalf("DELETE: %d", rec.Code)
	}
	if tr.Store.Len() != 1 {
		t.Fatalf("store holds %d spans after delete, want 1", tr.Store.Len())
	}
	if res, _ := get("e1"); res.StatusCode != http.StatusNotFound {
		t.Fatalf("GET after DELETE: %d", res.StatusCode)
	}
}

func TestServerRoutes(t *testing.T) {
	m := NewMetrics()
	ready := false
	s, err := Listen(ServerOptions{
		Address: "127.0.0.1:0", Metrics: m, Config: []byte("workers: 1\n"),
		Version: map[string]string{"version": "v0"},
		Ready: func() error {
			if !ready {
				return io.ErrUnexpectedEOF
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Serve(ctx) }()
	get := func(path string) (int, string) {
		res, err := http.Get("http://" + s.Addr() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, body := get(telemetry.PathConfig); code != 200 || body != "workers: 1\n" {
		t.Fatalf("config: %d %q", code, body)
	}
	if code, body := get(telemetry.PathVersion); code != 200 || !strings.Contains(body, `"v0"`) {
		t.Fatalf("version: %d %q", code, body)
	}
	if code, _ := get(telemetry.PathReadyz); code != http.StatusServiceUnavailable {
		t.Fatalf("readyz before ready: %d", code)
	}
	ready = true
	if code, _ := get(telemetry.PathReadyz); code != 200 {
		t.Fatalf("readyz: %d", code)
	}
	if code, _ := get(telemetry.PathHealthz); code != 200 {
		t.Fatalf("healthz: %d", code)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
