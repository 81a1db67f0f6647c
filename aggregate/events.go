package aggregate

import (
	"encoding/json"
	"sort"
	"time"

	"github.com/benchctl/benchctl/controller/admin"
	"github.com/benchctl/benchctl/controller/api/telemetry"
	"github.com/benchctl/benchctl/portfolio/rundir"
	"github.com/benchctl/benchctl/reports"
)

// EventTolerance is how far an event-derived task runtime may differ from
// the span-derived one (reports.EventTolerance). Both ends come from the same clock (the
// controller's launch instant, the pod's reported end), carried through
// two independent paths: the admin service's database and the trace. A
// difference means an event was lost, reordered or mistimed.
const EventTolerance = reports.EventTolerance

// AdminEvents is the admin-events artifact.
type AdminEvents struct {
	Events []admin.Persisted `json:"events"`
}

// checkEvents compares what the admin service persisted for an execution
// with its trace: the number of events of each kind (exact: executions run
// one at a time), and, per task attempt, the runtime the service's
// execution metrics derive from event timestamps (TASK_RUNTIME: launched
// to finished) with the span-derived one. It also returns the service's
// database write latencies. It returns nil when the run has no admin
// service.
func checkEvents(rec *rundir.Record, spans []*Span, e *Execution, withAdmin bool, dropped float64) (*reports.EventSample, []time.Duration, []reports.Reason) {
	if !withAdmin {
		return nil, nil, nil
	}
	wf, rep := rec.Workflow, rec.Repetition
	b, err := rec.ReadArtifact(rundir.ArtifactAdminEvents)
	if err != nil {
		return nil, nil, []reports.Reason{reports.NewReason(reports.ReasonCountMismatch, wf,
			"repetition %d: the controller reports events to the admin service, but no persisted events were collected: %v", rep, err)}
	}
	var ae AdminEvents
	if err := json.Unmarshal(b, &ae); err != nil {
		return nil, nil, []reports.Reason{reports.NewReason(reports.ReasonIncompleteTrace, wf, "repetition %d: %s: %v", rep, rundir.ArtifactAdminEvents, err)}
	}
	var reasons []reports.Reason
	persisted := map[string]int{}
	var writes []time.Duration
	byWorkflow := map[string][]admin.Persisted{}
	for _, p := range ae.Events {
		persisted[p.Kind]++
		writes = append(writes, time.Duration(p.WriteSeconds*float64(time.Second)))
		byWorkflow[p.Workflow] = append(byWorkflow[p.Workflow], p)
	}
	// With events dropped the counts cannot match; droppedEvents has
	// already made the execution invalid.
	for _, kind := range []string{admin.KindWorkflow, admin.KindNode, admin.KindTask} {
		sent := 0
		for _, s := range spans {
			if s.Name == telemetry.SpanEventRecord && s.Str(telemetry.AttrEventKind) == kind {
				sent++
			}
		}
		if dropped == 0 && sent != persisted[kind] {
			reasons = append(reasons, reports.NewReason(reports.ReasonCountMismatch, wf,
				"repetition %d: the controller recorded %d %s events but the admin service persisted %d", rep, sent, kind, persisted[kind]))
		}
	}
	s := &reports.EventSample{Persisted: len(ae.Events)}
	var check func(x *Execution) error
	check = func(x *Execution) error {
		evs := byWorkflow[x.Name]
		if len(evs) > 0 {
			tree, err := admin.DeriveMetrics(rec.Name, evs)
			if err != nil {
				return err
			}
			runtimes := taskRuntimes(tree)
			for _, a := range x.Attempts {
				if a.Cached {
					continue
				}
				got, ok := runtimes[taskKey{a.Node, a.Item, int32(a.Attempt)}]
				if !ok {
					continue
				}
				s.Compared++
				// The instants as the controller saw them: a clamp
				// moves launched for the breakdown, not in the events.
				d := (got - a.Finished.Sub(a.CreateReturned)).Abs()
				if d > s.MaxDisagreement || s.Node == "" {
					s.MaxDisagreement, s.Node = d, a.Node
					if x.Name != rec.Name {
						s.Node = x.Name + ":" + a.Node
					}
				}
			}
		}
		names := make([]string, 0, len(x.Children))
		for n := range x.Children {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			if err := check(x.Children[n]); err != nil {
				return err
			}
		}
		return nil
	}
	if err := check(e); err != nil {
		return nil, writes, append(reasons, reports.NewReason(reports.ReasonIncompleteTrace, wf, "repetition %d: execution metrics from events: %v", rep, err))
	}
	if s.MaxDisagreement > EventTolerance {
		reasons = append(reasons, reports.NewReason(reports.ReasonEventDisagreement, wf,
			"repetition %d: node %s: its task runtime from the admin service's events differs from the trace's by %s (tolerance %s)",
			rep, s.Node, s.MaxDisagreement, EventTolerance))
	}
	return s, writes, reasons
}

type taskKey struct {
	node    string
	item    int
	attempt int32
}

// taskRuntimes collects the TASK_RUNTIME spans of a metrics tree.
func taskRuntimes(root *admin.Span) map[taskKey]time.Duration {
	out := map[taskKey]time.Duration{}
	var walk func(s *admin.Span, task *admin.TaskID)
	walk = func(s *admin.Span, task *admin.TaskID) {
		if s.TaskID != nil {
			task = s.TaskID
		}
		if s.OperationID == "TASK_RUNTIME" && task != nil {
			out[taskKey{task.Node, task.MapItem, task.Attempt}] = s.EndTime.Sub(s.StartTime)
		}
		for _, c := range s.Spans {
			walk(c, task)
		}
	}
	if root != nil {
		walk(root, nil)
	}
	return out
}
