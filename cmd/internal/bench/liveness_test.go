package bench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/benchctl/benchctl/provision"
)

// TestControllerLiveness: the controller is up only while its process
// exists (when it is a host process) and /healthz answers 200.
func TestControllerLiveness(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
		}
	}))
	defer ok.Close()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer failing.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	// No process has PID 0x7ffffff0 (above Linux's pid_max).
	dead := &provision.Process{Name: "benchflow-x", PID: 0x7ffffff0, Log: "/logs/x.log"}
	tests := []struct {
		name     string
		endpoint string
		proc     *provision.Process
		want     string // "" = alive
	}{
		{"healthz 200, in cluster", ok.URL, nil, ""},
		{"healthz 503", failing.URL, nil, "503"},
		{"nothing listening", closed.URL, nil, "connection refused"},
		{"process gone", ok.URL, dead, "process 2147483632 (benchflow-x) is gone; its log is /logs/x.log"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &controllerLiveness{endpoint: tt.endpoint, proc: tt.proc, http: &http.Client{}}
			err := l.Alive(context.Background())
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("alive controller: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}
