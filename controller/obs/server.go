package obs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/benchctl/benchctl/controller/api/telemetry"
)

// ServerOptions configures the controller's HTTP server.
type ServerOptions struct {
	// Address to listen on; host:0 picks a free port (see Server.Addr).
	Address string
	Metrics *Metrics
	Tracing *Tracing
	// Config is the effective configuration as YAML.
	Config []byte
	// Version is served as JSON.
	Version any
	// Ready reports nil once the controller can handle workflows.
	Ready func() error
	// Inflight, if set, is waited on (up to 10s) before spans are served.
	Inflight *Inflight
}

// Server serves metrics, spans, the effective config, version and health.
type Server struct {
	o   ServerOptions
	ln  net.Listener
	srv *http.Server
	cpu cpuProfile
}

// Listen binds the address, so that callers know the port before Serve.
func Listen(o ServerOptions) (*Server, error) {
	ln, err := net.Listen("tcp", o.Address)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", o.Address, err)
	}
	s := &Server{o: o, ln: ln}
	s.srv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	return s, nil
}

// Addr is the bound address, e.g. 127.0.0.1:41234.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Serve serves until ctx is done, then shuts down gracefully.
func (s *Server) Serve(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := s.srv.Shutdown(sctx); err != nil {
			return fmt.Errorf("http server shutdown: %w", err)
		}
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http server: %w", err)
		}
		return nil
	}
}

// Handler is the server's routes, for tests that do not listen.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET "+telemetry.PathMetrics, promhttp.HandlerFor(s.o.Metrics.Registry, promhttp.HandlerOpts{Registry: s.o.Metrics.Registry}))
	mux.HandleFunc("GET "+telemetry.PathSpans, s.getSpans)
	mux.HandleFunc("DELETE "+telemetry.PathSpans, s.deleteSpans)
	mux.HandleFunc("GET "+telemetry.PathConfig, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		_, _ = w.Write(s.o.Config)
	})
	mux.HandleFunc("GET "+telemetry.PathVersion, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s.o.Version)
	})
	mux.HandleFunc("GET "+telemetry.PathHealthz, func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET "+telemetry.PathReadyz, func(w http.ResponseWriter, _ *http.Request) {
		if s.o.Ready != nil {
			if err := s.o.Ready(); err != nil {
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	handleProfiles(mux, &s.cpu)
	return mux
}

func (s *Server) getSpans(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("execution")
	if id == "" {
		http.Error(w, "query parameter execution is required", http.StatusBadRequest)
		return
	}
	// A round that wrote the final phase may still be ending its spans,
	// and spans sit in the batch processor for up to its timeout: wait,
	// then flush, so a caller that saw the execution finish gets them all.
	if s.o.Inflight != nil {
		wctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		err := s.o.Inflight.Wait(wctx, id)
		cancel()
		if err != nil {
			slog.Warn("spans requested while a round of the execution is still running", "execution", id)
		}
	}
	if err := s.o.Tracing.Provider.ForceFlush(r.Context()); err != nil {
		slog.Warn("flush spans", "err", err)
	}
	req, dropped, ok := s.o.Tracing.Store.Get(id)
	if !ok {
		http.Error(w, fmt.Sprintf("no spans for execution %q", id), http.StatusNotFound)
		return
	}
	// OTLP/HTTP's two encodings: protobuf when asked (what the harness
	// stores: a fifth of the size, decoded several times faster), else JSON.
	marshal, ctype := protojson.Marshal, "application/json"
	if strings.Contains(r.Header.Get("Accept"), telemetry.ContentTypeProtobuf) {
		marshal, ctype = proto.Marshal, telemetry.ContentTypeProtobuf
	}
	b, err := marshal(req)
	if err != nil {
		http.Error(w, fmt.Sprintf("encode spans: %v", err), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set(telemetry.HeaderSpansDropped, strconv.FormatInt(dropped, 10))
	_, _ = w.Write(b)
}

func (s *Server) deleteSpans(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("execution")
	if id == "" {
		http.Error(w, "query parameter execution is required", http.StatusBadRequest)
		return
	}
	if !s.o.Tracing.Store.Delete(id) {
		http.Error(w, fmt.Sprintf("no spans for execution %q", id), http.StatusNotFound)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
