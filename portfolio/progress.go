package portfolio

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// progress reports the run: on a terminal, a live status line with an ETA
// under the finished executions; otherwise one plain line per finished
// execution, which logs and CI keep readably.
type progress struct {
	w     io.Writer
	tty   bool
	plan  []PlanEntry
	total int

	mu       sync.Mutex
	finished int
	// took holds the durations of finished executions per workflow, which
	// predict the remaining ones of the same workflow.
	took    map[string][]time.Duration
	all     []time.Duration
	current *PlanEntry
	since   time.Time
	next    int // plan index of the current execution
	quit    chan struct{}
	wg      sync.WaitGroup
}

func newProgress(w io.Writer, plan []PlanEntry, done map[int]*Record) *progress {
	p := &progress{w: w, plan: plan, total: len(plan), took: map[string][]time.Duration{}, quit: make(chan struct{})}
	if w == nil {
		return p
	}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty = true
	}
	for _, e := range plan {
		if rec, ok := done[e.Seq]; ok {
			p.finished++
			p.record(rec)
		}
	}
	if p.finished > 0 {
		p.printf("resuming: %d of %d executions already recorded\n", p.finished, p.total)
	}
	if p.tty {
		p.wg.Add(1)
		go p.tick()
	}
	return p
}

func (p *progress) record(rec *Record) {
	if rec.Ended <= rec.Began {
		return
	}
	d := time.Duration(rec.Ended - rec.Began)
	p.took[rec.Workflow] = append(p.took[rec.Workflow], d)
	p.all = append(p.all, d)
}

func (p *progress) start(e PlanEntry) {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.current, p.since = &e, time.Now()
	for i, pe := range p.plan {
		if pe.Seq == e.Seq {
			p.next = i
		}
	}
	p.status()
}

func (p *progress) finish(rec *Record) {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.finished++
	p.record(rec)
	p.current = nil
	outcome := string(rec.Phase)
	switch {
	case rec.TimedOut:
		outcome = "TIMED OUT"
	case outcome == "":
		outcome = "FAILED"
	}
	line := fmt.Sprintf("[%*d/%d] %-22s %-10s %-12s %-9s %8s", len(fmt.Sprint(p.total)), p.finished, p.total,
		rec.Workflow, rec.Config, repLabel(rec.PlanEntry, p.plan), outcome, fmtDur(time.Duration(rec.Ended-rec.Began)))
	if rec.Error != "" && (rec.Phase != "Succeeded" || rec.TimedOut) {
		line += "  " + firstLine(rec.Error)
	}
	if eta, ok := p.eta(); ok && p.finished < p.total {
		line += "  ETA " + fmtDur(eta)
	}
	p.clear()
	fmt.Fprintln(p.w, line)
	p.status()
}

// eta predicts the time left: each remaining execution takes the mean of
// its workflow's finished ones, or of all finished ones if none yet.
func (p *progress) eta() (time.Duration, bool) {
	if len(p.all) == 0 {
		return 0, false
	}
	var left time.Duration
	start := p.next
	if p.current == nil {
		start = p.next + 1
	}
	for _, e := range p.plan[min(start, len(p.plan)):] {
		left += mean(p.took[e.Workflow], mean(p.all, 0))
	}
	if p.current != nil {
		left -= min(time.Since(p.since), mean(p.took[p.current.Workflow], mean(p.all, 0)))
	}
	return max(left, 0), true
}

func mean(ds []time.Duration, fallback time.Duration) time.Duration {
	if len(ds) == 0 {
		return fallback
	}
	var s time.Duration
	for _, d := range ds {
		s += d
	}
	return s / time.Duration(len(ds))
}

// status redraws the live line (terminal only).
func (p *progress) status() {
	if !p.tty || p.current == nil {
		return
	}
	eta := "ETA --"
	if d, ok := p.eta(); ok {
		eta = "ETA " + fmtDur(d)
	}
	p.clear()
	fmt.Fprintf(p.w, "[%d/%d] running %s %s %s  %s  %s", p.finished+1, p.total, p.current.Workflow, p.current.Config,
		repLabel(*p.current, p.plan), fmtDur(time.Since(p.since)), eta)
}

func (p *progress) clear() {
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

func (p *progress) tick() {
	defer p.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-p.quit:
			return
		case <-t.C:
			p.mu.Lock()
			p.status()
			p.mu.Unlock()
		}
	}
}

func (p *progress) stop() {
	close(p.quit)
	p.wg.Wait()
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
}

func (p *progress) printf(format string, args ...any) {
	p.clear()
	fmt.Fprintf(p.w, format, args...)
}

// repLabel renders "rep 2/5" or "warm-up 1/1".
func repLabel(e PlanEntry, plan []PlanEntry) string {
	n := 0
	for _, pe := range plan {
		if pe.Workflow == e.Workflow && pe.Config == e.Config && pe.Warmup == e.Warmup {
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
