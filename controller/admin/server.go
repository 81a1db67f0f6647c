package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Results of benchadmin_events_total.
const (
	ResultCreated       = "created"
	ResultAlreadyExists = "already_exists"
	ResultIncompatible  = "incompatible"
	ResultInvalid       = "invalid"
	ResultError         = "error"
)

// maxBody bounds a request body; an event is well under a kilobyte.
const maxBody = 1 << 20

// VersionInfo is the body of GET /api/v1/version.
type VersionInfo struct {
	APIVersion string `json:"apiVersion"`
	Version    string `json:"version"`
	Commit     string `json:"commit"`
	Database   string `json:"database"` // "sqlite" | "postgres"
}

type server struct {
	store   *Store
	info    VersionInfo
	writes  *prometheus.HistogramVec
	records *prometheus.CounterVec
}

// NewServer is the HTTP API over s:
//
//	POST /api/v1/events                         Event -> 201 {"id"}; 409 AlreadyExists; 412 IncompatiblePhase; 400 InvalidArgument
//	GET  /api/v1/executions/{execution}/events  {"events": [Persisted]} in persisted order
//	GET  /api/v1/executions/{execution}/metrics Span; 404 NotFound without events
//	GET  /api/v1/version                        VersionInfo
//	GET  /healthz, /readyz (database ping), /metrics (Prometheus)
//
// Errors are {"code", "message"[, "currentPhase"]}. Its metrics are in its
// own registry, so tests can build several servers in one process.
func NewServer(s *Store, version, commit string) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	srv := &server{
		store: s,
		info:  VersionInfo{APIVersion: APIVersion, Version: version, Commit: commit, Database: s.Kind()},
		writes: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "benchadmin_db_write_seconds",
			Help: "Duration of the database transaction persisting an event, commit included, for created events.",
			// 50 µs (SQLite, page cache) to 1.6 s (a slow disk's fsync).
			Buckets: prometheus.ExponentialBuckets(50e-6, 2, 16),
		}, []string{"kind"}),
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "benchadmin_events_total",
			Help: "Events received, by kind and result (created, already_exists, incompatible, invalid, error).",
		}, []string{"kind", "result"}),
	}
	reg.MustRegister(srv.writes, srv.records)

	mux := http.NewServeMux()
	mux.HandleFunc("POST "+PathEvents, srv.postEvent)
	mux.HandleFunc("GET "+PathExecutions+"{execution}/events", srv.getEvents)
	mux.HandleFunc("GET "+PathExecutions+"{execution}/metrics", srv.getMetrics)
	mux.HandleFunc("GET "+PathVersion, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, srv.info)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /readyz", srv.readyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return mux
}

func (srv *server) postEvent(w http.ResponseWriter, r *http.Request) {
	var e Event
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	if err := dec.Decode(&e); err != nil {
		srv.records.WithLabelValues("unknown", ResultInvalid).Inc()
		writeError(w, &Error{Code: CodeInvalidArgument, Status: http.StatusBadRequest, Message: "decode event: " + err.Error()})
		return
	}
	kind := e.Kind
	if kind != KindWorkflow && kind != KindNode && kind != KindTask {
		kind = "unknown" // bounded label values
	}
	p, err := srv.store.Record(r.Context(), e)
	var ae *Error
	switch {
	case err == nil:
		srv.writes.WithLabelValues(kind).Observe(p.WriteSeconds)
		srv.records.WithLabelValues(kind, ResultCreated).Inc()
		writeJSON(w, http.StatusCreated, map[string]string{"id": p.ID})
		return
	case errors.Is(err, ErrAlreadyExists):
		srv.records.WithLabelValues(kind, ResultAlreadyExists).Inc()
	case errors.Is(err, ErrIncompatiblePhase):
		srv.records.WithLabelValues(kind, ResultIncompatible).Inc()
	case errors.Is(err, ErrInvalidArgument):
		srv.records.WithLabelValues(kind, ResultInvalid).Inc()
	default:
		srv.records.WithLabelValues(kind, ResultError).Inc()
		slog.ErrorContext(r.Context(), "record event", "execution", e.Execution, "kind", e.Kind, "node", e.Node, "phase", e.Phase, "err", err)
	}
	if errors.As(err, &ae) {
		writeError(w, ae)
		return
	}
	writeError(w, &Error{Code: CodeInternal, Status: http.StatusInternalServerError, Message: err.Error()})
}

func (srv *server) getEvents(w http.ResponseWriter, r *http.Request) {
	events, err := srv.store.Events(r.Context(), r.PathValue("execution"))
	if err != nil {
		writeError(w, &Error{Code: CodeInternal, Status: http.StatusInternalServerError, Message: err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Events []Persisted `json:"events"`
	}{events})
}

func (srv *server) getMetrics(w http.ResponseWriter, r *http.Request) {
	execution := r.PathValue("execution")
	events, err := srv.store.Events(r.Context(), execution)
	if err != nil {
		writeError(w, &Error{Code: CodeInternal, Status: http.StatusInternalServerError, Message: err.Error()})
		return
	}
	if len(events) == 0 {
		writeError(w, &Error{Code: CodeNotFound, Status: http.StatusNotFound, Message: fmt.Sprintf("execution %q has no events", execution)})
		return
	}
	span, err := DeriveMetrics(execution, events)
	if err != nil {
		writeError(w, &Error{Code: CodeInternal, Status: http.StatusInternalServerError, Message: err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, span)
}

func (srv *server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := srv.store.Ping(ctx); err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	io.WriteString(w, "ok\n")
}

func writeError(w http.ResponseWriter, e *Error) {
	status := e.Status
	if status == 0 {
		status = http.StatusInternalServerError
	}
	writeJSON(w, status, e)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
