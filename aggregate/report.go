package aggregate

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/benchctl/benchctl/controller/api/telemetry"
	"github.com/benchctl/benchctl/portfolio/rundir"
	"github.com/benchctl/benchctl/reports"
)

// SpansMeta records what the controller said about an execution's spans
// (rundir.ArtifactSpansMeta).
type SpansMeta struct {
	Dropped int64 `json:"dropped"`
	// Quiescent is false when the controller was still producing spans for
	// the execution when collection gave up waiting.
	Quiescent bool `json:"quiescent"`
}

// measured is one execution's sample and timeline, or why it has none.
type measured struct {
	sample   *reports.ExecutionSample
	timeline *reports.Timeline
	reasons  []reports.Reason
}

// measureAll measures every measured (not warm-up) execution of the run,
// on all CPUs: each is independent of the others.
func measureAll(run *rundir.Run) map[*rundir.Record]measured {
	var recs []*rundir.Record
	for _, rec := range run.Records {
		if !rec.Warmup {
			recs = append(recs, rec)
		}
	}
	out := make(map[*rundir.Record]measured, len(recs))
	var mu sync.Mutex
	var wg sync.WaitGroup
	work := make(chan *rundir.Record)
	for range min(runtime.GOMAXPROCS(0), max(len(recs), 1)) {
		wg.Go(func() {
			for rec := range work {
				var env reports.Environment
				if t := run.Manifest.Target(rec.Target); t != nil {
					env = t.Environment
				}
				s, tl, why := measurerOf(env)(rec, env)
				mu.Lock()
				out[rec] = measured{s, tl, why}
				mu.Unlock()
			}
		})
	}
	for _, rec := range recs {
		work <- rec
	}
	close(work)
	wg.Wait()
	return out
}

func buildReport(run *rundir.Run, target string, ms map[*rundir.Record]measured) (*reports.Report, []reports.Timeline, error) {
	t := run.Manifest.Target(target)
	if t == nil {
		return nil, nil, fmt.Errorf("run %s has no target %q", run.Dir, target)
	}
	r := &reports.Report{APIVersion: reports.APIVersion, Kind: reports.KindReport, Environment: t.Environment}
	m := run.Manifest
	r.Environment.Portfolio = reports.Portfolio{Name: m.Portfolio.Name, Tier: m.Portfolio.Tier, Hash: m.Portfolio.Hash}
	if r.Environment.Host.OS == "" {
		r.Environment.Host = reports.CurrentHost()
	}
	r.Run.Interleaving = reports.Interleaving{Mode: reports.InterleaveNone}
	if names := m.TargetNames(); len(names) > 1 {
		r.Run.Interleaving = reports.Interleaving{Mode: reports.InterleaveAlternating, Configs: names}
	}
	r.Run.Start = time.Unix(0, m.Started).UTC()
	planned := map[string]int{}
	stopped := map[string]*reports.Stopped{}
	for _, w := range m.Workflows {
		planned[w.Name] = w.Repetitions
		stopped[w.Name] = w.Stopped
		r.Run.Warmup = max(r.Run.Warmup, w.Warmup)
		r.Run.Repetitions = max(r.Run.Repetitions, w.Repetitions)
	}

	var reasons []reports.Reason
	for _, res := range m.Resumes {
		if len(res.Forced) > 0 {
			reasons = append(reasons, reports.NewReason(reports.ReasonForcedResume, "",
				"resumed on %s with --force despite: %v", time.Unix(0, res.At).UTC().Format(time.RFC3339), res.Forced))
		}
	}
	byWorkflow := map[string][]*rundir.Record{}
	for _, rec := range run.Records {
		if rec.Target != target {
			continue
		}
		if end := time.Unix(0, rec.Ended).UTC(); end.After(r.Run.End) {
			r.Run.End = end
		}
		if !rec.Warmup {
			byWorkflow[rec.Workflow] = append(byWorkflow[rec.Workflow], rec)
		}
	}
	reasons = append(reasons, missing(run, target)...)
	var timelines []reports.Timeline
	for _, w := range m.Workflows {
		var samples []reports.ExecutionSample
		for _, rec := range byWorkflow[w.Name] {
			res := ms[rec]
			reasons = append(reasons, res.reasons...)
			if res.sample != nil {
				if res.timeline != nil {
					tl := *res.timeline
					tl.Sample = len(samples)
					timelines = append(timelines, tl)
				}
				samples = append(samples, *res.sample)
			}
		}
		if len(samples) == 0 {
			continue
		}
		wf, err := reports.NewWorkflow(w.Name, samples)
		if err != nil {
			return nil, nil, err
		}
		wf.Planned = planned[w.Name]
		wf.Stopped = stopped[w.Name]
		wf.FloorMultiple = reports.NewFloorMultiple(&wf, r.Environment.Floor)
		r.Workflows = append(r.Workflows, wf)
	}
	if len(r.Workflows) == 0 && len(reasons) == 0 {
		return nil, nil, fmt.Errorf("run %s has no executions of target %q", run.Dir, target)
	}
	reasons = append(reasons, reports.CheckSamples(r, reports.DefaultSampleCheck)...)
	r.Validity = reports.NewValidity(reasons...)
	return r, timelines, nil
}

// missing reports, per workflow, the measured executions of target that
// have no record, and the records that could not be read.
func missing(run *rundir.Run, target string) []reports.Reason {
	var out []reports.Reason
	count := map[string]int{}
	var order []string
	for _, p := range run.Missing {
		if p.Target != target || p.Warmup {
			continue
		}
		if count[p.Workflow] == 0 {
			order = append(order, p.Workflow)
		}
		count[p.Workflow]++
	}
	for _, w := range order {
		out = append(out, reports.NewReason(reports.ReasonMissingExecutions, w,
			"%d planned repetition(s) have no record (the run was interrupted; continue it with --resume)", count[w]))
	}
	for _, d := range run.Damaged {
		if d.Entry.Target == target {
			out = append(out, reports.NewReason(reports.ReasonMissingExecutions, d.Entry.Workflow,
				"%s is unreadable and was left out (a resumed run executes it again): %v", d.Dir, d.Err))
		}
	}
	return out
}

// measurer measures one recorded execution of an engine: its sample and
// timeline, or no sample and the reasons why (a failed execution, a trace
// that cannot be trusted). Each engine has its own; reports are built
// from the samples alike.
type measurer func(rec *rundir.Record, env reports.Environment) (*reports.ExecutionSample, *reports.Timeline, []reports.Reason)

// measurerOf is the measurer of the engine that ran a target.
func measurerOf(env reports.Environment) measurer {
	if env.EngineName() == reports.EngineFlyte {
		return measureFlyte
	}
	return func(rec *rundir.Record, env reports.Environment) (*reports.ExecutionSample, *reports.Timeline, []reports.Reason) {
		return measureRecord(rec, LimitsOf(rec, env.Config), env.Admin != nil)
	}
}

// outcome is why an execution that did not succeed has no sample.
func outcome(rec *rundir.Record) []reports.Reason {
	switch {
	case rec.TimedOut:
		return []reports.Reason{reports.NewReason(reports.ReasonTimedOut, rec.Workflow, "repetition %d timed out: %s", rec.Repetition, rec.Error)}
	case !rec.Succeeded():
		return []reports.Reason{reports.NewReason(reports.ReasonFailedExecution, rec.Workflow, "repetition %d ended %q: %s", rec.Repetition, rec.Phase, rec.Error)}
	}
	return nil
}

// measureRecord measures one execution of the bundled controller from
// its spans. It returns no sample when the execution failed or its trace
// cannot be trusted, with the reasons.
func measureRecord(rec *rundir.Record, limits Limits, withAdmin bool) (*reports.ExecutionSample, *reports.Timeline, []reports.Reason) {
	wf := rec.Workflow
	rep := rec.Repetition
	if why := outcome(rec); why != nil {
		return nil, nil, why
	}
	var reasons []reports.Reason
	spans, err := LoadSpans(rec)
	if err != nil {
		return nil, nil, []reports.Reason{reports.NewReason(reports.ReasonIncompleteTrace, wf, "repetition %d: %v", rep, err)}
	}
	var meta SpansMeta
	if b, err := rec.ReadArtifact(rundir.ArtifactSpansMeta); err == nil {
		_ = json.Unmarshal(b, &meta)
	}
	if meta.Dropped > 0 {
		reasons = append(reasons, reports.NewReason(reports.ReasonDroppedSpans, wf, "repetition %d: the controller dropped %d spans (raise telemetry.spanStoreSize)", rep, meta.Dropped))
	}
	e, err := MeasureTree(spans, rec.Name, RecordCall(rec), rec.Closure, limits)
	if err != nil {
		return nil, nil, append(reasons, reports.NewReason(reports.ReasonIncompleteTrace, wf, "repetition %d: %v", rep, err))
	}
	for _, p := range e.Problems {
		reasons = append(reasons, reports.NewReason(p.Kind, wf, "repetition %d: %s", rep, p.Msg))
	}
	counted, dropped := crossCheck(rec, spans)
	reasons = append(reasons, counted...)
	events, writes, why := checkEvents(rec, spans, e, withAdmin, dropped)
	reasons = append(reasons, why...)
	if len(reasons) > 0 {
		return nil, nil, reasons
	}
	if writes != nil {
		e.Infra[reports.InfraAdminWrites] = writes
	}
	segs, clamps, err := e.CriticalPath()
	if err != nil {
		return nil, nil, []reports.Reason{reports.NewReason(reports.ReasonIncompleteTrace, wf, "repetition %d: critical path: %v", rep, err)}
	}
	s, tl := e.sample(rec, segs, clamps)
	s.Events = events
	return s, tl, nil
}

// sample is a measured execution as a report's sample and its timeline,
// with its critical path and the instants moved to keep order.
func (e *Execution) sample(rec *rundir.Record, segs []Segment, clamps []Clamp) (*reports.ExecutionSample, *reports.Timeline) {
	s := &reports.ExecutionSample{Wall: e.Wall(), Setup: e.Setup(), Teardown: e.Teardown(), Infra: e.Infra, Attempts: len(e.Attempts)}
	for _, g := range segs {
		s.Path = append(s.Path, reports.PathSegment{Part: g.Name(), Node: g.Node, Child: g.Child, Attempt: g.Attempt, Item: g.Item,
			Start: g.Start.Sub(e.Created), Length: g.Duration()})
	}
	for _, c := range append(e.Clamps, clamps...) {
		s.Clamps = append(s.Clamps, c.By)
	}
	for _, n := range e.Nodes {
		s.Nodes = append(s.Nodes, reports.NodeSample{Name: n.Node, Kind: n.Kind, User: n.User, Kubernetes: n.Kubernetes, Controller: n.Controller})
	}
	tl := e.Timeline(segs)
	tl.Workflow, tl.Target, tl.Repetition = rec.Workflow, rec.Target, rec.Repetition
	return s, &tl
}

// LimitsOf are the limits the controller applied to an execution: the
// Workflow's maxParallelism, else the controller's (its effective config,
// as the run's environment records it).
func LimitsOf(rec *rundir.Record, cfg reports.Config) Limits {
	if rec.Final != nil && rec.Final.Spec.ExecutionConfig.MaxParallelism > 0 {
		return Limits{MaxParallelism: int(rec.Final.Spec.ExecutionConfig.MaxParallelism)}
	}
	switch v := cfg.Values["maxParallelism"].(type) {
	case float64:
		return Limits{MaxParallelism: int(v)}
	case int:
		return Limits{MaxParallelism: v}
	}
	return Limits{}
}

// scrape says which scrape a check reads.
type scrape int

const (
	controllerScrape scrape = iota
	apiserverScrape
)

// check pairs a span count with the metric delta that must equal it.
type check struct {
	what   string
	spans  int
	metric string
	match  map[string]string
	scrape scrape
}

// apiserverRequests is the kube-apiserver family the cross-check reads,
// apiserverStart the one that shows a restart between two scrapes.
const (
	apiserverRequests = "apiserver_request_total"
	apiserverStart    = "process_start_time_seconds"
)

// crossCheck compares span counts with the metric deltas around the
// execution: a difference means spans were lost or work was not traced.
// It also finds events the controller dropped (rate limit, or a sink
// that failed them), which make the execution invalid, and returns their
// number.
func crossCheck(rec *rundir.Record, spans []*Span) ([]reports.Reason, float64) {
	load := func(name string, families ...string) (Scrape, error) {
		b, err := rec.ReadArtifact(name)
		if err != nil {
			return nil, err
		}
		return ParseScrape(b, families...)
	}
	cb, err1 := load(rundir.ArtifactMetricsBefore)
	ca, err2 := load(rundir.ArtifactMetricsAfter)
	if err := errors.Join(err1, err2); err != nil {
		return []reports.Reason{reports.NewReason(reports.ReasonCountMismatch, rec.Workflow, "repetition %d: no metric scrapes to cross-check spans: %v", rec.Repetition, err)}, 0
	}
	count := func(name string, attr, value string) int {
		n := 0
		for _, s := range spans {
			if s.Name == name && (attr == "" || s.Str(attr) == value) {
				n++
			}
		}
		return n
	}
	checks := []check{
		{"pod creates", count(telemetry.SpanPodCreate, "", ""), telemetry.MetricPodCreate, nil, controllerScrape},
		{"CRD updates", count(telemetry.SpanWorkflowUpdate, "", ""), telemetry.MetricWorkflowUpdate, nil, controllerScrape},
		{"rounds", count(telemetry.SpanRound, "", ""), telemetry.MetricRounds, nil, controllerScrape},
		{"blob reads", count(telemetry.SpanBlobRead, "", ""), telemetry.MetricBlobOperation, map[string]string{telemetry.LabelOp: "read"}, controllerScrape},
		{"blob writes", count(telemetry.SpanBlobWrite, "", ""), telemetry.MetricBlobOperation, map[string]string{telemetry.LabelOp: "write"}, controllerScrape},
		{"catalog gets", count(telemetry.SpanCatalogGet, "", ""), telemetry.MetricCatalogOperation, map[string]string{telemetry.LabelOp: "get"}, controllerScrape},
		{"catalog puts", count(telemetry.SpanCatalogPut, "", ""), telemetry.MetricCatalogOperation, map[string]string{telemetry.LabelOp: "put"}, controllerScrape},
		{"launch-plan creates", count(telemetry.SpanWorkflowCreate, "", ""), telemetry.MetricWorkflowCreate, nil, controllerScrape},
	}
	for _, kind := range []string{"workflow", "node", "task"} {
		checks = append(checks, check{kind + " events", count(telemetry.SpanEventRecord, telemetry.AttrEventKind, kind), telemetry.MetricEventRecord, map[string]string{telemetry.LabelKind: kind}, controllerScrape})
	}
	// An independent witness: the kube-apiserver's own count of Workflow
	// updates that reached it (conflicts included; client-side errors not).
	ab, errA := load(rundir.ArtifactAPIServerBefore, apiserverRequests, apiserverStart)
	aa, errB := load(rundir.ArtifactAPIServerAfter, apiserverRequests, apiserverStart)
	var out []reports.Reason
	restarted := false
	if errA == nil && errB == nil {
		if sb, sa := ab.Count(apiserverStart, nil), aa.Count(apiserverStart, nil); sb != 0 && sa != 0 && sa != sb {
			restarted = true
			out = append(out, reports.NewReason(reports.ReasonAPIServerRestart, rec.Workflow,
				"repetition %d: kube-apiserver restarted during the execution (started %s, then %s): its counts began again at 0 and the execution's times include the outage",
				rec.Repetition, time.Unix(int64(sb), 0).UTC().Format(time.TimeOnly), time.Unix(int64(sa), 0).UTC().Format(time.TimeOnly)))
		}
	}
	if errA == nil && errB == nil && !restarted {
		reached := 0
		for _, s := range spans {
			if s.Name == telemetry.SpanWorkflowUpdate && s.Str(telemetry.AttrUpdateResult) != telemetry.UpdateError {
				reached++
			}
		}
		checks = append(checks, check{"CRD updates seen by kube-apiserver", reached, apiserverRequests,
			map[string]string{"group": "flow.benchctl.dev", "resource": "workflows", "verb": "PUT"}, apiserverScrape})
	}
	dropped := Delta(cb, ca, telemetry.MetricEventsDropped, nil)
	if dropped > 0 {
		out = append(out, reports.NewReason(reports.ReasonDroppedEvents, rec.Workflow,
			"repetition %d: the controller dropped %g events (rate limit, or an event sink that failed them: see the controller's log)", rec.Repetition, dropped))
	}
	for _, c := range checks {
		before, after := cb, ca
		if c.scrape == apiserverScrape {
			before, after = ab, aa
		}
		if d := Delta(before, after, c.metric, c.match); int(d) != c.spans {
			out = append(out, reports.NewReason(reports.ReasonCountMismatch, rec.Workflow,
				"repetition %d: %d %s in spans but %s rose by %g", rec.Repetition, c.spans, c.what, c.metric, d))
		}
	}
	return out, dropped
}

// RecordCall is the harness's Workflow create call as a record kept it.
func RecordCall(rec *rundir.Record) Call {
	c := Returned(time.Unix(0, rec.Created))
	if rec.CreateSent != 0 {
		c.Sent = time.Unix(0, rec.CreateSent)
	}
	return c
}
