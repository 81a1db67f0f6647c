package flyte

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestWait drives Wait against an Admin whose execution goes through the
// given phases: the waits back off, and every way of giving up aborts.
func TestWait(t *testing.T) {
	running := []string{"QUEUED", "RUNNING"} // then RUNNING forever
	tests := []struct {
		name      string
		phases    []string
		getStatus int // non-zero: every GET answers it
		timeout   time.Duration
		cancelAt  int // cancel the caller's context at this poll (0: never)
		wantPhase string
		wantErr   string
		wantAbort string // the cause Admin is sent; "" when no abort is due
	}{
		{"succeeds", []string{"QUEUED", "RUNNING", "RUNNING", "RUNNING", "RUNNING", "SUCCEEDED"}, 0, 0, 0, PhaseSucceeded, "", ""},
		{"fails", []string{"RUNNING", "FAILED"}, 0, 0, 0, PhaseFailed, "", ""},
		{"times out", running, 0, 300 * time.Millisecond, 0, "", "execution timed out after 300ms (aborted)", "benchctl: execution timed out after 300ms"},
		{"interrupted", running, 0, 0, 3, "", "context canceled (aborted)", "benchctl: context canceled"},
		{"admin keeps failing", nil, http.StatusInternalServerError, 0, 0, "", "HTTP 500", "benchctl: flyte admin GET"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var mu sync.Mutex
			polls, abort := 0, ""
			s := fakeAdmin(t, map[string]http.HandlerFunc{
				"GET /api/v1/executions/p/d/e": func(w http.ResponseWriter, r *http.Request) {
					mu.Lock()
					defer mu.Unlock()
					polls++
					if tt.getStatus != 0 {
						w.WriteHeader(tt.getStatus)
						return
					}
					ph := "RUNNING"
					if polls <= len(tt.phases) {
						ph = tt.phases[polls-1]
					}
					if polls == tt.cancelAt {
						cancel()
					}
					fmt.Fprintf(w, `{"id":{"name":"e"},"closure":{"phase":%q}}`, ph)
				},
				"DELETE /api/v1/executions/p/d/e": func(w http.ResponseWriter, r *http.Request) {
					var body struct{ Cause string }
					_ = json.NewDecoder(r.Body).Decode(&body)
					mu.Lock()
					abort = body.Cause
					mu.Unlock()
					io.WriteString(w, `{}`)
				},
			})
			c := newTestClient(t, s.URL, Options{})
			var waits []time.Duration
			c.sleep = func(ctx context.Context, d time.Duration) error {
				waits = append(waits, d)
				return sleepCtx(ctx, time.Millisecond)
			}
			e, err := c.Wait(ctx, ExecutionID{"p", "d", "e"}, tt.timeout, Poll{Initial: 10 * time.Millisecond, Max: 40 * time.Millisecond})
			mu.Lock()
			defer mu.Unlock()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
			} else if err != nil || e.Closure.Phase != tt.wantPhase {
				t.Fatalf("phase %v, err %v; want %s", e, err, tt.wantPhase)
			}
			if !strings.HasPrefix(abort, tt.wantAbort) || (tt.wantAbort == "") != (abort == "") {
				t.Errorf("abort cause %q, want %q", abort, tt.wantAbort)
			}
			if tt.name == "succeeds" {
				want := []time.Duration{10, 20, 40, 40, 40}
				for i := range want {
					want[i] *= time.Millisecond
				}
				if fmt.Sprint(waits) != fmt.Sprint(want) {
					t.Errorf("waits %v, want %v", waits, want)
				}
			}
			if tt.name == "times out" && !errors.Is(err, ErrTimeout) {
				t.Errorf("err %v is not ErrTimeout", err)
			}
		})
	}
}

// TestLaunchFindsAnEarlierCreate: a name already taken is the same
// planned execution, created by an earlier attempt.
func TestLaunchFindsAnEarlierCreate(t *testing.T) {
	s := fakeAdmin(t, map[string]http.HandlerFunc{
		"POST /api/v1/executions": func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusConflict)
			io.WriteString(w, `{"code":6,"message":"already exists"}`)
		},
	})
	id, err := newTestClient(t, s.URL, Options{}).Launch(context.Background(), "bench-7", Identifier{Project: "p", Domain: "d", Name: "lp", Version: "v1"}, LiteralMap{})
	if err != nil || id.String() != "p/d/bench-7" {
		t.Fatalf("id %s, err %v", id, err)
	}
}
