package reports

import (
	"fmt"
	"math"
	"slices"
)

// FieldError is a report that breaks the schema: Path names the field in
// YAML terms (e.g. workflows[0].wall.median). Load adds the file and line.
type FieldError struct {
	Path string
	Msg  string
}

func (e *FieldError) Error() string { return e.Path + ": " + e.Msg }

func fieldErr(path, format string, args ...any) error {
	return &FieldError{Path: path, Msg: fmt.Sprintf(format, args...)}
}

// Validate checks that r is a well-formed v1 report whose every summary
// is what its samples give. Save and Load call it.
func (r *Report) Validate() error {
	if r.APIVersion != APIVersion {
		return fieldErr("apiVersion", "is %q, want %q (this benchctl reads only %s reports)", r.APIVersion, APIVersion, APIVersion)
	}
	if r.Kind != KindReport {
		return fieldErr("kind", "is %q, want %q", r.Kind, KindReport)
	}
	if err := r.Environment.validate("environment"); err != nil {
		return err
	}
	if err := r.Run.validate("run"); err != nil {
		return err
	}
	seen := map[string]bool{}
	for i := range r.Workflows {
		w := &r.Workflows[i]
		p := fmt.Sprintf("workflows[%d]", i)
		if seen[w.Name] {
			return fieldErr(p+".name", "workflow %q appears twice", w.Name)
		}
		seen[w.Name] = true
		if err := w.validate(p); err != nil {
			return err
		}
	}
	return r.Validity.validate("validity")
}

func (e *Environment) validate(p string) error {
	required := []struct{ path, val string }{
		{p + ".provider.name", e.Provider.Name},
		{p + ".config.name", e.Config.Name},
		{p + ".portfolio.name", e.Portfolio.Name},
		{p + ".portfolio.hash", e.Portfolio.Hash},
	}
	for _, f := range required {
		if f.val == "" {
			return fieldErr(f.path, "is required")
		}
	}
	if e.Engine != nil && e.Engine.Name != EngineBundled && e.Engine.Name != EngineFlyte {
		return fieldErr(p+".engine.name", "%q is not one of %s, %s", e.Engine.Name, EngineBundled, EngineFlyte)
	}
	if e.Floor != nil {
		if err := e.Floor.validate(p + ".floor"); err != nil {
			return err
		}
	}
	if e.Provider.Nodes < 0 {
		return fieldErr(p+".provider.nodes", "is negative (%d)", e.Provider.Nodes)
	}
	h, err := HashValues(e.Config.Values)
	if err != nil {
		return fieldErr(p+".config.values", "%v", err)
	}
	if e.Config.Hash != h {
		return fieldErr(p+".config.hash", "is %q but the values hash to %q: build the config with reports.NewConfig", e.Config.Hash, h)
	}
	return nil
}

func (ri *RunInfo) validate(p string) error {
	if ri.Warmup < 0 {
		return fieldErr(p+".warmup", "is negative (%d)", ri.Warmup)
	}
	if ri.Repetitions < 0 {
		return fieldErr(p+".repetitions", "is negative (%d)", ri.Repetitions)
	}
	if !ri.Start.IsZero() && !ri.End.IsZero() && ri.End.Before(ri.Start) {
		return fieldErr(p+".end", "%s is before start %s", ri.End, ri.Start)
	}
	switch ri.Interleaving.Mode {
	case InterleaveNone, InterleaveAlternating:
	default:
		return fieldErr(p+".interleaving.mode", "is %q, want %q or %q", ri.Interleaving.Mode, InterleaveNone, InterleaveAlternating)
	}
	return nil
}

func (w *Workflow) validate(p string) error {
	if w.Name == "" {
		return fieldErr(p+".name", "is required")
	}
	if w.Executions < 0 {
		return fieldErr(p+".executions", "is negative (%d)", w.Executions)
	}
	for _, s := range []struct {
		name string
		st   *Stats
	}{{"wall", &w.Wall}, {"setup", &w.Setup}, {"teardown", &w.Teardown}} {
		if err := s.st.validate(p+"."+s.name, UnitSeconds, w.Executions, true); err != nil {
			return err
		}
	}
	if err := w.Overhead.validate(p+".overhead", w.Executions, true); err != nil {
		return err
	}
	names := map[string]bool{}
	for i := range w.Nodes {
		n := &w.Nodes[i]
		np := fmt.Sprintf("%s.nodes[%d]", p, i)
		if n.Name == "" {
			return fieldErr(np+".name", "is required")
		}
		if names[n.Name] {
			return fieldErr(np+".name", "node %q appears twice", n.Name)
		}
		names[n.Name] = true
		if err := n.Breakdown.validate(np, w.Executions, false); err != nil {
			return err
		}
	}
	if w.CriticalPath != nil {
		if err := w.CriticalPath.validate(p+".criticalPath", w.Wall, w.Executions); err != nil {
			return err
		}
	}
	if w.PathSteps != nil {
		if err := w.PathSteps.validate(p+".pathSteps", UnitCount, w.Executions, true); err != nil {
			return err
		}
	}
	if w.FloorMultiple != nil {
		if err := w.FloorMultiple.validate(p+".floorMultiple", UnitRatio, w.Executions, true); err != nil {
			return err
		}
	}
	if w.Attempts != nil {
		if err := w.Attempts.validate(p+".attempts", UnitCount, w.Executions, true); err != nil {
			return err
		}
	}
	if w.Clamped != nil {
		if err := w.Clamped.Count.validate(p+".clamped.count", UnitCount, w.Executions, true); err != nil {
			return err
		}
		if err := w.Clamped.Seconds.validate(p+".clamped.seconds", UnitSeconds, w.Executions, true); err != nil {
			return err
		}
	}
	infra := map[string]bool{}
	for i := range w.Infrastructure {
		if err := w.Infrastructure[i].validate(fmt.Sprintf("%s.infrastructure[%d]", p, i), w.Executions, infra); err != nil {
			return err
		}
	}
	return nil
}

// validate checks the parts and that total and ratios are what the parts
// give. exact says every Stats must have one sample per execution; nodes
// may have fewer.
func (b *Breakdown) validate(p string, executions int, exact bool) error {
	parts := []struct {
		name string
		st   *Stats
	}{{"user", &b.User}, {"kubernetes", &b.Kubernetes}, {"controller", &b.Controller}}
	for _, s := range parts {
		if err := s.st.validate(p+"."+s.name, UnitSeconds, executions, exact); err != nil {
			return err
		}
	}
	if b.User.N != b.Kubernetes.N || b.User.N != b.Controller.N {
		return fieldErr(p, "user, kubernetes and controller have %d, %d and %d samples; want one per execution each", b.User.N, b.Kubernetes.N, b.Controller.N)
	}
	want, err := NewBreakdown(b.User.Samples, b.Kubernetes.Samples, b.Controller.Samples)
	if err != nil {
		return fieldErr(p, "%v", err)
	}
	derived := []struct {
		name      string
		got, want *Stats
	}{
		{"total", &b.Total, &want.Total},
		{"userRatio", &b.UserRatio, &want.UserRatio},
		{"kubernetesRatio", &b.KubernetesRatio, &want.KubernetesRatio},
		{"controllerRatio", &b.ControllerRatio, &want.ControllerRatio},
	}
	for _, d := range derived {
		if err := d.got.validate(p+"."+d.name, d.want.Unit, b.User.N, true); err != nil {
			return err
		}
		for i, x := range d.got.Samples {
			if !near(x, d.want.Samples[i]) {
				return fieldErr(fmt.Sprintf("%s.%s.samples[%d]", p, d.name, i), "is %v but user, kubernetes and controller give %v", x, d.want.Samples[i])
			}
		}
	}
	return nil
}

func (m *InfraMetric) validate(p string, executions int, seen map[string]bool) error {
	if m.Name == "" {
		return fieldErr(p+".name", "is required")
	}
	if seen[m.Name] {
		return fieldErr(p+".name", "metric %q appears twice", m.Name)
	}
	seen[m.Name] = true
	if err := m.Count.validate(p+".count", UnitCount, executions, true); err != nil {
		return err
	}
	active := 0
	for i, c := range m.Count.Samples {
		if c < 0 || c != math.Trunc(c) {
			return fieldErr(fmt.Sprintf("%s.count.samples[%d]", p, i), "is %v, want a whole number >= 0", c)
		}
		if c > 0 {
			active++
		}
	}
	qs := []struct {
		name string
		st   *Stats
	}{{"p50", &m.P50}, {"p90", &m.P90}, {"p95", &m.P95}, {"max", &m.Max}}
	if m.P50.N == 0 && m.P90.N == 0 && m.P95.N == 0 && m.Max.N == 0 {
		// A row of counts only (NewInfraCount): no latency is known.
		active = 0
	}
	for _, q := range qs {
		if err := q.st.validate(p+"."+q.name, UnitSeconds, active, true); err != nil {
			return fmt.Errorf("%w (one latency sample per execution with a nonzero count)", err)
		}
	}
	for i := range active {
		if !(m.P50.Samples[i] <= m.P90.Samples[i] && m.P90.Samples[i] <= m.P95.Samples[i] && m.P95.Samples[i] <= m.Max.Samples[i]) {
			return fieldErr(fmt.Sprintf("%s.p50.samples[%d]", p, i), "quantiles of one execution are out of order: p50 %v, p90 %v, p95 %v, max %v",
				m.P50.Samples[i], m.P90.Samples[i], m.P95.Samples[i], m.Max.Samples[i])
		}
	}
	return nil
}

// validate checks unit, sample count (n == want, or n <= want unless
// exact) and that every summary field is what the samples give.
func (s *Stats) validate(p, unit string, want int, exact bool) error {
	if s.Unit != unit {
		return fieldErr(p+".unit", "is %q, want %q", s.Unit, unit)
	}
	if s.N != len(s.Samples) {
		return fieldErr(p+".n", "is %d but there are %d samples", s.N, len(s.Samples))
	}
	if exact && s.N != want {
		return fieldErr(p+".samples", "has %d samples, want %d (one per measured execution)", s.N, want)
	}
	if !exact && s.N > want {
		return fieldErr(p+".samples", "has %d samples, more than the %d measured executions", s.N, want)
	}
	for i, x := range s.Samples {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fieldErr(fmt.Sprintf("%s.samples[%d]", p, i), "is %v, want a finite number", x)
		}
		if unit != UnitRatio && x < 0 {
			return fieldErr(fmt.Sprintf("%s.samples[%d]", p, i), "is negative (%v): a clock went backwards or instants were mismatched", x)
		}
	}
	c := NewStats(s.Unit, s.Samples)
	fields := []struct {
		name      string
		got, want float64
	}{
		{"min", s.Min, c.Min}, {"median", s.Median, c.Median}, {"mean", s.Mean, c.Mean},
		{"p90", s.P90, c.P90}, {"max", s.Max, c.Max}, {"stddev", s.Stddev, c.Stddev},
	}
	for _, f := range fields {
		if !near(f.got, f.want) {
			return fieldErr(p+"."+f.name, "is %v but the samples give %v: summaries are computed from samples, never edited", f.got, f.want)
		}
	}
	switch {
	case (s.MedianCI == nil) != (c.MedianCI == nil):
		if c.MedianCI == nil {
			return fieldErr(p+".medianCI", "is present but %d samples are too few for a finite interval", s.N)
		}
		return fieldErr(p+".medianCI", "is missing; the samples give [%v, %v]", c.MedianCI.Lo, c.MedianCI.Hi)
	case s.MedianCI != nil:
		if !near(s.MedianCI.Lo, c.MedianCI.Lo) || !near(s.MedianCI.Hi, c.MedianCI.Hi) || !near(s.MedianCI.Confidence, c.MedianCI.Confidence) {
			return fieldErr(p+".medianCI", "is [%v, %v] at %v but the samples give [%v, %v] at %v",
				s.MedianCI.Lo, s.MedianCI.Hi, s.MedianCI.Confidence, c.MedianCI.Lo, c.MedianCI.Hi, c.MedianCI.Confidence)
		}
	}
	return nil
}

func (v *Validity) validate(p string) error {
	valid := true
	for i, r := range v.Reasons {
		rp := fmt.Sprintf("%s.reasons[%d]", p, i)
		if _, ok := defaultSeverity[r.Kind]; !ok {
			return fieldErr(rp+".kind", "is %q, want one of %v", r.Kind, reasonKinds())
		}
		switch r.Severity {
		case SeverityInvalid:
			valid = false
		case SeverityWarning:
		default:
			return fieldErr(rp+".severity", "is %q, want %q or %q", r.Severity, SeverityInvalid, SeverityWarning)
		}
		if r.Message == "" {
			return fieldErr(rp+".message", "is required")
		}
	}
	if v.Valid != valid {
		return fieldErr(p+".valid", "is %v but the reasons say %v (a run is invalid exactly when a reason has severity %q)", v.Valid, valid, SeverityInvalid)
	}
	return nil
}

func reasonKinds() []string {
	var ks []string
	for k := range defaultSeverity {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// near compares a stored number with its recomputation. YAML round trips
// float64 exactly, so this only absorbs last-bit differences.
func near(a, b float64) bool {
	if a == b {
		return true
	}
	return math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b))
}
