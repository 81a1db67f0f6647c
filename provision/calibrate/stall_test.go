package calibrate

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"k8s.io/client-go/rest"
)

// TestRunBoundedByAStalledAPIServer calibrates against an API server that
// accepts every request and never answers, with a controller client that
// has no request timeout (the default): Run must fail within OpTimeout
// and slack, not wait forever.
func TestRunBoundedByAStalledAPIServer(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	const op = time.Second
	bound := op + 10*time.Second
	tests := []struct {
		name   string
		client Client
	}{
		{"no request timeout", Client{}},
		{"throttled, no request timeout", Client{QPS: 5, Burst: 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := Options{Small: Workload{Template: &v1Workflow}, Large: Workload{Template: &v1Workflow}, PodImage: "x", OpTimeout: op, Client: tt.client}
			done := make(chan error, 1)
			start := time.Now()
			go func() {
				_, err := Run(context.Background(), &rest.Config{Host: srv.URL}, o)
				done <- err
			}()
			select {
			case err := <-done:
				t.Logf("ended after %s: %v", time.Since(start).Round(time.Millisecond), err)
				if err == nil {
					t.Error("calibrated against an API server that never answers")
				}
			case <-time.After(bound):
				t.Fatalf("Run still blocked %s after start against a stalled API server", bound)
			}
		})
	}
}
