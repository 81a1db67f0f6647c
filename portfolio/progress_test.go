package portfolio

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func finished(p PlanEntry, took time.Duration) *Record {
	return &Record{PlanEntry: p, Began: 1, Ended: 1 + int64(took), Phase: "Succeeded"}
}

func TestProgressETA(t *testing.T) {
	plan := []PlanEntry{
		{Seq: 0, Workflow: "a", Config: "x", Repetition: 1},
		{Seq: 1, Workflow: "a", Config: "x", Repetition: 2},
		{Seq: 2, Workflow: "b", Config: "x", Repetition: 1},
		{Seq: 3, Workflow: "b", Config: "x", Repetition: 2},
	}
	var out bytes.Buffer
	// Resumed with the first one done in 2s.
	p := newProgress(&out, plan, map[int]*Record{0: finished(plan[0], 2*time.Second)})
	defer p.stop()
	if _, ok := p.eta(); !ok {
		t.Fatal("no ETA after a finished execution")
	}
	p.start(plan[1])
	// a takes 2s (its own mean); b has no sample, so each takes the
	// overall mean, 2s: 6s minus the moment elapsed.
	if eta, _ := p.eta(); eta > 6*time.Second || eta < 5*time.Second {
		t.Errorf("ETA = %s, want just under 6s", eta)
	}
	p.finish(finished(plan[1], 4*time.Second))
	// a's mean is 3s, the overall mean 3s: two b's left, 6s.
	if eta, _ := p.eta(); eta != 6*time.Second {
		t.Errorf("ETA = %s, want 6s", eta)
	}
	p.start(plan[2])
	p.finish(finished(plan[2], time.Second))
	// b's own mean (1s) now predicts the last one.
	if eta, _ := p.eta(); eta != time.Second {
		t.Errorf("ETA = %s, want 1s", eta)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || lines[0] != "resuming: 1 of 4 executions already recorded" ||
		!strings.Contains(lines[1], "[2/4] a") || !strings.Contains(lines[1], "rep 2/2") || !strings.HasSuffix(lines[2], "ETA 1s") {
		t.Errorf("output:\n%s", out.String())
	}
}

func TestProgressTerminal(t *testing.T) {
	plan := []PlanEntry{{Seq: 0, Workflow: "a", Config: "x", Repetition: 1, Warmup: true}, {Seq: 1, Workflow: "a", Config: "x", Repetition: 1}}
	var out bytes.Buffer
	p := newProgress(&out, plan, nil)
	p.tty = true // as if out were a terminal
	p.start(plan[0])
	p.finish(finished(plan[0], time.Second))
	p.start(plan[1])
	p.stop()
	s := out.String()
	for _, want := range []string{"[1/2] running a x warm-up 1/1", "ETA --", "\r\033[K[1/2] a", "[2/2] running a x rep 1/1", "ETA 1s"} {
		if !strings.Contains(s, want) {
			t.Errorf("terminal output lacks %q:\n%q", want, s)
		}
	}
	if !strings.HasSuffix(s, "\r\033[K") {
		t.Errorf("the live line is not cleared at the end: %q", s)
	}
}
