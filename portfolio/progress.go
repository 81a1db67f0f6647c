package portfolio

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"

	"github.com/benchctl/benchctl/portfolio/rundir"
)

// Prior costs of one execution's cycle (from its start to the next
// one's: the hooks' collection and the cleanup included), fitted by least
// squares (of relative errors) to two default-tier runs on a 2-core
// machine with the local cluster: what an execution costs beyond its
// declared user time, per pod created, per node, and per serial step and
// node together (each step writes the whole status, which grows with the
// nodes), before anything of this run has been measured. The estimator
// scales them by what the run measures, so their proportions matter more
// than their absolute size.
const (
	priorBase        = 360 * time.Millisecond
	priorPerPod      = 25 * time.Millisecond
	priorPerNode     = 1500 * time.Microsecond
	priorPerStepNode = 340 * time.Microsecond
	// priorWeight is how much measured time the priors count as when the
	// run's own measurements scale them: a few short workflows barely
	// move the estimate, long ones soon dominate it.
	priorWeight = 30 * time.Second
)

// estimator predicts how long the remaining executions take, each from
// its start to the next one's. A workflow already measured in this run
// takes the median of its executions; one
// not yet measured takes a cost derived from its shape (serial steps,
// pods and nodes, and its declared user time along the longest chain),
// scaled by how the measured workflows compared with their own shapes.
type estimator struct {
	// weight is how much measured time the priors count as (priorWeight).
	weight time.Duration
	prior  map[string]time.Duration // shape cost, without user time
	user   map[string]time.Duration // declared user time on the longest chain
	took   map[string][]time.Duration
}

func newEstimator(c *Compiled) *estimator {
	e := &estimator{weight: priorWeight, prior: map[string]time.Duration{}, user: map[string]time.Duration{}, took: map[string][]time.Duration{}}
	if c == nil {
		return e
	}
	for _, w := range c.Workflows {
		n := w.Counts
		pods := n.Pods
		if w.Inputs == InputsFixed {
			pods -= n.CacheablePods // after the warm-up the catalog serves them
		}
		e.prior[w.Name] = priorBase + time.Duration(pods)*priorPerPod +
			time.Duration(n.Nodes)*priorPerNode + time.Duration(n.Depth*n.Nodes)*priorPerStepNode
		if w.Template != nil && w.Template.Spec.Closure != nil {
			if t, ok := w.Template.Spec.Closure.Tasks[TaskName]; ok {
				e.user[w.Name] = time.Duration(n.Depth) * t.Duration.Duration
			}
		}
	}
	return e
}

// add records one execution of workflow; the index lets a later, more
// complete measure replace it (see progress.start).
func (e *estimator) add(workflow string, d time.Duration) int {
	e.took[workflow] = append(e.took[workflow], d)
	return len(e.took[workflow]) - 1
}

// scale is measured over predicted shape cost over the measured
// workflows, shrunk towards 1 by priorWeight.
func (e *estimator) scale() float64 {
	var measured, predicted time.Duration
	for w, ds := range e.took {
		if p := e.prior[w]; p > 0 {
			measured += max(median(ds)-e.user[w], 0)
			predicted += p
		}
	}
	if predicted+e.weight == 0 {
		return 1
	}
	return float64(measured+e.weight) / float64(predicted+e.weight)
}

// predict is the expected duration of one execution of workflow.
func (e *estimator) predict(workflow string, scale float64) time.Duration {
	if ds := e.took[workflow]; len(ds) > 0 {
		return median(ds)
	}
	if _, known := e.prior[workflow]; !known {
		// No shape to go by: the median of everything measured.
		var all []time.Duration
		for _, ds := range e.took {
			all = append(all, ds...)
		}
		return median(all)
	}
	return time.Duration(scale*float64(e.prior[workflow])) + e.user[workflow]
}

// remaining predicts the entries left; the one running for elapsed
// counts what it is expected to have left.
func (e *estimator) remaining(left []rundir.PlanEntry, current *rundir.PlanEntry, elapsed time.Duration) time.Duration {
	s := e.scale()
	var total time.Duration
	for _, p := range left {
		total += e.predict(p.Workflow, s)
	}
	if current != nil {
		total += max(e.predict(current.Workflow, s)-elapsed, 0)
	}
	return total
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// progress reports the run: on a terminal, a live progress bar with the
// running execution and an ETA under the finished executions' lines;
// otherwise one plain line per finished execution, which logs and CI keep
// readably.
type progress struct {
	w    io.Writer
	plan []rundir.PlanEntry
	est  *estimator

	mu       sync.Mutex
	done     map[int]bool
	finished int
	current  *rundir.PlanEntry
	since    time.Time
	// last is the previous execution's sample, which becomes its whole
	// cycle (cleanup included) when the next execution starts.
	last struct {
		workflow string
		index    int
		since    time.Time
		ok       bool
	}

	// On a terminal: the bar, and the writer that prints above it.
	mpb *mpb.Progress
	bar *mpb.Bar
}

func newProgress(w io.Writer, c *Compiled, plan []rundir.PlanEntry, done map[int]*rundir.Record) *progress {
	p := &progress{w: w, plan: plan, est: newEstimator(c), done: map[int]bool{}}
	for _, e := range plan {
		if rec, ok := done[e.Seq]; ok {
			p.done[e.Seq] = true
			p.finished++
			if rec.Ended > rec.Began {
				p.est.add(rec.Workflow, time.Duration(rec.Ended-rec.Began))
			}
		}
	}
	if w == nil {
		return p
	}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.startBar(f)
	}
	if p.finished > 0 {
		p.println(fmt.Sprintf("resuming: %d of %d executions already recorded", p.finished, len(plan)))
	}
	return p
}

func (p *progress) startBar(w io.Writer) {
	p.mpb = mpb.New(mpb.WithOutput(w), mpb.WithWidth(30), mpb.WithRefreshRate(500*time.Millisecond), mpb.WithAutoRefresh())
	p.bar = p.mpb.New(int64(len(p.plan)), mpb.BarStyle(),
		mpb.PrependDecorators(decor.Any(func(decor.Statistics) string {
			p.mu.Lock()
			defer p.mu.Unlock()
			return fmt.Sprintf("[%d/%d]", p.finished, len(p.plan))
		}, decor.WCSyncSpaceR)),
		mpb.AppendDecorators(decor.Any(func(decor.Statistics) string {
			p.mu.Lock()
			defer p.mu.Unlock()
			return p.status()
		})))
	p.bar.SetCurrent(int64(p.finished))
}

// status is the running execution and the ETA (the bar's tail).
func (p *progress) status() string {
	if p.current == nil {
		return ""
	}
	eta := fmtDur(p.eta())
	return fmt.Sprintf("running %s %s %s  %s  ETA %s", p.current.Workflow, p.current.Target,
		repLabel(*p.current, p.plan), fmtDur(time.Since(p.since)), eta)
}

func (p *progress) start(e rundir.PlanEntry) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if p.last.ok {
		p.est.took[p.last.workflow][p.last.index] = now.Sub(p.last.since)
		p.last.ok = false
	}
	p.current, p.since = &e, now
}

func (p *progress) finish(rec *rundir.Record) {
	p.mu.Lock()
	p.finished++
	p.done[rec.Seq] = true
	took := time.Duration(rec.Ended - rec.Began)
	if took > 0 {
		i := p.est.add(rec.Workflow, took)
		if p.current != nil {
			p.last.workflow, p.last.index, p.last.since, p.last.ok = rec.Workflow, i, p.since, true
		}
	}
	p.current = nil
	outcome := string(rec.Phase)
	switch {
	case rec.TimedOut:
		outcome = "TIMED OUT"
	case outcome == "":
		outcome = "FAILED"
	}
	line := fmt.Sprintf("[%*d/%d] %-22s %-10s %-12s %-9s %8s", len(fmt.Sprint(len(p.plan))), p.finished, len(p.plan),
		rec.Workflow, rec.Target, repLabel(rec.PlanEntry, p.plan), outcome, fmtDur(took))
	if rec.Error != "" && (rec.Phase != "Succeeded" || rec.TimedOut) {
		line += "  " + firstLine(rec.Error)
	}
	if p.finished < len(p.plan) {
		line += "  ETA " + fmtDur(p.eta())
	}
	p.mu.Unlock()
	p.println(line)
	if p.bar != nil {
		p.bar.Increment()
	}
}

// eta is the predicted time left; the caller holds mu.
func (p *progress) eta() time.Duration {
	var left []rundir.PlanEntry
	for _, e := range p.plan {
		if !p.done[e.Seq] && (p.current == nil || e.Seq != p.current.Seq) {
			left = append(left, e)
		}
	}
	return p.est.remaining(left, p.current, time.Since(p.since))
}

// println prints a line above the bar, or plainly.
func (p *progress) println(line string) {
	switch {
	case p.w == nil:
	case p.mpb != nil:
		fmt.Fprintln(p.mpb, line)
	default:
		fmt.Fprintln(p.w, line)
	}
}

func (p *progress) stop() {
	if p.mpb == nil {
		return
	}
	p.bar.Abort(true) // drop the bar; the lines above stay
	p.mpb.Wait()
}

// repLabel renders "rep 2/5" or "warm-up 1/1".
func repLabel(e rundir.PlanEntry, plan []rundir.PlanEntry) string {
	n := 0
	for _, pe := range plan {
		if pe.Workflow == e.Workflow && pe.Target == e.Target && pe.Warmup == e.Warmup {
			n++
		}
	}
	if e.Warmup {
		return fmt.Sprintf("warm-up %d/%d", e.Repetition, n)
	}
	return fmt.Sprintf("rep %d/%d", e.Repetition, n)
}

func fmtDur(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(10 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}
