package obs

import (
	"bytes"
	"fmt"
	"net/http"
	httppprof "net/http/pprof"
	"runtime/pprof"
	"sync"

	"github.com/benchctl/benchctl/controller/api/telemetry"
)

// cpuProfile is the one CPU profile a process can run at a time, started
// and stopped over HTTP around an execution.
type cpuProfile struct {
	mu  sync.Mutex
	buf *bytes.Buffer // non-nil while profiling
}

func (p *cpuProfile) start(w http.ResponseWriter, _ *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.buf != nil {
		http.Error(w, "a CPU profile is already running; DELETE "+telemetry.PathCPUProfile+" stops it", http.StatusConflict)
		return
	}
	buf := &bytes.Buffer{}
	if err := pprof.StartCPUProfile(buf); err != nil {
		// Another profiler (e.g. /debug/pprof/profile) holds the CPU.
		http.Error(w, fmt.Sprintf("start CPU profile: %v", err), http.StatusConflict)
		return
	}
	p.buf = buf
	w.WriteHeader(http.StatusNoContent)
}

func (p *cpuProfile) stop(w http.ResponseWriter, _ *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.buf == nil {
		http.Error(w, "no CPU profile is running; POST "+telemetry.PathCPUProfile+" starts one", http.StatusNotFound)
		return
	}
	pprof.StopCPUProfile()
	w.Header().Set("Content-Type", "application/octet-stream")
	_, _ = w.Write(p.buf.Bytes())
	p.buf = nil
}

// handleProfiles adds Go's pprof endpoints and the execution-long CPU
// profile. The server binds loopback unless told otherwise, and profiles
// hold no secrets beyond symbol names.
func handleProfiles(mux *http.ServeMux, p *cpuProfile) {
	mux.HandleFunc("GET "+telemetry.PathPprof, httppprof.Index)
	mux.HandleFunc("GET "+telemetry.PathPprof+"cmdline", httppprof.Cmdline)
	mux.HandleFunc("GET "+telemetry.PathPprof+"profile", httppprof.Profile)
	mux.HandleFunc("GET "+telemetry.PathPprof+"symbol", httppprof.Symbol)
	mux.HandleFunc("GET "+telemetry.PathPprof+"trace", httppprof.Trace)
	mux.HandleFunc("POST "+telemetry.PathCPUProfile, p.start)
	mux.HandleFunc("DELETE "+telemetry.PathCPUProfile, p.stop)
}
