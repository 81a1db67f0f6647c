package reports

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"time"
)

// ExecutionSample is what aggregate measured in one execution of a
// workflow: the raw material of every statistic in Workflow.
type ExecutionSample struct {
	Wall, Setup, Teardown time.Duration
	Nodes                 []NodeSample
	// Infra maps an infrastructure metric name (InfraMetrics, or any
	// other name) to the latency of every such operation in this
	// execution. A metric absent here but present in another execution of
	// the same workflow counts as zero operations: the spans of the whole
	// execution were read, and none was found.
	Infra map[string][]time.Duration
	// Counts maps an infrastructure metric to the number of operations in
	// this execution where their latencies are not known (an engine's
	// metric deltas); such a metric's row carries counts only. A name is
	// in Infra or in Counts, not both.
	Counts map[string]int
	// Path is the critical path: segments that tile [created, succeeded].
	// Nil when it was not measured.
	Path []PathSegment
	// Attempts is the number of units of user code.
	Attempts int
	// Clamps are the amounts by which instants were moved.
	Clamps []time.Duration
	// Events is the admin-service cross-check, nil without one.
	Events *EventSample
}

// EventSample is one execution's admin-service cross-check.
type EventSample struct {
	Persisted, Compared int
	MaxDisagreement     time.Duration
	Node                string
}

// NodeSample is one node's breakdown in one execution.
type NodeSample struct {
	Name                         string
	Kind                         string
	User, Kubernetes, Controller time.Duration
}

// NewWorkflow computes a workflow's statistics from its measured
// executions, in execution order. A node missing from some executions gets
// fewer samples (a node is never given a value it did not have).
func NewWorkflow(name string, execs []ExecutionSample) (Workflow, error) {
	if name == "" {
		return Workflow{}, fmt.Errorf("workflow name is empty")
	}
	w := Workflow{Name: name, Executions: len(execs)}
	var wall, setup, teardown []time.Duration
	var user, kube, ctrl []float64
	type nodeAcc struct {
		kind       string
		u, k, c    []float64
		lastSample int
	}
	nodes := map[string]*nodeAcc{}
	var nodeOrder []string
	infraNames := map[string]bool{}
	for i, e := range execs {
		wall, setup, teardown = append(wall, e.Wall), append(setup, e.Setup), append(teardown, e.Teardown)
		// Sum durations as integers so a sum is exact, then convert.
		var su, sk, sc time.Duration
		for _, n := range e.Nodes {
			if n.Name == "" {
				return Workflow{}, fmt.Errorf("workflow %s execution %d: node with empty name", name, i)
			}
			acc := nodes[n.Name]
			if acc == nil {
				acc = &nodeAcc{kind: n.Kind, lastSample: -1}
				nodes[n.Name] = acc
				nodeOrder = append(nodeOrder, n.Name)
			}
			if acc.lastSample == i {
				return Workflow{}, fmt.Errorf("workflow %s execution %d: node %s appears twice", name, i, n.Name)
			}
			acc.lastSample = i
			acc.u = append(acc.u, n.User.Seconds())
			acc.k = append(acc.k, n.Kubernetes.Seconds())
			acc.c = append(acc.c, n.Controller.Seconds())
			su += n.User
			sk += n.Kubernetes
			sc += n.Controller
		}
		user, kube, ctrl = append(user, su.Seconds()), append(kube, sk.Seconds()), append(ctrl, sc.Seconds())
		for m := range e.Infra {
			infraNames[m] = true
		}
		for m := range e.Counts {
			if _, both := e.Infra[m]; both {
				return Workflow{}, fmt.Errorf("workflow %s execution %d: infrastructure metric %s has latencies and a bare count", name, i, m)
			}
			infraNames[m] = true
		}
	}
	w.Wall, w.Setup, w.Teardown = DurationStats(wall), DurationStats(setup), DurationStats(teardown)
	var err error
	if w.Overhead, err = NewBreakdown(user, kube, ctrl); err != nil {
		return Workflow{}, fmt.Errorf("workflow %s: %w", name, err)
	}
	for _, n := range nodeOrder {
		acc := nodes[n]
		b, err := NewBreakdown(acc.u, acc.k, acc.c)
		if err != nil {
			return Workflow{}, fmt.Errorf("workflow %s node %s: %w", name, n, err)
		}
		w.Nodes = append(w.Nodes, Node{Name: n, Kind: acc.kind, Breakdown: b})
	}
	if err := w.addPaths(execs, wall); err != nil {
		return Workflow{}, fmt.Errorf("workflow %s: %w", name, err)
	}
	w.addEvents(execs)
	for _, m := range orderInfra(infraNames) {
		if counted(execs, m) {
			counts := make([]float64, len(execs))
			for i, e := range execs {
				counts[i] = float64(e.Counts[m])
			}
			w.Infrastructure = append(w.Infrastructure, NewInfraCount(m, counts))
			continue
		}
		per := make([][]float64, len(execs))
		for i, e := range execs {
			for _, d := range e.Infra[m] {
				per[i] = append(per[i], d.Seconds())
			}
		}
		w.Infrastructure = append(w.Infrastructure, NewInfraMetric(m, per))
	}
	return w, nil
}

// addPaths adds the critical path, the attempt counts and the clamps,
// when every execution has them.
func (w *Workflow) addPaths(execs []ExecutionSample, wall []time.Duration) error {
	var paths [][]PathSegment
	var attempts, steps, clampN, clampS []float64
	for _, e := range execs {
		if e.Path == nil {
			return nil
		}
		paths = append(paths, e.Path)
		attempts = append(attempts, float64(e.Attempts))
		steps = append(steps, float64(pathSteps(e.Path)))
		var total time.Duration
		for _, c := range e.Clamps {
			total += c
		}
		clampN = append(clampN, float64(len(e.Clamps)))
		clampS = append(clampS, total.Seconds())
	}
	if len(paths) == 0 {
		return nil
	}
	cp, err := newCriticalPath(paths, wall)
	if err != nil {
		return err
	}
	w.CriticalPath = cp
	a := NewStats(UnitCount, attempts)
	w.Attempts = &a
	ps := NewStats(UnitCount, steps)
	w.PathSteps = &ps
	w.Clamped = &Clamped{Count: NewStats(UnitCount, clampN), Seconds: NewStats(UnitSeconds, clampS)}
	return nil
}

// pathSteps counts the serial steps of a critical path: the distinct
// attempts (of task nodes, map items, children's nodes) whose pod time
// (kubernetes or user) lies on it. Cache hits run no pod and are no step.
func pathSteps(path []PathSegment) int {
	type step struct {
		child, node   string
		attempt, item int
	}
	seen := map[step]bool{}
	for _, s := range path {
		if s.Part == PathUser || s.Part == PathKubernetes {
			seen[step{s.Child, s.Node, s.Attempt, s.Item}] = true
		}
	}
	return len(seen)
}

// EventTolerance is the admin-service cross-check's bound (the
// aggregate package applies it).
const EventTolerance = 2 * time.Millisecond

// addEvents adds the admin-service cross-check when every execution has
// one.
func (w *Workflow) addEvents(execs []ExecutionSample) {
	var persisted, compared []float64
	ec := &EventCheck{Tolerance: EventTolerance.Seconds()}
	var worst time.Duration
	for _, e := range execs {
		if e.Events == nil {
			return
		}
		persisted = append(persisted, float64(e.Events.Persisted))
		compared = append(compared, float64(e.Events.Compared))
		if e.Events.MaxDisagreement > worst || ec.Node == "" {
			worst, ec.Node = e.Events.MaxDisagreement, e.Events.Node
		}
	}
	if len(execs) == 0 {
		return
	}
	ec.Persisted, ec.Compared, ec.MaxDisagreement = NewStats(UnitCount, persisted), NewStats(UnitCount, compared), worst.Seconds()
	w.Events = ec
}

// counted says whether the executions count metric m without latencies.
func counted(execs []ExecutionSample, m string) bool {
	for _, e := range execs {
		if _, ok := e.Counts[m]; ok {
			return true
		}
	}
	return false
}

// orderInfra puts the standard metrics first, in table order, then any
// others sorted by name.
func orderInfra(names map[string]bool) []string {
	var out, rest []string
	for _, m := range InfraMetrics {
		if names[m] {
			out = append(out, m)
		}
	}
	for m := range names {
		if !slices.Contains(InfraMetrics, m) {
			rest = append(rest, m)
		}
	}
	slices.Sort(rest)
	return append(out, rest...)
}

// NewConfig records a named config's effective values with their hash.
func NewConfig(name string, values map[string]any) (Config, error) {
	h, err := HashValues(values)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", name, err)
	}
	return Config{Name: name, Values: values, Hash: h}, nil
}

// HashValues is the config hash: sha256 of the canonical JSON (sorted
// keys) of values, prefixed "sha256:". It survives a YAML round trip, so
// Load can verify it.
func HashValues(values map[string]any) (string, error) {
	if values == nil {
		values = map[string]any{}
	}
	b, err := json.Marshal(values)
	if err != nil {
		return "", fmt.Errorf("hashing config values: %w", err)
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// CurrentHost describes the machine this process runs on.
func CurrentHost() Host {
	return Host{OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
}

// NewReason makes a validity reason with its kind's default severity
// (failures, timeouts, dropped spans, count mismatches and clock skew
// invalidate a run; too few or noisy samples are warnings). kind is one of
// the Reason* constants: Validate rejects others. workflow is empty for
// run-wide findings.
func NewReason(kind, workflow, format string, args ...any) Reason {
	sev, ok := defaultSeverity[kind]
	if !ok {
		sev = SeverityInvalid
	}
	return Reason{Kind: kind, Severity: sev, Workflow: workflow, Message: fmt.Sprintf(format, args...)}
}

// NewValidity is the verdict over reasons: valid unless one of them has
// severity invalid.
func NewValidity(reasons ...Reason) Validity {
	v := Validity{Valid: true, Reasons: reasons}
	for _, r := range reasons {
		if r.Severity != SeverityWarning {
			v.Valid = false
		}
	}
	return v
}

// SampleCheck sets the thresholds of CheckSamples.
type SampleCheck struct {
	// MinRepetitions below which a workflow has too few samples; 5 is
	// benchstat's and hyperfine's minimum for a meaningful comparison.
	MinRepetitions int
	// MaxNoise is the largest acceptable wall-time coefficient of
	// variation (stddev/mean).
	MaxNoise float64
	// MaxClamped is the largest share of a workflow's kubernetes time the
	// clamped instants may amount to.
	MaxClamped float64
}

// DefaultSampleCheck are the thresholds benchctl uses.
var DefaultSampleCheck = SampleCheck{MinRepetitions: 5, MaxNoise: 0.10, MaxClamped: 0.10}

// CheckSamples finds the validity reasons that the report's own samples
// show: too few repetitions and noisy wall times. Aggregate adds them to
// the reasons it found (failures, dropped spans, ...) before NewValidity.
func CheckSamples(r *Report, c SampleCheck) []Reason {
	var out []Reason
	for _, w := range r.Workflows {
		if w.Executions < c.MinRepetitions {
			out = append(out, NewReason(ReasonTooFewRepetitions, w.Name,
				"%d measured executions, fewer than %d: differences are unlikely to be significant", w.Executions, c.MinRepetitions))
		}
		if w.Clamped != nil && w.Clamped.Seconds.Median > c.MaxClamped*w.Overhead.Kubernetes.Median && w.Clamped.Seconds.Median > 0 {
			out = append(out, NewReason(ReasonClamped, w.Name,
				"%s of instants were moved to keep order (median of %s per execution), more than %.0f%% of the kubernetes time %s: the kubernetes/controller split is uncertain",
				FormatValue(UnitSeconds, w.Clamped.Seconds.Median), FormatValue(UnitCount, w.Clamped.Count.Median), 100*c.MaxClamped, FormatValue(UnitSeconds, w.Overhead.Kubernetes.Median)))
		}
		if w.Wall.N >= 2 && w.Wall.Mean > 0 {
			if cv := w.Wall.Stddev / w.Wall.Mean; cv > c.MaxNoise {
				out = append(out, NewReason(ReasonNoisySamples, w.Name,
					"wall time varies by %.1f%% (stddev/mean), more than %.0f%%", 100*cv, 100*c.MaxNoise))
			}
		}
	}
	return out
}

// Summary returns the validity verdict as one line.
func (v Validity) Summary() string {
	if len(v.Reasons) == 0 {
		return "valid"
	}
	var parts []string
	for _, r := range v.Reasons {
		p := r.Kind
		if r.Workflow != "" {
			p += " (" + r.Workflow + ")"
		}
		parts = append(parts, p)
	}
	head := "valid, with warnings"
	if !v.Valid {
		head = "INVALID"
	}
	return head + ": " + strings.Join(parts, ", ")
}
