package aggregate

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/benchctl/benchctl/controller/admin"
	"github.com/benchctl/benchctl/controller/api/telemetry"
	"github.com/benchctl/benchctl/portfolio/rundir"
	"github.com/benchctl/benchctl/reports"
)

// persistedFor builds what a faithful admin service would hold for a
// recorded execution: per task attempt (children's under their own
// workflow) a Running event at launch and an end event at the pod's
// finish, and as many node and workflow events as the controller's spans
// say it sent.
func persistedFor(t *testing.T, rec *rundir.Record, spans []*Span, e *Execution) []admin.Persisted {
	t.Helper()
	var out []admin.Persisted
	add := func(kind, wf, node string, item int, attempt int32, phase string, at time.Time) {
		out = append(out, admin.Persisted{Event: admin.Event{Kind: kind, Workflow: wf, Execution: rec.Name, Node: node,
			MapItem: item, Attempt: attempt, Phase: phase, OccurredAt: at}, WriteSeconds: 0.001})
	}
	var walk func(x *Execution)
	walk = func(x *Execution) {
	attempts:
		for _, a := range x.Attempts {
			for lp := range x.Children {
				if strings.HasPrefix(a.Node, lp+"/") {
					continue attempts // the child's own walk has it
				}
			}
			if !a.Cached {
				add(admin.KindTask, x.Name, a.Node, a.Item, int32(a.Attempt), "Running", a.CreateReturned)
				add(admin.KindTask, x.Name, a.Node, a.Item, int32(a.Attempt), "Succeeded", a.Finished)
			}
		}
		for _, c := range x.Children {
			walk(c)
		}
	}
	walk(e)
	sent := map[string]int{}
	for _, s := range spans {
		if s.Name == telemetry.SpanEventRecord {
			sent[s.Str(telemetry.AttrEventKind)]++
		}
	}
	if tasks := len(out); tasks != sent[admin.KindTask] {
		t.Fatalf("%s: %d task events from attempts, %d in spans", rec.Name, tasks, sent[admin.KindTask])
	}
	for _, kind := range []string{admin.KindNode, admin.KindWorkflow} {
		for i := range sent[kind] {
			add(kind, rec.Name, fmt.Sprintf("pad%d", i), -1, 1, "Succeeded", e.Created)
		}
	}
	return out
}

// TestCheckEvents cross-checks recorded executions against admin events
// made from them, faithful and then damaged.
func TestCheckEvents(t *testing.T) {
	run, err := rundir.Load(smokeRun)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"short-chain", "map-fanout", "launch-plans", "nested-dynamic"} {
		rec := recordOf(t, run, name)
		spans, err := LoadSpans(rec)
		if err != nil {
			t.Fatal(err)
		}
		e, err := MeasureTree(spans, rec.Name, RecordCall(rec), rec.Closure, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		faithful := persistedFor(t, rec, spans, e)
		uncached := 0
		for _, a := range e.Attempts {
			if !a.Cached {
				uncached++
			}
		}
		tests := []struct {
			name      string
			events    func() []admin.Persisted // nil: no artifact
			withAdmin bool
			dropped   float64
			want      string // the reason kind expected, "" for none
		}{
			{"no admin service", nil, false, 0, ""},
			{"faithful", func() []admin.Persisted { return faithful }, true, 0, ""},
			{"artifact missing", nil, true, 0, reports.ReasonCountMismatch},
			{"an event lost", func() []admin.Persisted { return faithful[1:] }, true, 0, reports.ReasonCountMismatch},
			{"an event lost, but the controller counted a drop", func() []admin.Persisted { return faithful[1:] }, true, 1, ""},
			{"a task end 3ms late", func() []admin.Persisted {
				evs := append([]admin.Persisted(nil), faithful...)
				evs[1].OccurredAt = evs[1].OccurredAt.Add(3 * time.Millisecond)
				return evs
			}, true, 0, reports.ReasonEventDisagreement},
			{"a task end 1ms late", func() []admin.Persisted {
				evs := append([]admin.Persisted(nil), faithful...)
				evs[1].OccurredAt = evs[1].OccurredAt.Add(time.Millisecond)
				return evs
			}, true, 0, ""},
		}
		for _, tt := range tests {
			t.Run(name+"/"+tt.name, func(t *testing.T) {
				r := *rec
				r.Dir = t.TempDir()
				if tt.events != nil {
					b, _ := json.Marshal(AdminEvents{Events: tt.events()})
					if err := os.WriteFile(filepath.Join(r.Dir, rundir.ArtifactAdminEvents), b, 0o600); err != nil {
						t.Fatal(err)
					}
				}
				s, writes, reasons := checkEvents(&r, spans, e, tt.withAdmin, tt.dropped)
				var kinds []string
				for _, rs := range reasons {
					kinds = append(kinds, rs.Kind)
				}
				switch {
				case tt.want == "" && len(reasons) > 0:
					t.Fatalf("reasons %v", reasons)
				case tt.want != "" && (len(kinds) != 1 || kinds[0] != tt.want):
					t.Fatalf("reasons %v, want one %s", reasons, tt.want)
				}
				if !tt.withAdmin {
					if s != nil || writes != nil {
						t.Fatal("a cross-check without an admin service")
					}
					return
				}
				if tt.name == "faithful" {
					if s.Compared != uncached || s.Persisted != len(faithful) || s.MaxDisagreement > time.Microsecond || len(writes) != len(faithful) {
						t.Fatalf("sample %+v, want %d compared, %d persisted, agreement", s, uncached, len(faithful))
					}
				}
				if tt.want == reports.ReasonEventDisagreement && !strings.Contains(reasons[0].Message, faithful[1].Node) {
					t.Fatalf("reason %q does not name node %s", reasons[0].Message, faithful[1].Node)
				}
			})
		}
	}
}

func recordOf(t *testing.T, run *rundir.Run, workflow string) *rundir.Record {
	t.Helper()
	for _, r := range run.Records {
		if r.Workflow == workflow && !r.Warmup {
			return r
		}
	}
	t.Fatalf("no measured record of %s", workflow)
	return nil
}
