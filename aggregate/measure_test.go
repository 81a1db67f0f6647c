package aggregate

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/benchctl/benchctl/controller/api/telemetry"
	"github.com/benchctl/benchctl/controller/api/v1alpha1"
	"github.com/benchctl/benchctl/reports"
)

// spanBuilder writes a synthetic controller trace, following the span
// contract in controller/api/telemetry, on a millisecond clock.
type spanBuilder struct {
	t0    time.Time
	spans []*Span
	next  int
}

func (b *spanBuilder) at(ms float64) time.Time {
	return b.t0.Add(time.Duration(ms * float64(time.Millisecond)))
}

func (b *spanBuilder) add(parent *Span, name string, from, to float64, attrs map[string]any) *Span {
	b.next++
	s := &Span{Name: name, ID: fmt.Sprintf("%016x", b.next), Start: b.at(from), End: b.at(to), Attrs: attrs}
	if parent != nil {
		s.ParentID = parent.ID
	}
	if s.Attrs == nil {
		s.Attrs = map[string]any{}
	}
	b.spans = append(b.spans, s)
	return s
}

func node(id, kind, from, to string, attempt int64) map[string]any {
	return map[string]any{telemetry.AttrNode: id, telemetry.AttrNodeKind: kind, telemetry.AttrPhaseFrom: from, telemetry.AttrPhaseTo: to, telemetry.AttrAttempt: attempt}
}

func chainClosure() *v1alpha1.WorkflowClosure {
	t := v1alpha1.NewTemplate()
	t.AddNode("n0", v1alpha1.NodeSpec{Kind: v1alpha1.NodeKindTask, Task: "t"})
	t.AddNode("n1", v1alpha1.NodeSpec{Kind: v1alpha1.NodeKindTask, Task: "t"})
	t.AddEdge(v1alpha1.StartNodeID, "n0")
	t.AddEdge("n0", "n1")
	t.AddEdge("n1", v1alpha1.EndNodeID)
	return &v1alpha1.WorkflowClosure{Primary: t, Tasks: map[string]v1alpha1.TaskSpec{"t": {}}}
}

// chainTrace is a two-task chain; conflict makes the round that observes
// n0's end fail its write, so a later round persists it.
func chainTrace(conflict bool) (*spanBuilder, time.Time) {
	b := &spanBuilder{t0: time.Unix(1_800_000_000, 0)}
	created := b.at(0)
	h1 := b.add(nil, telemetry.SpanStreak, 2, 20, nil)
	r0 := b.add(h1, telemetry.SpanRound, 2, 20, map[string]any{telemetry.AttrRound: int64(0)})
	b.add(r0, telemetry.SpanNodeHandle, 3, 4, node(v1alpha1.StartNodeID, "start", "", "Succeeded", 0))
	b.add(r0, telemetry.SpanWorkflowUpdate, 4, 10, map[string]any{telemetry.AttrUpdateResult: "ok", telemetry.AttrWorkflowPhase: "Running"})
	r1 := b.add(h1, telemetry.SpanRound, 10, 20, map[string]any{telemetry.AttrRound: int64(1)})
	n0 := b.add(r1, telemetry.SpanNodeHandle, 11, 16, node("n0", "task", "", "Running", 1))
	b.add(n0, telemetry.SpanPodCreate, 12, 15, map[string]any{telemetry.AttrNode: "n0", telemetry.AttrAttempt: int64(1)})
	b.add(r1, telemetry.SpanWorkflowUpdate, 16, 20, map[string]any{telemetry.AttrUpdateResult: "ok", telemetry.AttrWorkflowPhase: "Running"})

	// n0 runs user code from 30 to 130 ms.
	end := map[string]any{telemetry.AttrUserStarted: b.at(30).UnixNano(), telemetry.AttrUserFinished: b.at(130).UnixNano()}
	h2 := b.add(nil, telemetry.SpanStreak, 140, 170, nil)
	r2 := b.add(h2, telemetry.SpanRound, 140, 150, nil)
	a := node("n0", "task", "Running", "Succeeded", 1)
	for k, v := range end {
		a[k] = v
	}
	b.add(r2, telemetry.SpanNodeHandle, 141, 142, a)
	result := "ok"
	if conflict {
		result = "conflict"
	}
	b.add(r2, telemetry.SpanWorkflowUpdate, 142, 150, map[string]any{telemetry.AttrUpdateResult: result})
	next := 150.0
	if conflict {
		// The next round re-observes n0's end and persists it.
		h3 := b.add(nil, telemetry.SpanStreak, 160, 180, nil)
		r := b.add(h3, telemetry.SpanRound, 160, 180, nil)
		b.add(r, telemetry.SpanNodeHandle, 161, 162, a)
		b.add(r, telemetry.SpanWorkflowUpdate, 162, 180, map[string]any{telemetry.AttrUpdateResult: "ok"})
		next = 180
	}
	r3 := b.add(h2, telemetry.SpanRound, next, next+20, nil)
	n1 := b.add(r3, telemetry.SpanNodeHandle, next+1, next+8, node("n1", "task", "", "Running", 1))
	b.add(n1, telemetry.SpanPodCreate, next+2, next+7, map[string]any{telemetry.AttrNode: "n1", telemetry.AttrAttempt: int64(1)})
	b.add(r3, telemetry.SpanWorkflowUpdate, next+8, next+20, map[string]any{telemetry.AttrUpdateResult: "ok"})

	h4 := b.add(nil, telemetry.SpanStreak, 400, 430, nil)
	r4 := b.add(h4, telemetry.SpanRound, 400, 430, nil)
	a1 := node("n1", "task", "Running", "Succeeded", 1)
	a1[telemetry.AttrUserStarted] = b.at(next + 40).UnixNano()
	a1[telemetry.AttrUserFinished] = b.at(next + 240).UnixNano()
	b.add(r4, telemetry.SpanNodeHandle, 401, 402, a1)
	b.add(r4, telemetry.SpanNodeHandle, 402, 403, node(v1alpha1.EndNodeID, "end", "", "Succeeded", 0))
	b.add(r4, telemetry.SpanEventRecord, 403, 404, map[string]any{telemetry.AttrEventKind: "workflow"})
	b.add(r4, telemetry.SpanWorkflowUpdate, 404, 430, map[string]any{telemetry.AttrUpdateResult: "ok", telemetry.AttrWorkflowPhase: "Succeeded"})
	return b, created
}

func TestMeasureChain(t *testing.T) {
	tests := []struct {
		name     string
		conflict bool
		n0Done   float64 // ms: the node.handle that decided n0's success, in the round that persisted it
	}{
		{"every write succeeds", false, 142},
		{"a conflicting write", true, 162},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, created := chainTrace(tt.conflict)
			e, err := Measure(b.spans, Returned(created), chainClosure(), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if len(e.Problems) > 0 {
				t.Fatalf("problems: %v", e.Problems)
			}
			if len(e.Attempts) != 2 {
				t.Fatalf("attempts = %d, want 2", len(e.Attempts))
			}
			a0 := e.Attempts[0]
			// Root nodes are ready when the start node's success was
			// decided (in the round that persisted it).
			want := map[string]time.Time{"ready": b.at(4), "launched": b.at(15), "started": b.at(30), "finished": b.at(130), "done": b.at(tt.n0Done)}
			got := map[string]time.Time{"ready": a0.Ready, "launched": a0.Launched, "started": a0.Started, "finished": a0.Finished, "done": a0.Done}
			for k := range want {
				if !got[k].Equal(want[k]) {
					t.Errorf("n0 %s = %v, want %v", k, got[k].Sub(b.t0), want[k].Sub(b.t0))
				}
			}
			if a0.User() != 100*time.Millisecond || a0.Kubernetes() != 15*time.Millisecond {
				t.Errorf("n0 user %v kubernetes %v", a0.User(), a0.Kubernetes())
			}
			a1 := e.Attempts[1]
			if !a1.Ready.Equal(a0.Done) {
				t.Errorf("n1 ready = %v, want n0 done %v", a1.Ready.Sub(b.t0), a0.Done.Sub(b.t0))
			}
			for _, a := range e.Attempts {
				if a.User()+a.Kubernetes()+a.Controller() != a.Total() {
					t.Errorf("%s: user+kubernetes+controller != done-ready", a.Node)
				}
			}
			if e.User != 300*time.Millisecond {
				t.Errorf("user sum = %v, want 300ms", e.User)
			}
			// Teardown: n1 done (402 ms) to the update persisting Succeeded.
			if e.Wall() != 430*time.Millisecond || e.Setup() != 4*time.Millisecond || e.Teardown() != 28*time.Millisecond {
				t.Errorf("wall %v setup %v teardown %v", e.Wall(), e.Setup(), e.Teardown())
			}
			// A serial chain's nodes partition its wall time.
			if sum := e.Setup() + a0.Total() + a1.Total() + e.Teardown(); sum != e.Wall() {
				t.Errorf("setup + nodes + teardown = %v, wall %v", sum, e.Wall())
			}
			if n := len(e.Infra[reports.InfraCRDUpdates]); n != 5+map[bool]int{false: 0, true: 1}[tt.conflict] {
				t.Errorf("crd updates = %d", n)
			}
			if len(e.Infra[reports.InfraEventsWorkflow]) != 1 || len(e.Infra[reports.InfraPodCreates]) != 2 {
				t.Errorf("infra = %v", e.Infra)
			}
		})
	}
}

func TestMeasureBrokenTraces(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func([]*Span) []*Span
		wantErr string
		problem string
	}{
		{"no rounds", func(s []*Span) []*Span { return nil }, "no workflow.streak spans", ""},
		{"missing pod create", func(s []*Span) []*Span {
			var out []*Span
			for _, x := range s {
				if !(x.Name == telemetry.SpanPodCreate && x.Str(telemetry.AttrNode) == "n1") {
					out = append(out, x)
				}
			}
			return out
		}, "", "n1 attempt 1 item -1: no pod.create span"},
		{"start node never persisted", func(s []*Span) []*Span {
			var out []*Span
			for _, x := range s {
				if x.Str(telemetry.AttrNode) != v1alpha1.StartNodeID {
					out = append(out, x)
				}
			}
			return out
		}, "no node.handle moved start-node", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, created := chainTrace(false)
			e, err := Measure(tt.mutate(b.spans), Returned(created), chainClosure(), Limits{})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(problemText(e.Problems), tt.problem) {
				t.Fatalf("problems %v lack %q", e.Problems, tt.problem)
			}
		})
	}
}

func problemText(ps []Problem) string {
	var s []string
	for _, p := range ps {
		s = append(s, p.Msg)
	}
	return strings.Join(s, "\n")
}

// TestCreateOverlap: an effect seen between a create call's sending and
// its return is the answer's way back on a loaded host, and moves the
// instant; one before the call was sent is clock skew.
func TestCreateOverlap(t *testing.T) {
	// In chainTrace the start node is decided at 4 ms and n0's pod starts
	// at 30 ms; here n0's pod create returns at 90 ms, 60 ms after that.
	tests := []struct {
		name           string
		sent, returned float64 // ms: the Workflow create call; sent 0 is not kept
		podSent        float64 // ms: the start of n0's pod.create span
		wantClamps     string
		wantCreated    float64 // ms, when there is no skew
		wantSkew       string
	}{
		{"in order", 0, 0, 12, "launched", 0, ""},
		{"answer 56ms late, sending not kept", 0, 60, 12, "launched", 0, "negative setup"},
		{"answer 56ms late after sending at 2ms", 2, 60, 12, "launched created", 4, ""},
		{"decided 96ms before sending", 100, 200, 12, "launched", 0, "negative setup"},
		{"pod started 55ms before its create was sent", 0, 0, 85, "", 0, "negative kubernetes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, _ := chainTrace(false)
			for _, s := range b.spans {
				if s.Name == telemetry.SpanPodCreate && s.Str(telemetry.AttrNode) == "n0" {
					s.Start, s.End = b.at(tt.podSent), b.at(90)
				}
			}
			call := Returned(b.at(tt.returned))
			if tt.sent != 0 {
				call.Sent = b.at(tt.sent)
			}
			e, err := Measure(b.spans, call, chainClosure(), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			var clamps []string
			for _, c := range e.Clamps {
				clamps = append(clamps, c.What)
			}
			if got := strings.Join(clamps, " "); got != tt.wantClamps {
				t.Errorf("clamps = %q, want %q", got, tt.wantClamps)
			}
			got := problemText(e.Problems)
			if tt.wantSkew == "" {
				if got != "" {
					t.Fatalf("problems: %s", got)
				}
				if !e.Created.Equal(b.at(tt.wantCreated)) || e.Setup() < 0 {
					t.Errorf("created = %v, setup %v", e.Created.Sub(b.t0), e.Setup())
				}
				return
			}
			if !strings.Contains(got, tt.wantSkew) || e.Problems[0].Kind != reports.ReasonClockSkew {
				t.Errorf("problems %q, want a clock-skew %q", got, tt.wantSkew)
			}
		})
	}
}
