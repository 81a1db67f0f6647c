package portfolio

import (
	"bytes"
	"encoding/json"
	"os"
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
		name   string
		weight time.Duration
		took   map[string][]time.Duration
		which  string
		want   time.Duration
	}{
		{"nothing measured: the prior", 0, nil, "c", 5 * time.Second},
		{"measured: its median", 0, map[string][]time.Duration{"a": {time.Second, 9 * time.Second, 3 * time.Second}}, "a", 3 * time.Second},
		{"unmeasured: scaled prior plus user time", 0, map[string][]time.Duration{"a": {3 * time.Second}}, "c", 13 * time.Second},
		{"two measured workflows scale together", 0, map[string][]time.Duration{"a": {2 * time.Second}, "b": {4 * time.Second}}, "c", 9 * time.Second},
		// (3s + 1s) / (1s + 1s): the prior's weight halves the pull.
		{"the priors' weight shrinks the scale", time.Second, map[string][]time.Duration{"a": {3 * time.Second}}, "c", 9 * time.Second},
		{"unknown shape: the median of all", 0, map[string][]time.Duration{"a": {3 * time.Second}}, "z", 3 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.took, e.weight = map[string][]time.Duration{}, tt.weight
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

// TestETAOnRecordedRuns replays the timings of real default-tier runs:
// the ETA printed after the 12th execution (when only the short
// workflows have run and the 1,000-item map and the 500-node DAGs are
// ahead) must be within 30% of the time the run then really took.
func TestETAOnRecordedRuns(t *testing.T) {
	b, err := os.ReadFile("testdata/default-tier-timings.json")
	if err != nil {
		t.Fatal(err)
	}
	var data struct {
		Runs []struct {
			Records []rundir.Record `json:"records"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(b, &data); err != nil {
		t.Fatal(err)
	}
	p, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	c, err := p.Compile(TierDefault)
	if err != nil {
		t.Fatal(err)
	}
	for i, run := range data.Runs {
		recs := run.Records
		if len(recs) != 72 {
			t.Fatalf("run %d: %d records", i, len(recs))
		}
		e := newEstimator(c)
		const after = 12
		for j := range after {
			d := recs[j].Ended - recs[j].Began
			if j+1 < after {
				d = recs[j+1].Began - recs[j].Began // the cycle, cleanup included
			}
			e.add(recs[j].Workflow, time.Duration(d))
		}
		var left []rundir.PlanEntry
		for _, r := range recs[after:] {
			left = append(left, r.PlanEntry)
		}
		eta := e.remaining(left, nil, 0)
		real := time.Duration(recs[len(recs)-1].Ended - recs[after-1].Ended)
		t.Logf("run %d: ETA after %d executions %s, real remaining %s (%+.0f%%)", i, after, eta.Round(time.Second), real.Round(time.Second), 100*(float64(eta)/float64(real)-1))
		if r := float64(eta) / float64(real); r < 0.7 || r > 1.3 {
			t.Errorf("run %d: ETA %s is off the real %s by more than 30%%", i, eta, real)
		}
	}
}

// TestProgressBar drives the terminal display: finished lines print above
// the bar, and stopping leaves them and drops the bar.
func TestProgressBar(t *testing.T) {
	plan := []rundir.PlanEntry{{Seq: 0, Workflow: "a", Target: "x", Repetition: 1, Warmup: true}, {Seq: 1, Workflow: "a", Target: "x", Repetition: 1}}
	var out bytes.Buffer
	p := newProgress(nil, nil, plan, nil)
	p.w = &out
	p.startBar(&out) // as if out were a terminal
	p.start(plan[0])
	p.finish(finished(plan[0], time.Second))
	p.start(plan[1])
	time.Sleep(600 * time.Millisecond) // one refresh with the bar showing
	p.finish(finished(plan[1], time.Second))
	p.stop()
	s := out.String()
	for _, want := range []string{"[1/2] a", "warm-up 1/1", "[2/2] a", "rep 1/1", "running a x rep 1/1"} {
		if !strings.Contains(s, want) {
			t.Errorf("terminal output lacks %q:\n%q", want, s)
		}
	}
}
