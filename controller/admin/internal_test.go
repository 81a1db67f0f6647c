package admin

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/benchctl/benchctl/controller/admin/pgtest"
)

// TestDurability: the settings that make a committed event survive a
// crash, as the connections really have them, also after a Record (whose
// backfill relaxes them on its own path only).
func TestDurability(t *testing.T) {
	ctx := context.Background()
	e := Event{Kind: KindWorkflow, Execution: "x", Workflow: "wf", MapItem: -1, Phase: "Running", OccurredAt: time.Now()}
	t.Run(KindSQLite, func(t *testing.T) {
		s, err := Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "d", "events.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if _, err := s.Record(ctx, e); err != nil {
			t.Fatal(err)
		}
		for pragma, want := range map[string]string{"journal_mode": "wal", "synchronous": "2", "busy_timeout": "5000"} {
			var got string
			if err := s.db.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil || got != want {
				t.Errorf("%s = %q (%v), want %q", pragma, got, err, want)
			}
		}
	})
	t.Run(KindPostgres, func(t *testing.T) {
		dsn := pgtest.Start(t)
		s, err := Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if _, err := s.Record(ctx, e); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct{ name, query, want string }{
			{"events pool", "SHOW synchronous_commit", "on"},
			{"events pool", "SHOW fsync", "on"},
			{"backfill pool", "SHOW synchronous_commit", "off"},
		} {
			db := s.db
			if c.name == "backfill pool" {
				db = s.bf
			}
			var got string
			if err := db.QueryRowContext(ctx, c.query).Scan(&got); err != nil || got != c.want {
				t.Errorf("%s: %s = %q (%v), want %q", c.name, c.query, got, err, c.want)
			}
		}
		var version int
		if err := s.db.QueryRowContext(ctx, "SELECT MAX(version) FROM schema_version").Scan(&version); err != nil || version != schemaVersion {
			t.Errorf("schema version %d %v", version, err)
		}
		// Opening again is a no-op migration that keeps the events.
		s2, err := Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer s2.Close()
		if evs, err := s2.Events(ctx, "x"); err != nil || len(evs) != 1 {
			t.Errorf("after reopening: %v %v", evs, err)
		}
	})
}

func TestOpenDSN(t *testing.T) {
	ctx := context.Background()
	for _, dsn := range []string{"mysql://u:secret@h/db", "benchadmin.db", "sqlite://", "sqlite://x.db?_pragma=synchronous(OFF)", "file:x.db"} {
		_, err := Open(ctx, dsn)
		if err == nil || strings.Contains(err.Error(), "secret") {
			t.Errorf("Open(%q): %v", dsn, err)
		}
	}
	// A relative path is relative to the working directory.
	t.Chdir(t.TempDir())
	s, err := Open(ctx, "sqlite://rel/events.db")
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := os.Stat("rel/events.db"); err != nil {
		t.Fatal(err)
	}
}

func TestRedact(t *testing.T) {
	for dsn, want := range map[string]string{
		"postgres://u:secret@db:5432/x?sslmode=disable":   "postgres://u:xxxxx@db:5432/x?sslmode=disable",
		"postgresql://u@db/x?password=secret&sslmode=off": "postgresql://u@db/x?password=xxxxx&sslmode=off",
		"sqlite:///var/lib/benchadmin.db":                 "sqlite:///var/lib/benchadmin.db",
	} {
		if got := redact(dsn); got != want {
			t.Errorf("redact(%q) = %q, want %q", dsn, got, want)
		}
	}
}

func TestKey(t *testing.T) {
	base := Event{Kind: KindNode, Execution: "x", Workflow: "wf", Node: "a", MapItem: -1, Attempt: 1, Phase: "Running"}
	with := func(f func(*Event)) Event { e := base; f(&e); return e }
	// Events that differ in one part, including by a separator inside a
	// part, have different keys.
	distinct := []Event{
		base,
		with(func(e *Event) { e.Node = "a/1" }),
		with(func(e *Event) { e.Node = "a"; e.Workflow = "wf/node/a" }),
		with(func(e *Event) { e.Execution = "x/wf" }),
		with(func(e *Event) { e.Workflow = "child" }),
		with(func(e *Event) { e.Kind = KindTask }),
		with(func(e *Event) { e.MapItem = 0 }),
		with(func(e *Event) { e.Attempt = 2 }),
		with(func(e *Event) { e.Phase = "Succeeded" }),
		with(func(e *Event) { e.Node = "a%2F1" }),
	}
	seen := map[string]int{}
	for i, e := range distinct {
		if j, dup := seen[e.Key()]; dup {
			t.Errorf("events %d and %d share the key %q", j, i, e.Key())
		}
		seen[e.Key()] = i
	}
	// What is not part of the identity does not change it.
	same := with(func(e *Event) { e.OccurredAt = time.Now(); e.Message = "m"; e.Namespace = "other" })
	if same.Key() != base.Key() {
		t.Errorf("key changed with time, message or namespace: %q", same.Key())
	}
}

func TestRankAndTransitions(t *testing.T) {
	for _, c := range []struct {
		from, to string
		ok       bool
	}{
		{"", "Queued", true},
		{"", "Succeeded", true},
		{"Queued", "Running", true},
		{"Running", "Running", true},
		{"Running", "Queued", false},
		{"Running", "NotStarted", false},
		{"Failing", "Running", false},
		{"Failing", "Failed", true},
		{"Succeeded", "Succeeded", true},
		{"Succeeded", "Failed", false},
		{"Succeeded", "Running", false},
		{"RetryableFailure", "Running", false},
		{"Skipped", "Aborted", false},
	} {
		err := checkTransition(c.from, c.to)
		if (err == nil) != c.ok {
			t.Errorf("%q -> %q: %v, want ok %v", c.from, c.to, err, c.ok)
		}
		if err != nil && (!errors.Is(err, ErrIncompatiblePhase) || err.(*Error).CurrentPhase != c.from) {
			t.Errorf("%q -> %q: %#v", c.from, c.to, err)
		}
	}
	if _, ok := Rank("Sleeping"); ok {
		t.Error("Rank knows Sleeping")
	}
	for _, p := range []string{"Succeeded", "Failed", "Aborted", "Skipped", "RetryableFailure", "TimedOut"} {
		if r, _ := Rank(p); r != rankTerminal {
			t.Errorf("%s has rank %d", p, r)
		}
	}
}

func TestValidate(t *testing.T) {
	ok := Event{Kind: KindTask, Execution: "x", Node: "n", MapItem: 2, Attempt: 1, Phase: "Running", OccurredAt: time.Now()}
	with := func(f func(*Event)) Event { e := ok; f(&e); return e }
	for name, c := range map[string]struct {
		e    Event
		want string // "" valid
	}{
		"task":          {ok, ""},
		"workflow":      {with(func(e *Event) { e.Kind = KindWorkflow; e.Node = ""; e.MapItem = -1 }), ""},
		"no kind":       {with(func(e *Event) { e.Kind = "" }), "kind"},
		"unknown kind":  {with(func(e *Event) { e.Kind = "pod" }), "kind"},
		"no execution":  {with(func(e *Event) { e.Execution = "" }), "execution"},
		"no phase":      {with(func(e *Event) { e.Phase = "" }), "phase"},
		"unknown phase": {with(func(e *Event) { e.Phase = "Sleeping" }), "phase"},
		"node event":    {with(func(e *Event) { e.Kind = KindNode; e.Node = "" }), "node"},
		"map item":      {with(func(e *Event) { e.MapItem = -2 }), "mapItem"},
		"attempt":       {with(func(e *Event) { e.Attempt = -1 }), "attempt"},
		"no time":       {with(func(e *Event) { e.OccurredAt = time.Time{} }), "occurredAt"},
		"year 3000":     {with(func(e *Event) { e.OccurredAt = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC) }), "occurredAt"},
		"long id":       {with(func(e *Event) { e.ID = strings.Repeat("x", maxIDLen+1) }), "id"},
	} {
		err := c.e.Validate()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", name, err)
		case c.want != "" && (!errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want InvalidArgument about %s", name, err, c.want)
		}
	}
}
