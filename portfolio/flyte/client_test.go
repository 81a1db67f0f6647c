package flyte

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeAdmin serves a few Admin routes; each test installs its handlers.
func fakeAdmin(t *testing.T, routes map[string]http.HandlerFunc) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	for p, h := range routes {
		mux.HandleFunc(p, h)
	}
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func newTestClient(t *testing.T, endpoint string, o Options) *Client {
	t.Helper()
	o.Endpoint = endpoint
	c, err := NewClient(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	c.sleep = func(context.Context, time.Duration) error { return nil }
	return c
}

func TestNewClientEndpoint(t *testing.T) {
	tests := []struct {
		name, endpoint string
		auth           AuthConfig
		insecure       bool
		wantErr        string
	}{
		{"loopback http", "http://127.0.0.1:8088", AuthConfig{}, false, ""},
		{"https", "https://flyte.example.com/", AuthConfig{}, false, ""},
		{"no scheme", "flyte.example.com", AuthConfig{}, false, "want an http(s) URL with a host"},
		{"credentials in the URL", "https://u:p@flyte.example.com", AuthConfig{}, false, "credentials in the URL"},
		{"plain http to another host", "http://flyte.example.com", AuthConfig{}, false, "needs AllowInsecureHTTP"},
		{"plain http allowed", "http://flyte.example.com", AuthConfig{}, true, ""},
		{"a token over plain http", "http://flyte.example.com", AuthConfig{Mode: AuthTokenFile, TokenFile: "/x"}, true, "refusing to send credentials over plain http"},
		{"an unknown auth mode", "https://flyte.example.com", AuthConfig{Mode: "kerberos"}, false, `auth.mode: "kerberos"`},
		{"client credentials without a secret", "https://flyte.example.com", AuthConfig{Mode: AuthClientCredentials, ClientID: "b"}, false, "auth.clientSecretFile or auth.clientSecretEnv"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewClient(context.Background(), Options{Endpoint: tt.endpoint, Auth: tt.auth, AllowInsecureHTTP: tt.insecure})
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// TestCreateExecution checks the request Admin gets: the launch plan as a
// LAUNCH_PLAN identifier, an int64 input as a JSON string.
func TestCreateExecution(t *testing.T) {
	var got map[string]any
	s := fakeAdmin(t, map[string]http.HandlerFunc{
		"POST /api/v1/executions": func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Content-Type") != "application/json" {
				t.Errorf("content type %q", r.Header.Get("Content-Type"))
			}
			_ = json.NewDecoder(r.Body).Decode(&got)
			io.WriteString(w, `{"id":{"project":"p","domain":"d","name":"bench-1"}}`)
		},
	})
	c := newTestClient(t, s.URL, Options{})
	e := Entry{LaunchPlan: "bench.chain", Version: "v1", Inputs: map[string]Value{"n": Int(100), "label": String("x")}}
	lits, err := e.LiteralMap()
	if err != nil {
		t.Fatal(err)
	}
	id, err := c.CreateExecution(context.Background(), "bench-1", e.LaunchPlanID("p", "d"), lits)
	if err != nil {
		t.Fatal(err)
	}
	if id.String() != "p/d/bench-1" {
		t.Errorf("id = %s", id)
	}
	b, _ := json.Marshal(got)
	for _, want := range []string{`"resource_type":"LAUNCH_PLAN"`, `"name":"bench.chain"`, `"version":"v1"`,
		`"n":{"scalar":{"primitive":{"integer":"100"}}}`, `"string_value":"x"`, `"mode":"MANUAL"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("request %s lacks %s", b, want)
		}
	}
}

// TestDecodeBothCases: Admin answers with proto field names, a gateway
// with the default marshaler in lowerCamelCase; both decode alike.
func TestDecodeBothCases(t *testing.T) {
	tests := []struct{ name, body string }{
		{"snake_case", `{"id":{"project":"p","domain":"d","name":"e"},"closure":{"phase":"SUCCEEDED","started_at":"2026-12-04T10:00:00.5Z","duration":"1.250s","error":{"message":"m"}}}`},
		{"lowerCamelCase", `{"id":{"project":"p","domain":"d","name":"e"},"closure":{"phase":"SUCCEEDED","startedAt":"2026-12-04T10:00:00.5Z","duration":"1.250s","error":{"message":"m"}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := fakeAdmin(t, map[string]http.HandlerFunc{
				"GET /api/v1/executions/p/d/e": func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, tt.body) },
			})
			e, err := newTestClient(t, s.URL, Options{}).GetExecution(context.Background(), ExecutionID{"p", "d", "e"})
			if err != nil {
				t.Fatal(err)
			}
			want := time.Date(2026, 12, 4, 10, 0, 0, 5e8, time.UTC)
			if e.Closure.Phase != "SUCCEEDED" || !e.Closure.StartedAt.Equal(want) || e.Closure.Duration.D() != 1250*time.Millisecond || e.Closure.Error.Message != "m" {
				t.Errorf("closure = %+v", e.Closure)
			}
		})
	}
}

// TestListNodeExecutionsPages follows the token through every page and
// passes the parent.
func TestListNodeExecutionsPages(t *testing.T) {
	var calls atomic.Int32
	s := fakeAdmin(t, map[string]http.HandlerFunc{
		"GET /api/v1/node_executions/p/d/e": func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			if r.URL.Query().Get("unique_parent_id") != "n0" || r.URL.Query().Get("limit") != "100" {
				t.Errorf("query %s", r.URL.RawQuery)
			}
			switch r.URL.Query().Get("token") {
			case "":
				io.WriteString(w, `{"node_executions":[{"id":{"node_id":"a"}},{"id":{"node_id":"b"}}],"token":"2"}`)
			case "2":
				io.WriteString(w, `{"node_executions":[{"id":{"node_id":"c"},"metadata":{"is_parent_node":true}}],"token":"3"}`)
			default:
				io.WriteString(w, `{"node_executions":[]}`)
			}
		},
	})
	ns, err := newTestClient(t, s.URL, Options{}).ListNodeExecutions(context.Background(), ExecutionID{"p", "d", "e"}, "n0")
	if err != nil {
		t.Fatal(err)
	}
	if len(ns) != 3 || ns[2].ID.NodeID != "c" || !ns[2].Metadata.IsParentNode || calls.Load() != 3 {
		t.Errorf("%d node executions in %d calls: %+v", len(ns), calls.Load(), ns)
	}
}

// TestRetries: idempotent calls retry 429 and 5xx gateway errors, never a
// client error; the abort (DELETE) is never repeated.
func TestRetries(t *testing.T) {
	tests := []struct {
		name      string
		statuses  []int // answered in turn, then 200
		call      func(*Client) error
		wantCalls int32
		wantErr   error
	}{
		{"two 503s then success", []int{503, 503}, func(c *Client) error {
			_, err := c.GetExecution(context.Background(), ExecutionID{"p", "d", "e"})
			return err
		}, 3, nil},
		{"three 503s exhaust the retries", []int{503, 503, 503}, func(c *Client) error {
			_, err := c.GetExecution(context.Background(), ExecutionID{"p", "d", "e"})
			return err
		}, 3, errors.New("HTTP 503")},
		{"a 404 is not retried", []int{404}, func(c *Client) error {
			_, err := c.GetExecution(context.Background(), ExecutionID{"p", "d", "e"})
			return err
		}, 1, ErrNotFound},
		{"a 401 says what to check", []int{401}, func(c *Client) error {
			_, err := c.GetExecution(context.Background(), ExecutionID{"p", "d", "e"})
			return err
		}, 1, errors.New("check the auth mode")},
		{"an abort is sent once", []int{503}, func(c *Client) error {
			return c.TerminateExecution(context.Background(), ExecutionID{"p", "d", "e"}, "timeout")
		}, 1, errors.New("HTTP 503")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			h := func(w http.ResponseWriter, r *http.Request) {
				n := calls.Add(1)
				if int(n) <= len(tt.statuses) {
					w.WriteHeader(tt.statuses[n-1])
					io.WriteString(w, `{"code":5,"message":"execution p/d/e gone"}`)
					return
				}
				io.WriteString(w, `{"id":{"name":"e"}}`)
			}
			s := fakeAdmin(t, map[string]http.HandlerFunc{"/api/v1/executions/p/d/e": h})
			err := tt.call(newTestClient(t, s.URL, Options{}))
			if calls.Load() != tt.wantCalls {
				t.Errorf("%d calls, want %d", calls.Load(), tt.wantCalls)
			}
			switch {
			case tt.wantErr == nil && err != nil:
				t.Fatal(err)
			case tt.wantErr == nil:
			case err == nil:
				t.Fatalf("no error, want %v", tt.wantErr)
			case errors.Is(tt.wantErr, ErrNotFound):
				if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "execution p/d/e gone") {
					t.Errorf("err = %v, want a not-found naming Admin's message", err)
				}
			case !strings.Contains(err.Error(), tt.wantErr.Error()):
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// TestRequestTimeout: an Admin that never answers costs one request
// timeout per attempt, not forever.
func TestRequestTimeout(t *testing.T) {
	release := make(chan struct{})
	s := fakeAdmin(t, map[string]http.HandlerFunc{
		"/api/v1/version": func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		},
	})
	defer close(release)
	c := newTestClient(t, s.URL, Options{RequestTimeout: 50 * time.Millisecond, Retries: -1})
	_, err := c.GetVersion(context.Background())
	if err == nil || !strings.Contains(err.Error(), "no answer within 50ms") {
		t.Fatalf("err = %v", err)
	}
}

// TestMetricsAndLaunchPlan: the span tree decodes recursively; a missing
// launch plan is named.
func TestMetricsAndLaunchPlan(t *testing.T) {
	s := fakeAdmin(t, map[string]http.HandlerFunc{
		"GET /api/v1/metrics/executions/p/d/e": func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("depth") != "3" {
				t.Errorf("depth %q", r.URL.Query().Get("depth"))
			}
			io.WriteString(w, `{"span":{"workflowId":{"name":"e"},"startTime":"2026-12-04T10:00:00Z","endTime":"2026-12-04T10:00:02Z",
				"spans":[{"operationId":"EXECUTION_OVERHEAD","startTime":"2026-12-04T10:00:00Z","endTime":"2026-12-04T10:00:00.1Z"},
				{"nodeId":{"nodeId":"n0"},"spans":[{"taskId":{"retryAttempt":1}}]}]}}`)
		},
		"GET /api/v1/launch_plans/p/d/bench.chain/v9": func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"code":5,"message":"missing entity"}`)
		},
	})
	c := newTestClient(t, s.URL, Options{})
	sp, err := c.GetExecutionMetrics(context.Background(), ExecutionID{"p", "d", "e"}, 3)
	if err != nil {
		t.Fatal(err)
	}
	if sp.WorkflowID == nil || len(sp.Spans) != 2 || sp.Spans[0].OperationID != "EXECUTION_OVERHEAD" ||
		sp.Spans[0].EndTime.Sub(sp.Spans[0].StartTime) != 100*time.Millisecond ||
		sp.Spans[1].NodeID.NodeID != "n0" || sp.Spans[1].Spans[0].TaskID.RetryAttempt != 1 {
		t.Errorf("span tree = %+v", sp)
	}
	_, err = c.GetLaunchPlan(context.Background(), Identifier{Project: "p", Domain: "d", Name: "bench.chain", Version: "v9"})
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "launch plan p/d/bench.chain/v9") {
		t.Errorf("err = %v", err)
	}
}
