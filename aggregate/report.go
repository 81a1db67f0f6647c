package aggregate

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/benchctl/benchctl/controller/api/telemetry"
	"github.com/benchctl/benchctl/portfolio"
	"github.com/benchctl/benchctl/reports"
)

// Build turns the executions of one config in a run directory into a
// report. env carries what the run itself does not know (provider,
// benchctl and controller builds, the effective config); Portfolio, Run and
// Host are filled in here.
func Build(run *portfolio.Run, config string, env reports.Environment) (*reports.Report, error) {
	r := &reports.Report{APIVersion: reports.APIVersion, Kind: reports.KindReport, Environment: env}
	r.Environment.Portfolio = reports.Portfolio{Name: run.Manifest.Portfolio.Name, Tier: run.Manifest.Portfolio.Tier, Hash: run.Manifest.Portfolio.Hash}
	if r.Environment.Host.OS == "" {
		r.Environment.Host = reports.CurrentHost()
	}
	var configs []string
	for _, t := range run.Manifest.Targets {
		configs = append(configs, t.Config)
	}
	r.Run.Interleaving = reports.Interleaving{Mode: reports.InterleaveNone}
	if len(configs) > 1 {
		r.Run.Interleaving = reports.Interleaving{Mode: reports.InterleaveAlternating, Configs: configs}
	}
	r.Run.Start = time.Unix(0, run.Manifest.Started).UTC()

	var reasons []reports.Reason
	byWorkflow := map[string][]*portfolio.Record{}
	for _, rec := range run.Records {
		if rec.Config != config {
			continue
		}
		if end := time.Unix(0, rec.Ended).UTC(); end.After(r.Run.End) {
			r.Run.End = end
		}
		if rec.Warmup {
			r.Run.Warmup = max(r.Run.Warmup, rec.Repetition)
			continue
		}
		r.Run.Repetitions = max(r.Run.Repetitions, rec.Repetition)
		byWorkflow[rec.Workflow] = append(byWorkflow[rec.Workflow], rec)
	}
	for _, m := range run.Missing {
		if m.Config == config && !m.Warmup {
			reasons = append(reasons, reports.NewReason(reports.ReasonFailedExecution, m.Workflow,
				"repetition %d never ran (the run was interrupted; use --resume)", m.Repetition))
		}
	}
	for _, w := range run.Portfolio.Workflows {
		recs := byWorkflow[w.Name]
		if len(recs) == 0 {
			continue
		}
		var samples []reports.ExecutionSample
		for _, rec := range recs {
			s, why := measureRecord(rec)
			reasons = append(reasons, why...)
			if s != nil {
				samples = append(samples, *s)
			}
		}
		if len(samples) == 0 {
			continue
		}
		wf, err := reports.NewWorkflow(w.Name, samples)
		if err != nil {
			return nil, err
		}
		r.Workflows = append(r.Workflows, wf)
	}
	if len(r.Workflows) == 0 && len(reasons) == 0 {
		return nil, fmt.Errorf("run %s has no executions of config %q", run.Dir, config)
	}
	reasons = append(reasons, reports.CheckSamples(r, reports.DefaultSampleCheck)...)
	r.Validity = reports.NewValidity(reasons...)
	return r, nil
}

// measureRecord measures one execution. It returns no sample when the
// execution failed or its trace cannot be trusted, with the reasons.
func measureRecord(rec *portfolio.Record) (*reports.ExecutionSample, []reports.Reason) {
	wf := rec.Workflow
	rep := rec.Repetition
	switch {
	case rec.TimedOut:
		return nil, []reports.Reason{reports.NewReason(reports.ReasonTimedOut, wf, "repetition %d timed out: %s", rep, rec.Error)}
	case !rec.Succeeded():
		return nil, []reports.Reason{reports.NewReason(reports.ReasonFailedExecution, wf, "repetition %d ended %q: %s", rep, rec.Phase, rec.Error)}
	}
	var reasons []reports.Reason
	body, err := os.ReadFile(filepath.Join(rec.Dir, FileSpans))
	if err != nil {
		return nil, []reports.Reason{reports.NewReason(reports.ReasonIncompleteTrace, wf, "repetition %d: no spans: %v", rep, err)}
	}
	spans, err := DecodeOTLP(body)
	if err != nil {
		return nil, []reports.Reason{reports.NewReason(reports.ReasonIncompleteTrace, wf, "repetition %d: %v", rep, err)}
	}
	var meta SpansMeta
	if b, err := os.ReadFile(filepath.Join(rec.Dir, FileSpansMeta)); err == nil {
		_ = json.Unmarshal(b, &meta)
	}
	if meta.Dropped > 0 {
		reasons = append(reasons, reports.NewReason(reports.ReasonDroppedSpans, wf, "repetition %d: the controller dropped %d spans (raise telemetry.spanStoreSize)", rep, meta.Dropped))
	}
	e, err := MeasureTree(spans, rec.Name, time.Unix(0, rec.Created), rec.Closure)
	if err != nil {
		return nil, append(reasons, reports.NewReason(reports.ReasonIncompleteTrace, wf, "repetition %d: %v", rep, err))
	}
	for _, p := range e.Problems {
		kind := reports.ReasonIncompleteTrace
		if strings.Contains(p, "negative") {
			kind = reports.ReasonClockSkew
		}
		reasons = append(reasons, reports.NewReason(kind, wf, "repetition %d: %s", rep, p))
	}
	reasons = append(reasons, crossCheck(rec, spans)...)
	if len(reasons) > 0 {
		return nil, reasons
	}
	s := &reports.ExecutionSample{Wall: e.Wall(), Setup: e.Setup(), Teardown: e.Teardown(), Infra: e.Infra}
	for _, n := range e.Nodes {
		s.Nodes = append(s.Nodes, reports.NodeSample{Name: n.Node, Kind: n.Kind, User: n.User, Kubernetes: n.Kubernetes, Controller: n.Controller})
	}
	return s, nil
}

// check pairs a span count with the metric delta that must equal it.
type check struct {
	what   string
	spans  int
	metric string
	match  map[string]string
	scrape string // "controller" or "apiserver"
}

// crossCheck compares span counts with the metric deltas around the
// execution: a difference means spans were lost or work was not traced.
func crossCheck(rec *portfolio.Record, spans []*Span) []reports.Reason {
	load := func(name string) (Scrape, error) {
		b, err := os.ReadFile(filepath.Join(rec.Dir, name))
		if err != nil {
			return nil, err
		}
		return ParseScrape(b)
	}
	cb, err1 := load(FileMetricsBefore)
	ca, err2 := load(FileMetricsAfter)
	if err := errors.Join(err1, err2); err != nil {
		return []reports.Reason{reports.NewReason(reports.ReasonCountMismatch, rec.Workflow, "repetition %d: no metric scrapes to cross-check spans: %v", rec.Repetition, err)}
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
		{"pod creates", count(telemetry.SpanPodCreate, "", ""), telemetry.MetricPodCreate, nil, "controller"},
		{"CRD updates", count(telemetry.SpanWorkflowUpdate, "", ""), telemetry.MetricWorkflowUpdate, nil, "controller"},
		{"rounds", count(telemetry.SpanWorkflowStreak, "", ""), telemetry.MetricRounds, nil, "controller"},
		{"blob reads", count(telemetry.SpanBlobRead, "", ""), telemetry.MetricBlobOperation, map[string]string{telemetry.LabelOp: "read"}, "controller"},
		{"blob writes", count(telemetry.SpanBlobWrite, "", ""), telemetry.MetricBlobOperation, map[string]string{telemetry.LabelOp: "write"}, "controller"},
		{"catalog gets", count(telemetry.SpanCatalogGet, "", ""), telemetry.MetricCatalogOperation, map[string]string{telemetry.LabelOp: "get"}, "controller"},
		{"catalog puts", count(telemetry.SpanCatalogPut, "", ""), telemetry.MetricCatalogOperation, map[string]string{telemetry.LabelOp: "put"}, "controller"},
		{"launch-plan creates", count(telemetry.SpanWorkflowCreate, "", ""), telemetry.MetricWorkflowCreate, nil, "controller"},
	}
	for _, kind := range []string{"workflow", "node", "task"} {
		checks = append(checks, check{kind + " events", count(telemetry.SpanEventRecord, telemetry.AttrEventKind, kind), telemetry.MetricEventRecord, map[string]string{telemetry.LabelKind: kind}, "controller"})
	}
	// An independent witness: the kube-apiserver's own count of Workflow
	// updates that reached it (conflicts included; client-side errors not).
	ab, errA := load(FileAPIServerBefore)
	aa, errB := load(FileAPIServerAfter)
	if errA == nil && errB == nil {
		reached := 0
		for _, s := range spans {
			if s.Name == telemetry.SpanWorkflowUpdate && s.Str(telemetry.AttrUpdateResult) != telemetry.UpdateError {
				reached++
			}
		}
		checks = append(checks, check{"CRD updates seen by kube-apiserver", reached, "apiserver_request_total",
			map[string]string{"group": "flow.benchctl.dev", "resource": "workflows", "verb": "PUT"}, "apiserver"})
	}
	var out []reports.Reason
	for _, c := range checks {
		before, after := cb, ca
		if c.scrape == "apiserver" {
			before, after = ab, aa
		}
		if d := Delta(before, after, c.metric, c.match); int(d) != c.spans {
			out = append(out, reports.NewReason(reports.ReasonCountMismatch, rec.Workflow,
				"repetition %d: %d %s in spans but %s rose by %g", rec.Repetition, c.spans, c.what, c.metric, d))
		}
	}
	return out
}
