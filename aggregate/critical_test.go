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

// pathOf renders segments as "name:node:ms" for comparison.
func pathOf(b *spanBuilder, segs []Segment) []string {
	var out []string
	for _, s := range segs {
		out = append(out, fmt.Sprintf("%s:%s:%g", s.Name(), s.Node, float64(s.Duration())/float64(time.Millisecond)))
	}
	return out
}

// checkTiles asserts that the segments tile [created, succeeded].
func checkTiles(t *testing.T, e *Execution, segs []Segment) {
	t.Helper()
	at := e.Created
	var sum time.Duration
	for _, s := range segs {
		if !s.Start.Equal(at) || s.End.Before(s.Start) {
			t.Fatalf("segment %+v does not follow %v", s, at)
		}
		at = s.End
		sum += s.Duration()
	}
	if !at.Equal(e.Succeeded) || sum != e.Wall() {
		t.Fatalf("segments end at %v and sum to %v; wall %v", at, sum, e.Wall())
	}
}

func TestCriticalPathChain(t *testing.T) {
	tests := []struct {
		conflict bool
		want     []string
	}{
		{false, []string{
			"controller.setup::4", "controller.round-wait:n0:7", "controller.launch:n0:4", "kubernetes:n0:15", "user:n0:100", "controller.observe:n0:12",
			"controller.round-wait:n1:9", "controller.launch:n1:6", "kubernetes:n1:33", "user:n1:200", "controller.observe:n1:12", "controller.teardown::28"}},
		// The first round that decided n0's end failed its update: the
		// wait for the round that persisted it is round-wait.
		{true, []string{
			"controller.setup::4", "controller.round-wait:n0:7", "controller.launch:n0:4", "kubernetes:n0:15", "user:n0:100", "controller.observe:n0:12",
			"controller.round-wait:n0:20"}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint("conflict=", tt.conflict), func(t *testing.T) {
			b, created := chainTrace(tt.conflict)
			e, err := Measure(b.spans, Returned(created), chainClosure(), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			segs, _, err := e.CriticalPath()
			if err != nil {
				t.Fatal(err)
			}
			checkTiles(t, e, segs)
			if got := strings.Join(pathOf(b, segs), " "); !strings.HasPrefix(got, strings.Join(tt.want, " ")) {
				t.Errorf("path\n got %s\nwant %s", got, strings.Join(tt.want, " "))
			}
			// Along a chain, the path is the nodes' own times.
			var user, kube time.Duration
			for _, s := range segs {
				switch s.Part {
				case reports.PathUser:
					user += s.Duration()
				case reports.PathKubernetes:
					kube += s.Duration()
				}
			}
			if user != e.User || kube != e.Kubernetes {
				t.Errorf("path user %v kubernetes %v, node sums %v %v", user, kube, e.User, e.Kubernetes)
			}
		})
	}
}

// mapTrace is a map node of n items, each 10 ms of user code, launched
// one per round every launchEvery ms from 10 ms on; itemEnd(i) gives the
// instant item i's end is decided.
func mapTrace(n int, launches []float64, ends []float64, parallelism int32) (*spanBuilder, *v1alpha1.WorkflowClosure) {
	tmpl := v1alpha1.NewTemplate()
	tmpl.AddNode("m", v1alpha1.NodeSpec{Kind: v1alpha1.NodeKindMap, Task: "t", Map: &v1alpha1.MapSpec{Size: int32(n), Parallelism: parallelism}})
	tmpl.AddEdge(v1alpha1.StartNodeID, "m")
	tmpl.AddEdge("m", v1alpha1.EndNodeID)
	closure := &v1alpha1.WorkflowClosure{Primary: tmpl, Tasks: map[string]v1alpha1.TaskSpec{"t": {}}}
	b := &spanBuilder{t0: time.Unix(1_800_000_000, 0)}
	h := b.add(nil, telemetry.SpanStreak, 1, 1000, nil)
	r := b.add(h, telemetry.SpanRound, 1, 5, nil)
	b.add(r, telemetry.SpanNodeHandle, 2, 3, node(v1alpha1.StartNodeID, "start", "", "Succeeded", 0))
	b.add(r, telemetry.SpanWorkflowUpdate, 3, 5, map[string]any{telemetry.AttrUpdateResult: "ok"})
	item := func(i int, from, to string, a map[string]any) map[string]any {
		m := node("m", "map", from, to, 1)
		m[telemetry.AttrMapItem] = int64(i)
		for k, v := range a {
			m[k] = v
		}
		return m
	}
	for i := range n {
		l := launches[i]
		rr := b.add(h, telemetry.SpanRound, l-1, l+2, nil)
		hs := b.add(rr, telemetry.SpanNodeHandle, l-1, l+1, item(i, "", "Running", nil))
		b.add(hs, telemetry.SpanPodCreate, l-0.5, l, map[string]any{telemetry.AttrNode: "m", telemetry.AttrAttempt: int64(1), telemetry.AttrMapItem: int64(i)})
		b.add(rr, telemetry.SpanWorkflowUpdate, l+1, l+2, map[string]any{telemetry.AttrUpdateResult: "ok"})
		e := ends[i]
		re := b.add(h, telemetry.SpanRound, e-1, e+1, nil)
		b.add(re, telemetry.SpanNodeHandle, e-1, e, item(i, "Running", "Succeeded", map[string]any{
			telemetry.AttrUserStarted: b.at(l + 1).UnixNano(), telemetry.AttrUserFinished: b.at(l + 11).UnixNano()}))
		if i == n-1 {
			b.add(re, telemetry.SpanNodeHandle, e, e+0.25, node("m", "map", "Running", "Succeeded", 0))
			b.add(re, telemetry.SpanNodeHandle, e+0.25, e+0.5, node(v1alpha1.EndNodeID, "end", "", "Succeeded", 0))
			b.add(re, telemetry.SpanWorkflowUpdate, e+0.5, e+1, map[string]any{telemetry.AttrUpdateResult: "ok", telemetry.AttrWorkflowPhase: "Succeeded"})
		} else {
			b.add(re, telemetry.SpanWorkflowUpdate, e, e+1, map[string]any{telemetry.AttrUpdateResult: "ok"})
		}
	}
	return b, closure
}

// TestCriticalPathMapParallelism: with a map parallelism of 1 each item
// waits for the one before; the wait is controller time for the items'
// sums and "parallelism-wait" on the path, which follows the last item.
func TestCriticalPathMapParallelism(t *testing.T) {
	launches := []float64{10, 30, 50}
	ends := []float64{25, 45, 65}
	for _, par := range []int32{0, 1} {
		t.Run(fmt.Sprint("parallelism=", par), func(t *testing.T) {
			b, closure := mapTrace(3, launches, ends, par)
			e, err := Measure(b.spans, Returned(b.at(0)), closure, Limits{})
			if err != nil || len(e.Problems) > 0 {
				t.Fatalf("err %v, problems %v", err, e.Problems)
			}
			segs, _, err := e.CriticalPath()
			if err != nil {
				t.Fatal(err)
			}
			checkTiles(t, e, segs)
			last := e.Attempts[2]
			if !last.Ready.Equal(b.at(3)) {
				t.Errorf("item 2 ready at %v, want its map's ready (3 ms)", last.Ready.Sub(b.t0))
			}
			wantWait := map[int32]time.Duration{0: 0, 1: 45*time.Millisecond - 3*time.Millisecond}[par]
			if got := last.ParallelismWait(); got != wantWait {
				t.Errorf("item 2 waited %v for a slot, want %v", got, wantWait)
			}
			var wait time.Duration
			for _, s := range segs {
				if s.Sub == reports.SubParallelismWait {
					wait += s.Duration()
				}
				if s.Node == "m" && s.Item >= 0 && s.Item != 2 {
					t.Errorf("the path runs through item %d, not the one decided last", s.Item)
				}
			}
			if wait != wantWait {
				t.Errorf("parallelism wait on the path %v, want %v", wait, wantWait)
			}
			// Controller time in the items' sums includes the wait either way.
			if got, want := last.Controller(), last.Launched.Sub(b.at(3))+last.Done.Sub(last.Finished); got != want {
				t.Errorf("item controller %v, want %v", got, want)
			}
		})
	}
}

// TestCriticalPathMaxParallelism: the Workflow's maxParallelism gates map
// items as a map's own parallelism does: one rule for every limit.
func TestCriticalPathMaxParallelism(t *testing.T) {
	b, closure := mapTrace(3, []float64{10, 30, 50}, []float64{25, 45, 65}, 0)
	e, err := Measure(b.spans, Returned(b.at(0)), closure, Limits{MaxParallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := e.Attempts[2].ParallelismWait(), 42*time.Millisecond; got != want {
		t.Errorf("item 2 waited %v under maxParallelism 1, want %v", got, want)
	}
	if got := e.Attempts[0].ParallelismWait(); got != 0 {
		t.Errorf("item 0 waited %v with a free slot", got)
	}
}

// TestCriticalPathTree follows a launch-plan node into its child.
func TestCriticalPathTree(t *testing.T) {
	e, b := launchPlanTree(t)
	segs, _, err := e.CriticalPath()
	if err != nil {
		t.Fatal(err)
	}
	checkTiles(t, e, segs)
	want := "controller.setup::3 controller.launch:lp0:5 controller.setup:lp0:24 controller.launch:lp0/n0:2 " +
		"kubernetes:lp0/n0:16 user:lp0/n0:100 controller.observe:lp0/n0:7 controller.teardown:lp0:13 controller.observe:lp0:32 controller.teardown::28"
	if got := strings.Join(pathOf(b, segs), " "); got != want {
		t.Errorf("path\n got %s\nwant %s", got, want)
	}
	for _, s := range segs {
		if strings.HasPrefix(s.Node, "lp0/") && s.Child != "c" {
			t.Errorf("segment %+v of the child does not name it", s)
		}
	}
}
