package portfolio

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/benchctl/benchctl/portfolio/rundir"
)

func finished(p rundir.PlanEntry, took time.Duration) *rundir.Record {
	return &rundir.Record{PlanEntry: p, Began: 1, Ended: 1 + int64(took), Phase: "Succeeded"}
}

// TestEstimator checks the ETA's rules: a measured workflow takes the
// median of its executions; an unmeasured one takes its shape's cost
// scaled by how measured workflows compared with theirs, plus its
// declared user time.
func TestEstimator(t *testing.T) {
	e := &estimator{
		prior: map[string]time.Duration{"a": time.Second, "b": 2 * time.Second, "c": 4 * time.Second},
		user:  map[string]time.Duration{"a": 0, "b": 0, "c": time.Second},
		took:  map[string][]time.Duration{},
	}
	tests := []struct {
		name  string
		took  map[string][]time.Duration
		which string
		want  time.Duration
	}{
		{"nothing measured: the prior", nil, "c", 5 * time.Second},
		{"measured: its median", map[string][]time.Duration{"a": {time.Second, 9 * time.Second, 3 * time.Second}}, "a", 3 * time.Second},
		{"unmeasured: scaled prior plus user time", map[string][]time.Duration{"a": {3 * time.Second}}, "c", 13 * time.Second},
		{"two measured workflows scale together", map[string][]time.Duration{"a": {2 * time.Second}, "b": {4 * time.Second}}, "c", 9 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.took = map[string][]time.Duration{}
			for w, ds := range tt.took {
				for _, d := range ds {
					e.add(w, d)
				}
			}
			if got := e.predict(tt.which, e.scale()); got != tt.want {
				t.Errorf("predict(%s) = %s, want %s", tt.which, got, tt.want)
			}
		})
	}
}

func TestProgressLines(t *testing.T) {
	plan := []rundir.PlanEntry{
		{Seq: 0, Workflow: "a", Target: "x", Repetition: 1},
		{Seq: 1, Workflow: "a", Target: "x", Repetition: 2},
		{Seq: 2, Workflow: "b", Target: "x", Repetition: 1},
	}
	var out bytes.Buffer
	p := newProgress(&out, nil, plan, map[int]*rundir.Record{0: finished(plan[0], 2*time.Second)})
	p.start(plan[1])
	p.finish(finished(plan[1], 4*time.Second))
	p.start(plan[2])
	p.finish(finished(plan[2], time.Second))
	p.stop()
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || lines[0] != "resuming: 1 of 3 executions already recorded" ||
		!strings.Contains(lines[1], "[2/3] a") || !strings.Contains(lines[1], "rep 2/2") || !strings.HasSuffix(lines[1], "ETA 3s") ||
		!strings.Contains(lines[2], "[3/3] b") || strings.Contains(lines[2], "ETA") {
		t.Errorf("output:\n%s", out.String())
	}
	if strings.Contains(out.String(), "\r") {
		t.Error("plain output redraws lines")
	}
}
