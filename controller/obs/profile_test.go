package obs

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/benchctl/benchctl/controller/api/telemetry"
)

// TestCPUProfileAroundAnExecution: the harness starts a profile before
// an execution and stops it after; the answer is a gzipped pprof
// profile, and the endpoints refuse out-of-order calls.
func TestCPUProfileAroundAnExecution(t *testing.T) {
	srv := &Server{o: ServerOptions{Metrics: NewMetrics()}}
	h := srv.Handler()
	steps := []struct {
		method, path string
		want         int
		gzipped      bool
	}{
		{http.MethodDelete, telemetry.PathCPUProfile, http.StatusNotFound, false},
		{http.MethodPost, telemetry.PathCPUProfile, http.StatusNoContent, false},
		{http.MethodPost, telemetry.PathCPUProfile, http.StatusConflict, false},
		{http.MethodDelete, telemetry.PathCPUProfile, http.StatusOK, true},
		{http.MethodDelete, telemetry.PathCPUProfile, http.StatusNotFound, false},
		{http.MethodGet, telemetry.PathPprof + "allocs", http.StatusOK, true},
		{http.MethodGet, telemetry.PathPprof, http.StatusOK, false},
	}
	for i, s := range steps {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(s.method, s.path, nil))
		if rec.Code != s.want {
			t.Fatalf("step %d %s %s: %d %s, want %d", i, s.method, s.path, rec.Code, rec.Body, s.want)
		}
		if s.gzipped && !bytes.HasPrefix(rec.Body.Bytes(), []byte{0x1f, 0x8b}) {
			t.Errorf("step %d %s %s: body is not a gzipped profile (%d bytes)", i, s.method, s.path, rec.Body.Len())
		}
	}
}
