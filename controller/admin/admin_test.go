package admin_test

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benchctl/benchctl/controller/admin"
	"github.com/benchctl/benchctl/controller/admin/pgtest"
)

// databases opens a fresh store on each database kind: a SQLite file and,
// where the binaries exist, a PostgreSQL server of the test's own.
func databases(t *testing.T) map[string]func(t *testing.T) *admin.Store {
	return map[string]func(t *testing.T) *admin.Store{
		admin.KindSQLite: func(t *testing.T) *admin.Store {
			return open(t, "sqlite://"+filepath.Join(t.TempDir(), "events.db"))
		},
		admin.KindPostgres: func(t *testing.T) *admin.Store {
			return open(t, pgtest.Start(t))
		},
	}
}

func open(t testing.TB, dsn string) *admin.Store {
	t.Helper()
	s, err := admin.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var t0 = time.Date(2026, 12, 2, 12, 0, 0, 123456789, time.UTC)

func ev(kind, node string, item int, attempt int32, phase string, at time.Duration) admin.Event {
	return admin.Event{Kind: kind, Namespace: "ns", Workflow: "wf", Execution: "x1", Node: node, MapItem: item,
		Attempt: attempt, Phase: phase, OccurredAt: t0.Add(at)}
}

func withID(e admin.Event, id string) admin.Event {
	e.ID = id
	return e
}

// TestRecord: idempotency by id, phases that may not go backwards, and a
// fresh attempt that starts over, on both databases.
func TestRecord(t *testing.T) {
	steps := []struct {
		name string
		e    admin.Event
		want error // nil, ErrAlreadyExists, ErrIncompatiblePhase, ErrInvalidArgument
	}{
		{"workflow running", ev("workflow", "", -1, 0, "Running", 0), nil},
		{"node running", ev("node", "n0", -1, 1, "Running", time.Millisecond), nil},
		{"the same event again", ev("node", "n0", -1, 1, "Running", 5*time.Millisecond), admin.ErrAlreadyExists},
		{"task running", ev("task", "n0", -1, 1, "Running", time.Millisecond), nil},
		{"task failed", ev("task", "n0", -1, 1, "Failed", 10*time.Millisecond), nil},
		{"task running after its end", ev("task", "n0", -1, 1, "Running", 11*time.Millisecond), admin.ErrAlreadyExists},
		{"task running after its end, another id", withID(ev("task", "n0", -1, 1, "Running", 11*time.Millisecond), "late-replay"), admin.ErrIncompatiblePhase},
		{"task failed again, another id", withID(ev("task", "n0", -1, 1, "Failed", 12*time.Millisecond), "same-terminal"), nil},
		{"node retryable failure", ev("node", "n0", -1, 1, "RetryableFailure", 11*time.Millisecond), nil},
		{"queued after running, same attempt", ev("node", "n0", -1, 1, "Queued", 12*time.Millisecond), admin.ErrIncompatiblePhase},
		{"attempt 2 starts over", ev("node", "n0", -1, 2, "Running", 13*time.Millisecond), nil},
		{"attempt 2 succeeds", ev("node", "n0", -1, 2, "Succeeded", 20*time.Millisecond), nil},
		{"terminal, another phase", ev("node", "n0", -1, 2, "Failed", 21*time.Millisecond), admin.ErrIncompatiblePhase},
		{"a child workflow's node of the same name", func() admin.Event {
			e := ev("node", "n0", -1, 1, "Running", 14*time.Millisecond)
			e.Workflow = "child"
			return e
		}(), nil},
		{"map item", ev("task", "m", 3, 1, "Running", 2*time.Millisecond), nil},
		{"unknown phase", ev("node", "n1", -1, 1, "Sleeping", 0), admin.ErrInvalidArgument},
		{"no node", ev("task", "", -1, 1, "Running", 0), admin.ErrInvalidArgument},
		{"no time", func() admin.Event { e := ev("node", "n1", -1, 1, "Running", 0); e.OccurredAt = time.Time{}; return e }(), admin.ErrInvalidArgument},
	}
	for kind, openDB := range databases(t) {
		t.Run(kind, func(t *testing.T) {
			s := openDB(t)
			if s.Kind() != kind {
				t.Fatalf("kind %s", s.Kind())
			}
			var want []admin.Persisted
			for _, st := range steps {
				p, err := s.Record(context.Background(), st.e)
				switch {
				case st.want == nil && err != nil:
					t.Fatalf("%s: %v", st.name, err)
				case st.want != nil && !errors.Is(err, st.want):
					t.Fatalf("%s: err %v, want %v", st.name, err, st.want)
				case err == nil:
					if wantID := cmp.Or(st.e.ID, st.e.Key()); p.ID != wantID {
						t.Fatalf("%s: id %q, want %q", st.name, p.ID, wantID)
					}
					want = append(want, p)
				}
			}
			got, err := s.Events(context.Background(), "x1")
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("%d events persisted, %d created", len(got), len(want))
			}
			for i, p := range got {
				// Persisted order; what Record returned is what is stored,
				// nanoseconds included, the final write time included.
				if p != want[i] {
					t.Errorf("event %d:\n got %+v\nwant %+v", i, p, want[i])
				}
				if p.WriteSeconds <= 0 || p.RecordedAt.Before(p.OccurredAt) {
					t.Errorf("event %s: write %gs recorded %s", p.ID, p.WriteSeconds, p.RecordedAt)
				}
			}
			// The duplicate changed nothing: the first node event keeps its time.
			if got[1].Kind != "node" || !got[1].OccurredAt.Equal(t0.Add(time.Millisecond)) {
				t.Errorf("duplicate overwrote the event: %+v", got[1])
			}
			if other, _ := s.Events(context.Background(), "nope"); len(other) != 0 {
				t.Fatalf("another execution has %d events", len(other))
			}
		})
	}
}

// TestServer: the HTTP API and the client, with typed errors, on both
// databases.
func TestServer(t *testing.T) {
	for kind, openDB := range databases(t) {
		t.Run(kind, func(t *testing.T) { testServer(t, openDB(t)) })
	}
}

func testServer(t *testing.T, s *admin.Store) {
	srv := httptest.NewServer(admin.NewServer(s, "v1.2", "abc"))
	defer srv.Close()
	c := &admin.Client{BaseURL: srv.URL}
	ctx := context.Background()
	var created []string
	for _, st := range []struct {
		e    admin.Event
		want error
	}{
		{ev("workflow", "", -1, 0, "Running", 0), nil},
		{ev("node", "n0", -1, 1, "Running", time.Millisecond), nil},
		{ev("task", "n0", -1, 1, "Running", time.Millisecond), nil},
		{ev("task", "n0", -1, 1, "Succeeded", 11*time.Millisecond), nil},
		{ev("node", "n0", -1, 1, "Succeeded", 14*time.Millisecond), nil},
		{ev("node", "n0", -1, 1, "Succeeded", 14*time.Millisecond), admin.ErrAlreadyExists},
		{ev("node", "n0", -1, 1, "Queued", 15*time.Millisecond), admin.ErrIncompatiblePhase},
		{ev("node", "n0", -1, 1, "Bogus", 15*time.Millisecond), admin.ErrInvalidArgument},
		{ev("workflow", "", -1, 0, "Succeeded", 16*time.Millisecond), nil},
	} {
		err := c.Record(ctx, st.e)
		if (st.want == nil) != (err == nil) || (st.want != nil && !errors.Is(err, st.want)) {
			t.Fatalf("%s %s %s: err %v, want %v", st.e.Kind, st.e.Node, st.e.Phase, err, st.want)
		}
		if err == nil {
			created = append(created, st.e.Key())
		}
	}
	// The refusal carries the current phase, for the controller's log.
	err := c.Record(ctx, withID(ev("node", "n0", -1, 1, "Running", 15*time.Millisecond), "replay"))
	var ae *admin.Error
	if !errors.As(err, &ae) || ae.Status != http.StatusPreconditionFailed || ae.CurrentPhase != "Succeeded" {
		t.Fatalf("incompatible: %#v", err)
	}
	evs, err := c.Events(ctx, "x1")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range evs {
		ids = append(ids, e.ID)
	}
	if strings.Join(ids, " ") != strings.Join(created, " ") {
		t.Fatalf("events\n%s\nwant, in order,\n%s", strings.Join(ids, "\n"), strings.Join(created, "\n"))
	}
	tree, err := c.Metrics(ctx, "x1")
	if err != nil {
		t.Fatal(err)
	}
	if tree.WorkflowID != "x1" || tree.EndTime.Sub(tree.StartTime) != 16*time.Millisecond || len(tree.Spans) != 3 || tree.Spans[1].NodeID != "n0" {
		t.Fatalf("tree %+v", tree)
	}
	if _, err := c.Metrics(ctx, "nope"); !errors.Is(err, admin.ErrNotFound) {
		t.Fatalf("metrics of an unknown execution: %v", err)
	}
	if evs, err := c.Events(ctx, "nope"); err != nil || evs == nil || len(evs) != 0 {
		t.Fatalf("events of an unknown execution: %v %v", evs, err)
	}
	v, err := c.Version(ctx)
	if err != nil || v.Database != s.Kind() || v.Version != "v1.2" || v.Commit != "abc" || v.APIVersion != "v1" {
		t.Fatalf("version %+v %v", v, err)
	}
	// Malformed bodies are 400 InvalidArgument.
	for _, body := range []string{
		`{"kind":"node","extra":1}`,
		`not json`,
		`{"kind":"node","execution":"x1","node":"n","phase":"Running"}`, // no occurredAt
		`{"kind":"pod","execution":"x1","node":"n","phase":"Running","occurredAt":"2026-01-01T00:00:00Z"}`,
		`{"kind":"workflow","phase":"Running","occurredAt":"2026-01-01T00:00:00Z"}`, // no execution
		`{"kind":"task","execution":"x1","node":"n","mapItem":-2,"phase":"Running","occurredAt":"2026-01-01T00:00:00Z"}`,
	} {
		resp, err := http.Post(srv.URL+admin.PathEvents, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(b.String(), `"code":"InvalidArgument"`) {
			t.Errorf("%s: %s %s", body, resp.Status, b.String())
		}
	}
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/api/v2/events": 404} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s: %s, want %d", path, resp.Status, want)
		}
	}
	// Prometheus counts the results and times the writes.
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`benchadmin_events_total{kind="node",result="already_exists"} 1`,
		`benchadmin_events_total{kind="node",result="created"} 2`,
		`benchadmin_events_total{kind="node",result="incompatible"} 2`,
		`benchadmin_events_total{kind="node",result="invalid"} 3`,
		`benchadmin_events_total{kind="unknown",result="invalid"} 2`,
		`benchadmin_db_write_seconds_count{kind="task"} 2`,
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// A dead service is a plain (retryable) error, not a refusal.
	srv.Close()
	err = c.Record(ctx, ev("node", "n9", -1, 1, "Running", 0))
	if err == nil || errors.As(err, &ae) {
		t.Fatalf("dead service: %v", err)
	}
}

// TestDeriveMetrics: trees from hand-built events.
func TestDeriveMetrics(t *testing.T) {
	ms := time.Millisecond
	p := func(e admin.Event) admin.Persisted { return admin.Persisted{Event: e} }
	child := func(e admin.Event) admin.Event { e.Workflow = "wf-lp"; return e }
	for _, c := range []struct {
		name string
		evs  []admin.Event
		want []string // "id start..end" in ms from t0, indented by depth
	}{{
		name: "chain with a retry and a map node",
		evs: []admin.Event{
			ev("workflow", "", -1, 0, "Running", 0),
			ev("node", "start", -1, 0, "Succeeded", 2*ms),
			ev("task", "n0", -1, 1, "Running", 5*ms),
			ev("node", "n0", -1, 1, "Running", 5*ms),
			ev("task", "n0", -1, 1, "Failed", 15*ms),
			ev("node", "n0", -1, 1, "RetryableFailure", 18*ms),
			ev("task", "n0", -1, 2, "Running", 20*ms),
			ev("node", "n0", -1, 2, "Running", 20*ms),
			ev("task", "n0", -1, 2, "Succeeded", 30*ms),
			ev("node", "n0", -1, 2, "Succeeded", 33*ms),
			ev("node", "m", -1, 1, "Running", 34*ms),
			ev("task", "m", 1, 1, "Running", 35*ms),
			ev("task", "m", 0, 1, "Running", 35*ms),
			ev("task", "m", 0, 1, "Succeeded", 40*ms),
			ev("task", "m", 1, 1, "Succeeded", 41*ms),
			ev("node", "m", -1, 1, "Succeeded", 45*ms),
			ev("workflow", "", -1, 0, "Succeeded", 50*ms),
		},
		want: []string{
			"x1 0..50",
			" WORKFLOW_SETUP 0..2",
			" start 2..2",
			" n0 5..33",
			"  NODE_SETUP 5..5",
			"  task n0[-1]#1 5..15",
			"   TASK_RUNTIME 5..15",
			"  task n0[-1]#2 20..30",
			"   TASK_RUNTIME 20..30",
			"  NODE_TEARDOWN 30..33",
			" m 34..45",
			"  NODE_SETUP 34..35",
			"  task m[0]#1 35..40",
			"   TASK_RUNTIME 35..40",
			"  task m[1]#1 35..41",
			"   TASK_RUNTIME 35..41",
			"  NODE_TEARDOWN 41..45",
			" WORKFLOW_TEARDOWN 45..50",
		},
	}, {
		name: "still running: no teardowns, no unfinished task",
		evs: []admin.Event{
			ev("workflow", "", -1, 0, "Running", 0),
			ev("node", "b", -1, 1, "Queued", 4*ms), // sorted by start, not by name
			ev("node", "a", -1, 1, "Queued", 3*ms),
			ev("node", "a", -1, 1, "Running", 6*ms),
			ev("task", "a", -1, 1, "Running", 7*ms),
		},
		want: []string{
			"x1 0..0",
			" WORKFLOW_SETUP 0..3",
			" a 3..6",
			"  NODE_SETUP 3..7",
			" b 4..4",
		},
	}, {
		name: "a launch-plan child under the same execution",
		evs: []admin.Event{
			ev("workflow", "", -1, 0, "Running", 0),
			ev("node", "lp", -1, 1, "Running", 1*ms),
			child(ev("workflow", "", -1, 0, "Running", 2*ms)),
			child(ev("node", "lp", -1, 1, "Running", 3*ms)), // the parent's node name, the child's node
			child(ev("task", "lp", -1, 1, "Running", 4*ms)),
			child(ev("task", "lp", -1, 1, "Succeeded", 5*ms)),
			child(ev("node", "lp", -1, 1, "Succeeded", 6*ms)),
			child(ev("workflow", "", -1, 0, "Succeeded", 7*ms)),
			ev("node", "lp", -1, 1, "Succeeded", 8*ms),
			ev("workflow", "", -1, 0, "Succeeded", 9*ms),
		},
		want: []string{
			"x1 0..9",
			" WORKFLOW_SETUP 0..1",
			" lp 1..8",
			" wf-lp 2..7",
			"  WORKFLOW_SETUP 2..3",
			"  lp 3..6",
			"   NODE_SETUP 3..4",
			"   task lp[-1]#1 4..5",
			"    TASK_RUNTIME 4..5",
			"   NODE_TEARDOWN 5..6",
			"  WORKFLOW_TEARDOWN 6..7",
			" WORKFLOW_TEARDOWN 8..9",
		},
	}, {
		name: "no workflow events: the root spans them all",
		evs: []admin.Event{
			ev("node", "n", -1, 0, "Running", 3*ms),
			ev("node", "n", -1, 0, "Succeeded", 8*ms),
		},
		want: []string{"x1 3..8", " n 3..8"},
	}} {
		t.Run(c.name, func(t *testing.T) {
			var evs []admin.Persisted
			for _, e := range c.evs {
				evs = append(evs, p(e))
			}
			tree, err := admin.DeriveMetrics("x1", evs)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			var walk func(s *admin.Span, depth int)
			walk = func(s *admin.Span, depth int) {
				set := 0
				for _, b := range []bool{s.WorkflowID != "", s.NodeID != "", s.TaskID != nil, s.OperationID != ""} {
					if b {
						set++
					}
				}
				if set != 1 {
					t.Errorf("span %+v has %d ids", s, set)
				}
				id := s.WorkflowID + s.NodeID + s.OperationID
				if s.TaskID != nil {
					id = fmt.Sprintf("task %s[%d]#%d", s.TaskID.Node, s.TaskID.MapItem, s.TaskID.Attempt)
				}
				got = append(got, fmt.Sprintf("%s%s %d..%d", strings.Repeat(" ", depth), id, s.StartTime.Sub(t0)/ms, s.EndTime.Sub(t0)/ms))
				for _, c := range s.Spans {
					walk(c, depth+1)
				}
			}
			walk(tree, 0)
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Fatalf("tree:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
	if _, err := admin.DeriveMetrics("x1", nil); !errors.Is(err, admin.ErrNotFound) {
		t.Fatalf("no events: %v", err)
	}
	other := admin.Persisted{Event: ev("workflow", "", -1, 0, "Running", 0)}
	other.Execution = "x2"
	if _, err := admin.DeriveMetrics("x1", []admin.Persisted{other}); err == nil {
		t.Fatal("another execution's events were accepted")
	}
}

// TestConcurrentRecord: concurrent duplicates persist once, and concurrent
// phases of one entity never persist out of rank order (the entity row
// lock), on both databases.
func TestConcurrentRecord(t *testing.T) {
	phases := []string{"Queued", "Running", "Succeeded"}
	for kind, openDB := range databases(t) {
		t.Run(kind, func(t *testing.T) {
			s := openDB(t)
			ctx := context.Background()
			const entities, dups = 50, 4
			var created, already, incompatible atomic.Int64
			var wg sync.WaitGroup
			for i := range entities {
				for _, ph := range phases {
					for range dups {
						wg.Add(1)
						go func() {
							defer wg.Done()
							_, err := s.Record(ctx, ev("task", fmt.Sprintf("n%d", i), -1, 1, ph, 0))
							switch {
							case err == nil:
								created.Add(1)
							case errors.Is(err, admin.ErrAlreadyExists):
								already.Add(1)
							case errors.Is(err, admin.ErrIncompatiblePhase):
								incompatible.Add(1)
							default:
								t.Error(err)
							}
						}()
					}
				}
			}
			wg.Wait()
			evs, err := s.Events(ctx, "x1")
			if err != nil {
				t.Fatal(err)
			}
			if int64(len(evs)) != created.Load() || created.Load()+already.Load()+incompatible.Load() != entities*3*dups {
				t.Fatalf("%d persisted, %d created, %d already, %d incompatible", len(evs), created.Load(), already.Load(), incompatible.Load())
			}
			last := map[string]int{}
			seen := map[string]bool{}
			for _, e := range evs {
				if seen[e.ID] {
					t.Fatalf("%s persisted twice", e.ID)
				}
				seen[e.ID] = true
				r, _ := admin.Rank(e.Phase)
				if r < last[e.Node] {
					t.Fatalf("%s persisted %s after a later phase", e.Node, e.Phase)
				}
				last[e.Node] = r
			}
			// Each entity got exactly one terminal event.
			for i := range entities {
				if last[fmt.Sprintf("n%d", i)] != 4 {
					t.Errorf("n%d ended at rank %d", i, last[fmt.Sprintf("n%d", i)])
				}
			}
		})
	}
}

// TestMainFlags: flags and their exit codes.
func TestMainFlags(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		name  string
		args  []string
		usage bool
		want  string
	}{
		{"non-loopback refused", []string{"--listen", "0.0.0.0:0"}, true, "not a loopback"},
		{"bad flag", []string{"--nope"}, true, "nope"},
		{"missing DSN file", []string{"--db-file", filepath.Join(dir, "none")}, true, "--db-file"},
		{"bad DSN", []string{"--listen", "127.0.0.1:0", "--db", "mysql://x"}, false, "unsupported database"},
		{"stray argument", []string{"serve"}, true, "unexpected"},
		{"all interfaces refused", []string{"--listen", ":0"}, true, "not a loopback"},
		{"a host name refused", []string{"--listen", "example.com:0"}, true, "not a loopback"},
		{"bad address", []string{"--listen", "127.0.0.1"}, true, "--listen"},
		{"--db and --db-file", []string{"--db", "sqlite://x.db", "--db-file", filepath.Join(dir, "none")}, true, "exclusive"},
		{"remote allowed, then the database fails", []string{"--listen", "0.0.0.0:0", "--allow-remote", "--db", "mysql://x"}, false, "unsupported database"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			err := admin.Main(context.Background(), tt.args, &out, &errb)
			var u admin.UsageError
			if err == nil || errors.As(err, &u) != tt.usage || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v (usage %v), want one naming %q (usage %v)", err, errors.As(err, &u), tt.want, tt.usage)
			}
		})
	}
	// It serves the database named in --db-file, logs its address but not
	// the DSN's password, and shuts down when its context ends.
	dsnFile := filepath.Join(dir, "dsn")
	if err := os.WriteFile(dsnFile, []byte("sqlite://"+filepath.Join(dir, "a.db")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- admin.Main(ctx, []string{"--listen", "127.0.0.1:0", "--db-file", dsnFile}, &bytes.Buffer{}, logs)
	}()
	addr := ""
	for deadline := time.Now().Add(10 * time.Second); addr == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := regexp.MustCompile(`address=(\S+)`).FindStringSubmatch(logs.String()); m != nil {
			addr = m[1]
		}
	}
	if addr == "" {
		t.Fatalf("no address logged:\n%s", logs.String())
	}
	c := &admin.Client{BaseURL: "http://" + addr}
	if v, err := c.Version(ctx); err != nil || v.Database != admin.KindSQLite {
		t.Fatalf("version %+v %v", v, err)
	}
	if err := c.Record(ctx, ev("workflow", "", -1, 0, "Running", 0)); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Main did not stop")
	}
	// The event is in the file the DSN named.
	s := open(t, "sqlite://"+filepath.Join(dir, "a.db"))
	if evs, err := s.Events(context.Background(), "x1"); err != nil || len(evs) != 1 {
		t.Fatalf("events %v %v", evs, err)
	}
}

// syncBuffer is a bytes.Buffer safe for Main's logger and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// BenchmarkRecord is the events per second one service sustains on each
// database, with a few concurrent reporters (the controller's workers):
// "store" calls Store.Record, "http" goes through the API and the Client,
// as the controller does.
func BenchmarkRecord(b *testing.B) {
	var n atomic.Int64 // unique entities across runs sharing one database
	for _, kind := range []string{admin.KindSQLite, admin.KindPostgres} {
		b.Run(kind, func(b *testing.B) {
			var dsn string
			if kind == admin.KindSQLite {
				dsn = "sqlite://" + filepath.Join(b.TempDir(), "events.db")
			} else {
				dsn = pgtest.Start(b)
			}
			s := open(b, dsn)
			srv := httptest.NewServer(admin.NewServer(s, "bench", ""))
			b.Cleanup(srv.Close)
			c := &admin.Client{BaseURL: srv.URL}
			for _, via := range []struct {
				name   string
				record func(context.Context, admin.Event) error
			}{
				{"store", func(ctx context.Context, e admin.Event) error { _, err := s.Record(ctx, e); return err }},
				{"http", c.Record},
			} {
				b.Run(via.name, func(b *testing.B) {
					b.SetParallelism(2) // 2 x GOMAXPROCS reporters
					start := time.Now()
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							i := n.Add(1)
							e := ev("task", fmt.Sprintf("n%d", i), -1, 1, "Running", time.Duration(i))
							if err := via.record(context.Background(), e); err != nil {
								b.Error(err)
								return
							}
						}
					})
					b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
				})
			}
		})
	}
}
