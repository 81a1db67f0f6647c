package portfolio

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/benchctl/benchctl/controller/api/v1alpha1"
)

// TestExecuteBoundedByAStalledAPIServer points the runner's real client
// at an API server that accepts connections and never answers: the
// fault no refusal test covers, and the one that hangs a client whose
// waits have no bound. The run must end within the bounds its options
// state (the workflow's timeout, the cleanup timeout and the final
// read's), with an error or a timed-out record, never block.
func TestExecuteBoundedByAStalledAPIServer(t *testing.T) {
	const timeout, cleanup = 2 * time.Second, 2 * time.Second
	// Sweep and cleanup of one execution, its timeout, the final read
	// (fetchTimeout) and slack for a loaded machine.
	bound := cleanup + timeout + fetchTimeout + cleanup + 10*time.Second
	tests := []struct {
		name  string
		serve func(t *testing.T) string // returns the server's URL
	}{
		{"HTTP accepted, never answered", func(t *testing.T) string {
			release := make(chan struct{})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-release:
				case <-r.Context().Done():
				}
			}))
			t.Cleanup(func() { close(release); srv.Close() })
			return srv.URL
		}},
		{"discovery and list answered, the rest never", func(t *testing.T) string {
			// The run gets past its start (discovery, the sweep's list)
			// and stalls on its execution's create, watch and cleanup.
			release := make(chan struct{})
			gv := v1alpha1.SchemeGroupVersion
			answers := map[string]any{
				"/api": &metav1.APIVersions{Versions: []string{"v1"}},
				"/apis": &metav1.APIGroupList{Groups: []metav1.APIGroup{{
					Name:             gv.Group,
					Versions:         []metav1.GroupVersionForDiscovery{{GroupVersion: gv.String(), Version: gv.Version}},
					PreferredVersion: metav1.GroupVersionForDiscovery{GroupVersion: gv.String(), Version: gv.Version},
				}}},
				"/apis/" + gv.String(): &metav1.APIResourceList{GroupVersion: gv.String(), APIResources: []metav1.APIResource{
					{Name: "workflows", Namespaced: true, Kind: "Workflow", Verbs: metav1.Verbs{"create", "get", "list", "watch", "delete"}},
				}},
				"/api/v1": &metav1.APIResourceList{GroupVersion: "v1", APIResources: []metav1.APIResource{
					{Name: "pods", Namespaced: true, Kind: "Pod", Verbs: metav1.Verbs{"list", "delete", "deletecollection"}},
				}},
			}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				a, ok := answers[r.URL.Path]
				if r.Method == http.MethodGet && r.URL.Query().Get("watch") == "" && strings.HasSuffix(r.URL.Path, "/workflows") {
					a, ok = &v1alpha1.WorkflowList{TypeMeta: metav1.TypeMeta{APIVersion: gv.String(), Kind: "WorkflowList"}}, true
				}
				if ok && r.Method == http.MethodGet && r.URL.Query().Get("watch") == "" {
					w.Header().Set("Content-Type", "application/json")
					_ = json.NewEncoder(w).Encode(a)
					return
				}
				select {
				case <-release:
				case <-r.Context().Done():
				}
			}))
			t.Cleanup(func() { close(release); srv.Close() })
			return srv.URL
		}},
		{"TCP accepted, nothing read", func(t *testing.T) string {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			var conns []net.Conn
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					mu.Lock()
					conns = append(conns, c)
					mu.Unlock()
				}
			}()
			t.Cleanup(func() {
				ln.Close()
				mu.Lock()
				defer mu.Unlock()
				for _, c := range conns {
					c.Close()
				}
			})
			return "http://" + ln.Addr().String()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewClient(&rest.Config{Host: tt.serve(t)})
			if err != nil {
				t.Fatal(err)
			}
			comp := testPortfolio(t, `  - {name: ok, description: d, repetitions: 1, warmup: 0, timeout: 2s, chain: {length: 1}}
`)
			type result struct {
				failed int
				first  string // the first failed record's error
				err    error
			}
			done := make(chan result, 1)
			start := time.Now()
			go func() {
				run, err := execute(t, context.Background(), t.TempDir(), comp, []Target{{Name: "a", Namespace: "ns", Client: c}},
					Options{CleanupTimeout: cleanup})
				res := result{err: err}
				if run != nil {
					for _, r := range run.Records {
						if !r.Succeeded() {
							if res.failed == 0 {
								res.first = r.Error
							}
							res.failed++
						}
					}
				}
				done <- res
			}()
			select {
			case res := <-done:
				t.Logf("ended after %s: err %v, %d failed records (%s)", time.Since(start).Round(time.Millisecond), res.err, res.failed, res.first)
				if res.err == nil && res.failed == 0 {
					t.Error("a stalled API server gave a successful run")
				}
			case <-time.After(bound):
				buf := make([]byte, 1<<20)
				n := runtime.Stack(buf, true)
				t.Fatalf("Execute still blocked %s after start against a stalled API server\n%s", bound, buf[:n])
			}
		})
	}
}
