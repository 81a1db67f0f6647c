package events

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/benchctl/benchctl/controller/admin"
	"github.com/benchctl/benchctl/controller/obs"
)

// flaky answers 503 to the first n requests, then passes them to h.
type flaky struct {
	n     atomic.Int64
	calls atomic.Int64
	h     http.Handler
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.calls.Add(1)
	if f.n.Add(-1) >= 0 {
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	f.h.ServeHTTP(w, r)
}

// TestAdminSink runs the sink against the real service (SQLite): a 5xx
// burst is retried, a duplicate is a success, a refused phase is dropped
// without a retry, and a dead service is given up on within the retry
// schedule and then costs one attempt per event.
func TestAdminSink(t *testing.T) {
	store, err := admin.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	f := &flaky{h: admin.NewServer(store, "test", "test")}
	srv := httptest.NewServer(f)
	defer srv.Close()
	m := obs.NewMetrics()
	sink := NewAdminSink(srv.URL, time.Second, 3, time.Millisecond)
	r := NewRecorder(sink, 1000, 1000, obs.NewTelemetry(nil, m))
	ctx := context.Background()
	e := func(node, phase string, attempt int32) Event {
		return Event{Kind: KindNode, Namespace: "ns", Workflow: "wf", Execution: "x", Node: node, Attempt: attempt, Phase: phase, MapItem: -1}
	}
	dropped := func() float64 { return testutil.ToFloat64(m.EventsDropped.WithLabelValues(string(KindNode))) }
	steps := []struct {
		name        string
		fail        int64 // 503s before the service answers
		ev          Event
		wantDropped float64
		wantCalls   int64
	}{
		{"first try", 0, e("n0", "Running", 1), 0, 1},
		{"a 5xx burst is retried", 3, e("n0", "Succeeded", 1), 0, 4},
		{"a duplicate is a success", 0, e("n0", "Succeeded", 1), 0, 1},
		{"a refused phase is dropped, not retried", 0, e("n0", "Queued", 1), 1, 1},
		{"a burst beyond the retries is dropped", 10, e("n1", "Running", 1), 2, 4},
		{"then one attempt per event while down", 10, e("n2", "Running", 1), 3, 1},
		{"and back to retries once one succeeds", 0, e("n3", "Running", 1), 3, 1},
		{"retries again", 2, e("n3", "Succeeded", 1), 3, 3},
	}
	for _, st := range steps {
		f.n.Store(st.fail)
		f.calls.Store(0)
		r.Record(ctx, st.ev)
		if got := dropped(); got != st.wantDropped {
			t.Fatalf("%s: %g dropped, want %g", st.name, got, st.wantDropped)
		}
		if got := f.calls.Load(); got != st.wantCalls {
			t.Fatalf("%s: %d requests, want %d", st.name, got, st.wantCalls)
		}
	}
	persisted, err := store.Events(ctx, "x")
	if err != nil {
		t.Fatal(err)
	}
	if len(persisted) != 4 {
		t.Fatalf("%d events persisted, want 4 (n0 Running, Succeeded; n3 Running, Succeeded)", len(persisted))
	}
	// A dead service: bounded by the timeout and the back-off, never hung.
	srv.Close()
	start := time.Now()
	r.Record(ctx, e("n4", "Running", 1))
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("a dead service held an event for %s", d)
	}
	if got := dropped(); got != 4 {
		t.Fatalf("%g dropped after the service died, want 4", got)
	}
}
