package reports

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"

	"golang.org/x/perf/benchmath"
)

// Workflow-level and node-level metric names of a diff. Infrastructure
// rows are named "<infra metric>.<count|p50|p90|p95|max>", e.g.
// crd.updates.p95.
var (
	WorkflowMetrics = []string{"wall", "setup", "teardown", "user", "kubernetes", "controller"}
	NodeMetrics     = []string{"node.total", "node.user", "node.kubernetes", "node.controller"}
	InfraStats      = []string{"count", "p50", "p90", "p95", "max"}
)

// CriticalMetric is the diff metric of a critical-path part:
// "critical.user", "critical.controller.observe".
func CriticalMetric(part string) string { return "critical." + part }

// DiffOptions tune Compare.
type DiffOptions struct {
	// Alpha is the significance level of the Mann-Whitney U test.
	Alpha float64
	// TopNodes is how many nodes per workflow to compare: the union of
	// each report's TopNodes with the most controller + kubernetes
	// overhead. 0 compares none.
	TopNodes int
	// Correction adjusts the p-values for the number of rows compared:
	// CorrectionNone (benchstat's default), CorrectionHolm or
	// CorrectionBH.
	Correction string
	// Force compares reports that are not comparable, recording why.
	Force bool
	// FileA and FileB name the reports in output.
	FileA, FileB string
}

// Multiple-comparison corrections of a diff's p-values.
const (
	// CorrectionNone tests every row at alpha on its own: about alpha of
	// the rows are significant by chance when nothing changed.
	CorrectionNone = "none"
	// CorrectionHolm is Holm's step-down method (Holm 1979): the chance
	// that any row is significant by chance is at most alpha.
	CorrectionHolm = "holm"
	// CorrectionBH is the Benjamini–Hochberg step-up method (1995): the
	// expected share of chance findings among the significant rows is at
	// most alpha.
	CorrectionBH = "bh"
)

// Corrections are the valid DiffOptions.Correction values.
var Corrections = []string{CorrectionNone, CorrectionHolm, CorrectionBH}

// DefaultDiffOptions are benchstat's alpha, no correction and the five
// heaviest nodes.
var DefaultDiffOptions = DiffOptions{Alpha: 0.05, TopNodes: 5, Correction: CorrectionNone}

// Diff is the comparison of report B against baseline A.
type Diff struct {
	APIVersion string  `yaml:"apiVersion"`
	Kind       string  `yaml:"kind"`
	A          Side    `yaml:"a"`
	B          Side    `yaml:"b"`
	Alpha      float64 `yaml:"alpha"`
	// Correction is the multiple-comparison correction of the p-values
	// (absent: none).
	Correction string `yaml:"correction,omitempty"`
	// Incomparable lists why the reports should not be compared, when
	// --force compared them anyway.
	Incomparable []string `yaml:"incomparable,omitempty"`
	// Warnings are things to know before trusting the rows.
	Warnings []string    `yaml:"warnings,omitempty"`
	Rows     []Row       `yaml:"rows"`
	Geomeans []Geomean   `yaml:"geomeans,omitempty"`
	Gate     *GateResult `yaml:"gate,omitempty"`
}

// Side identifies one of the compared reports.
type Side struct {
	File       string `yaml:"file,omitempty"`
	Config     string `yaml:"config"`
	ConfigHash string `yaml:"configHash"`
	Controller string `yaml:"controller"`
	Valid      bool   `yaml:"valid"`
	Validity   string `yaml:"validity"`
}

// Row compares one metric. A and B are medians; Delta is B - A; Change is
// the relative change in percent, absent when A is 0 and B is not.
type Row struct {
	Workflow string   `yaml:"workflow"`
	Node     string   `yaml:"node,omitempty"`
	Metric   string   `yaml:"metric"`
	Unit     string   `yaml:"unit"`
	A        float64  `yaml:"a"`
	B        float64  `yaml:"b"`
	Delta    float64  `yaml:"delta"`
	Change   *float64 `yaml:"change,omitempty"`
	// P is the Mann-Whitney U p-value over the raw samples; NA and NB
	// are the sample counts.
	P  float64 `yaml:"p"`
	NA int     `yaml:"na"`
	NB int     `yaml:"nb"`
	// Significant is P <= alpha (benchstat's rule), or PAdjusted <= alpha
	// with a correction.
	Significant bool `yaml:"significant"`
	// MinP is the smallest p-value samples of these sizes can give; when
	// it is above alpha, TooFew is set and no difference could ever be
	// significant.
	MinP   float64 `yaml:"minP"`
	TooFew bool    `yaml:"tooFew,omitempty"`
	// Verdict is "~" (not significant), "better" or "worse" (every
	// metric is lower-is-better), or "changed" (significant, equal
	// medians).
	Verdict string `yaml:"verdict"`
	// NoiseA and NoiseB are the relative half-widths of the medians'
	// confidence intervals, when finite.
	NoiseA *float64 `yaml:"noiseA,omitempty"`
	NoiseB *float64 `yaml:"noiseB,omitempty"`
	// Shift is the Hodges–Lehmann estimate of B − A (the median of every
	// pairwise difference of the raw samples), in the row's unit, and
	// ShiftInterval its distribution-free confidence interval at
	// 1 − alpha (Mann–Whitney based); its confidence is the level actually
	// reached, lower than asked when the samples are too few. Both are
	// absent when either side has no sample.
	Shift         *float64  `yaml:"shift,omitempty"`
	ShiftInterval *Interval `yaml:"shiftInterval,omitempty,flow"`
	// ShiftPercent and ShiftPercentInterval are Shift and ShiftInterval
	// in percent of A's median (the same confidence); absent when A's
	// median is 0.
	ShiftPercent         *float64  `yaml:"shiftPercent,omitempty"`
	ShiftPercentInterval *Interval `yaml:"shiftPercentInterval,omitempty,flow"`
	// PAdjusted is P adjusted for multiple comparisons over every row of
	// the diff (Diff.Correction); Significant then compares it with alpha.
	PAdjusted *float64 `yaml:"pAdjusted,omitempty"`
}

// Name is the row's label: workflow, workflow/node.
func (r Row) Name() string {
	if r.Node != "" {
		return r.Workflow + "/" + r.Node
	}
	return r.Workflow
}

// Geomean is the geometric mean of one workflow-level metric over the
// workflows whose medians are positive in both reports.
type Geomean struct {
	Metric    string  `yaml:"metric"`
	Unit      string  `yaml:"unit"`
	A         float64 `yaml:"a"`
	B         float64 `yaml:"b"`
	Change    float64 `yaml:"change"`
	Workflows int     `yaml:"workflows"`
}

// IncomparableError says why two reports must not be compared.
type IncomparableError struct {
	Reasons []string
}

func (e *IncomparableError) Error() string {
	return "reports are not comparable: " + strings.Join(e.Reasons, "; ") + " (--force compares them anyway)"
}

// Comparability lists why a and b must not be compared: a different
// schema, provider, portfolio, cluster node count or Kubernetes version.
// Nil means they are comparable.
func Comparability(a, b *Report) []string {
	var out []string
	if a.APIVersion != b.APIVersion || a.Kind != b.Kind {
		out = append(out, fmt.Sprintf("schema differs (%s %s vs %s %s)", a.APIVersion, a.Kind, b.APIVersion, b.Kind))
	}
	if ea, eb := a.Environment.EngineName(), b.Environment.EngineName(); ea != eb {
		out = append(out, fmt.Sprintf("engine differs (%s vs %s): their numbers measure different things", ea, eb))
	}
	if pa, pb := a.Environment.Provider.Name, b.Environment.Provider.Name; pa != pb {
		out = append(out, fmt.Sprintf("provider differs (%s vs %s)", pa, pb))
	}
	if ha, hb := a.Environment.Portfolio.Hash, b.Environment.Portfolio.Hash; ha != hb {
		out = append(out, fmt.Sprintf("portfolio hash differs (%s vs %s): they did not run the same workflows", shortHash(ha), shortHash(hb)))
	}
	if na, nb := a.Environment.Provider.Nodes, b.Environment.Provider.Nodes; na != nb {
		out = append(out, fmt.Sprintf("cluster node count differs (%d vs %d)", na, nb))
	}
	if ka, kb := a.Environment.Provider.KubernetesVersion, b.Environment.Provider.KubernetesVersion; ka != kb {
		out = append(out, fmt.Sprintf("Kubernetes version differs (%s vs %s)", orDash(ka), orDash(kb)))
	}
	return out
}

// Compare diffs b against baseline a. It returns an *IncomparableError
// when they are not comparable and o.Force is false.
func Compare(a, b *Report, o DiffOptions) (*Diff, error) {
	if !(o.Alpha > 0 && o.Alpha < 1) {
		return nil, fmt.Errorf("alpha %v out of range: want 0 < alpha < 1", o.Alpha)
	}
	if o.Correction != "" && !slices.Contains(Corrections, o.Correction) {
		return nil, fmt.Errorf("correction %q: want one of %s", o.Correction, strings.Join(Corrections, ", "))
	}
	d := &Diff{APIVersion: APIVersion, Kind: KindDiff, A: side(a, o.FileA), B: side(b, o.FileB), Alpha: o.Alpha}
	if o.Correction != CorrectionNone {
		d.Correction = o.Correction
	}
	if reasons := Comparability(a, b); len(reasons) > 0 {
		if !o.Force {
			return nil, &IncomparableError{Reasons: reasons}
		}
		d.Incomparable = reasons
	}
	d.Warnings = append(d.Warnings, environmentNotes(a, b)...)
	for _, s := range []struct {
		name string
		r    *Report
	}{{"A", a}, {"B", b}} {
		if !s.r.Validity.Valid {
			d.Warnings = append(d.Warnings, fmt.Sprintf("report %s is an INVALID run (%s): its numbers are not to be trusted", s.name, s.r.Validity.Summary()))
		}
	}
	bw := map[string]*Workflow{}
	for i := range b.Workflows {
		bw[b.Workflows[i].Name] = &b.Workflows[i]
	}
	type pair struct{ a, b *Workflow }
	var pairs []pair
	for i := range a.Workflows {
		wa := &a.Workflows[i]
		if wb := bw[wa.Name]; wb != nil {
			pairs = append(pairs, pair{wa, wb})
		} else {
			d.Warnings = append(d.Warnings, fmt.Sprintf("workflow %s is only in A", wa.Name))
		}
	}
	for _, wb := range b.Workflows {
		if !slices.ContainsFunc(a.Workflows, func(w Workflow) bool { return w.Name == wb.Name }) {
			d.Warnings = append(d.Warnings, fmt.Sprintf("workflow %s is only in B", wb.Name))
		}
	}
	c := comparer{alpha: o.Alpha}
	for _, m := range WorkflowMetrics {
		for _, p := range pairs {
			d.Rows = append(d.Rows, c.row(p.a.Name, "", m, workflowStat(p.a, m), workflowStat(p.b, m)))
		}
	}
	for _, p := range pairs {
		if p.a.CriticalPath == nil || p.b.CriticalPath == nil {
			continue
		}
		for _, name := range PathPartNames() {
			pa, pb := p.a.CriticalPath.Part(name), p.b.CriticalPath.Part(name)
			if pa.Seconds.Max == 0 && pb.Seconds.Max == 0 {
				continue // never on either path: nothing to compare
			}
			d.Rows = append(d.Rows, c.row(p.a.Name, "", CriticalMetric(name), pa.Seconds, pb.Seconds))
		}
	}
	for _, p := range pairs {
		for _, name := range topNodes(p.a, p.b, o.TopNodes) {
			na, nb := findNode(p.a, name), findNode(p.b, name)
			for _, m := range NodeMetrics {
				d.Rows = append(d.Rows, c.row(p.a.Name, name, m, nodeStat(na, m), nodeStat(nb, m)))
			}
		}
	}
	for _, p := range pairs {
		for _, ma := range p.a.Infrastructure {
			mb := findInfra(p.b, ma.Name)
			if mb == nil {
				d.Warnings = append(d.Warnings, fmt.Sprintf("workflow %s: infrastructure metric %s is only in A", p.a.Name, ma.Name))
				continue
			}
			for _, st := range InfraStats {
				sa, sb := infraStat(&ma, st), infraStat(mb, st)
				if sa.N == 0 && sb.N == 0 {
					continue // no operation in either: nothing to compare
				}
				d.Rows = append(d.Rows, c.row(p.a.Name, "", ma.Name+"."+st, sa, sb))
			}
		}
		for _, mb := range p.b.Infrastructure {
			if findInfra(p.a, mb.Name) == nil {
				d.Warnings = append(d.Warnings, fmt.Sprintf("workflow %s: infrastructure metric %s is only in B", p.a.Name, mb.Name))
			}
		}
	}
	d.correct()
	d.Geomeans = geomeans(d.Rows)
	d.Warnings = append(d.Warnings, c.warnings()...)
	return d, nil
}

// correct adjusts every tested row's p-value for the number of tested
// rows (Diff.Correction) and decides significance on the adjusted value.
func (d *Diff) correct() {
	if d.Correction == "" {
		return
	}
	var idx []int // rows with a test: samples on both sides
	for i, r := range d.Rows {
		if r.NA > 0 && r.NB > 0 {
			idx = append(idx, i)
		}
	}
	ps := make([]float64, len(idx))
	for j, i := range idx {
		ps[j] = d.Rows[i].P
	}
	adj := AdjustP(ps, d.Correction)
	for j, i := range idx {
		r := &d.Rows[i]
		p := adj[j]
		r.PAdjusted = &p
		r.Significant = p <= d.Alpha
		r.Verdict = verdict(r.Significant, r.Delta)
	}
}

// AdjustP returns the p-values adjusted by method (CorrectionHolm or
// CorrectionBH; anything else returns a copy), in the input's order,
// each at most 1.
func AdjustP(ps []float64, method string) []float64 {
	n := len(ps)
	out := slices.Clone(ps)
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(x, y int) int { return cmp.Compare(ps[x], ps[y]) })
	switch method {
	case CorrectionHolm:
		// p(i) * (n - i + 1), made monotone upwards from the smallest.
		running := 0.0
		for rank, i := range order {
			running = math.Max(running, math.Min(1, float64(n-rank)*ps[i]))
			out[i] = running
		}
	case CorrectionBH:
		// p(i) * n / i, made monotone downwards from the largest.
		running := 1.0
		for rank := n - 1; rank >= 0; rank-- {
			i := order[rank]
			running = math.Min(running, math.Min(1, float64(n)*ps[i]/float64(rank+1)))
			out[i] = running
		}
	}
	return out
}

// verdict is "~" (not significant), "worse" or "better" (every metric is
// lower-is-better), or "changed" (significant, equal medians).
func verdict(significant bool, delta float64) string {
	switch {
	case !significant:
		return "~"
	case delta > 0:
		return "worse"
	case delta < 0:
		return "better"
	}
	return "changed"
}

// MetricStats is one per-workflow metric of a report, named as a diff
// row names it.
type MetricStats struct {
	Workflow, Metric string
	Stats            Stats
}

// Metrics lists a report's per-workflow metrics in diff order: the
// workflow metrics, the critical-path parts on its path, and the
// infrastructure statistics of the operations it did (not the nodes).
func Metrics(r *Report) []MetricStats {
	var out []MetricStats
	for _, m := range WorkflowMetrics {
		for i := range r.Workflows {
			out = append(out, MetricStats{r.Workflows[i].Name, m, workflowStat(&r.Workflows[i], m)})
		}
	}
	for _, w := range r.Workflows {
		if w.CriticalPath == nil {
			continue
		}
		for _, name := range PathPartNames() {
			if p := w.CriticalPath.Part(name); p.Seconds.Max != 0 {
				out = append(out, MetricStats{w.Name, CriticalMetric(name), p.Seconds})
			}
		}
	}
	for _, w := range r.Workflows {
		for _, im := range w.Infrastructure {
			for _, st := range InfraStats {
				if s := infraStat(&im, st); s.N > 0 {
					out = append(out, MetricStats{w.Name, im.Name + "." + st, s})
				}
			}
		}
	}
	return out
}

func side(r *Report, file string) Side {
	e := r.Environment
	return Side{
		File: file, Config: e.Config.Name, ConfigHash: e.Config.Hash,
		Controller: buildString(e.Controller.Version, e.Controller.Commit),
		Valid:      r.Validity.Valid, Validity: r.Validity.Summary(),
	}
}

// environmentNotes lists differences that do not forbid a comparison but
// can explain one.
func environmentNotes(a, b *Report) []string {
	ea, eb := a.Environment, b.Environment
	var out []string
	note := func(what, x, y string) {
		if x != y {
			out = append(out, fmt.Sprintf("%s differs: %s vs %s", what, orDash(x), orDash(y)))
		}
	}
	note("portfolio tier", ea.Portfolio.Tier, eb.Portfolio.Tier)
	note("host", hostString(ea.Host), hostString(eb.Host))
	if n := floorNote(ea.Floor, eb.Floor); n != "" {
		out = append(out, n)
	}
	if a.Run.Interleaving.Mode != InterleaveAlternating || b.Run.Interleaving.Mode != InterleaveAlternating {
		if !a.Run.Start.IsZero() && !b.Run.Start.IsZero() {
			out = append(out, "the runs were not interleaved: drift between them (thermal, other load) shows up as a difference")
		}
	}
	return out
}

func hostString(h Host) string {
	return fmt.Sprintf("%s/%s %d CPUs %s", h.OS, h.Arch, h.CPUs, h.GoVersion)
}

func workflowStat(w *Workflow, m string) Stats {
	switch m {
	case "wall":
		return w.Wall
	case "setup":
		return w.Setup
	case "teardown":
		return w.Teardown
	case "user":
		return w.Overhead.User
	case "kubernetes":
		return w.Overhead.Kubernetes
	case "controller":
		return w.Overhead.Controller
	}
	panic("unknown workflow metric " + m)
}

func nodeStat(n *Node, m string) Stats {
	switch m {
	case "node.total":
		return n.Total
	case "node.user":
		return n.User
	case "node.kubernetes":
		return n.Kubernetes
	case "node.controller":
		return n.Controller
	}
	panic("unknown node metric " + m)
}

func infraStat(m *InfraMetric, st string) Stats {
	switch st {
	case "count":
		return m.Count
	case "p50":
		return m.P50
	case "p90":
		return m.P90
	case "p95":
		return m.P95
	case "max":
		return m.Max
	}
	panic("unknown infrastructure statistic " + st)
}

func findNode(w *Workflow, name string) *Node {
	for i := range w.Nodes {
		if w.Nodes[i].Name == name {
			return &w.Nodes[i]
		}
	}
	return nil
}

func findInfra(w *Workflow, name string) *InfraMetric {
	for i := range w.Infrastructure {
		if w.Infrastructure[i].Name == name {
			return &w.Infrastructure[i]
		}
	}
	return nil
}

// topNodes is the union of each side's k nodes with the most controller +
// kubernetes overhead (median), among nodes both sides have, in A's order.
func topNodes(a, b *Workflow, k int) []string {
	if k <= 0 {
		return nil
	}
	pick := map[string]bool{}
	for _, w := range []*Workflow{a, b} {
		var cands []*Node
		for i := range w.Nodes {
			if findNode(a, w.Nodes[i].Name) != nil && findNode(b, w.Nodes[i].Name) != nil {
				cands = append(cands, &w.Nodes[i])
			}
		}
		slices.SortStableFunc(cands, func(x, y *Node) int {
			return cmp.Compare(y.Controller.Median+y.Kubernetes.Median, x.Controller.Median+x.Kubernetes.Median)
		})
		for _, n := range cands[:min(k, len(cands))] {
			pick[n.Name] = true
		}
	}
	var out []string
	for _, n := range a.Nodes {
		if pick[n.Name] {
			out = append(out, n.Name)
		}
	}
	return out
}

// comparer runs the tests and remembers which sample sizes were too small.
type comparer struct {
	alpha  float64
	tooFew map[[2]int]float64
	notes  []string
}

func (c *comparer) row(workflow, node, metric string, a, b Stats) Row {
	th := &benchmath.Thresholds{CompareAlpha: c.alpha}
	sa := benchmath.NewSample(slices.Clone(a.Samples), th)
	sb := benchmath.NewSample(slices.Clone(b.Samples), th)
	res := benchmath.AssumeNothing.Compare(sa, sb)
	r := Row{
		Workflow: workflow, Node: node, Metric: metric, Unit: a.Unit,
		A: a.Median, B: b.Median, Delta: b.Median - a.Median,
		P: res.P, NA: a.N, NB: b.N,
		MinP: MinPValue(a.N, b.N),
	}
	switch {
	case a.Median != 0:
		ch := 100 * (b.Median/a.Median - 1)
		r.Change = &ch
	case b.Median == 0:
		zero := 0.0
		r.Change = &zero
	}
	r.Significant = a.N > 0 && b.N > 0 && res.P <= c.alpha
	r.TooFew = r.MinP > c.alpha
	if r.TooFew {
		if c.tooFew == nil {
			c.tooFew = map[[2]int]float64{}
		}
		c.tooFew[[2]int{a.N, b.N}] = r.MinP
	}
	r.Verdict = verdict(r.Significant, r.Delta)
	if x, ok := a.NoiseRatio(); ok {
		r.NoiseA = &x
	}
	if x, ok := b.NoiseRatio(); ok {
		r.NoiseB = &x
	}
	if sh, ok := HodgesLehmann(a.Samples, b.Samples, 1-c.alpha); ok {
		est, iv := sh.Estimate, sh.Interval
		r.Shift, r.ShiftInterval = &est, &iv
		if a.Median != 0 {
			scale := 100 / math.Abs(a.Median)
			pct := est * scale
			r.ShiftPercent = &pct
			r.ShiftPercentInterval = &Interval{Lo: iv.Lo * scale, Hi: iv.Hi * scale, Confidence: iv.Confidence}
		}
	}
	return r
}

func (c *comparer) warnings() []string {
	var keys [][2]int
	for k := range c.tooFew {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(x, y [2]int) int { return cmp.Or(cmp.Compare(x[0], y[0]), cmp.Compare(x[1], y[1])) })
	var out []string
	for _, k := range keys {
		out = append(out, fmt.Sprintf("too few samples: with n=%d+%d the smallest possible p is %.3f > alpha %v, so no difference can be significant; run at least %d repetitions",
			k[0], k[1], c.tooFew[k], c.alpha, MinSamples(c.alpha)))
	}
	return out
}

var minPCache sync.Map // [2]int -> float64

// MinPValue is the smallest p-value the Mann-Whitney U test can give for
// samples of sizes n1 and n2: benchmath's own p for two completely
// separated samples. It is 1 when either is empty.
func MinPValue(n1, n2 int) float64 {
	if n1 == 0 || n2 == 0 {
		return 1
	}
	key := [2]int{n1, n2}
	if p, ok := minPCache.Load(key); ok {
		return p.(float64)
	}
	x1, x2 := make([]float64, n1), make([]float64, n2)
	for i := range x1 {
		x1[i] = float64(i)
	}
	for i := range x2 {
		x2[i] = float64(n1 + i)
	}
	th := &benchmath.Thresholds{CompareAlpha: 0.05}
	p := benchmath.AssumeNothing.Compare(benchmath.NewSample(x1, th), benchmath.NewSample(x2, th)).P
	minPCache.Store(key, p)
	return p
}

// MinSamples is the smallest n for which two samples of n can show a
// significant difference at alpha.
func MinSamples(alpha float64) int {
	n := 1
	for MinPValue(n, n) > alpha && n < 1000 {
		n++
	}
	return n
}

func geomeans(rows []Row) []Geomean {
	var out []Geomean
	for _, m := range WorkflowMetrics {
		var la, lb float64
		n := 0
		unit := ""
		for _, r := range rows {
			if r.Node != "" || r.Metric != m || r.A <= 0 || r.B <= 0 {
				continue
			}
			la += math.Log(r.A)
			lb += math.Log(r.B)
			unit = r.Unit
			n++
		}
		if n == 0 {
			continue
		}
		ga, gb := math.Exp(la/float64(n)), math.Exp(lb/float64(n))
		out = append(out, Geomean{Metric: m, Unit: unit, A: ga, B: gb, Change: 100 * (gb/ga - 1), Workflows: n})
	}
	return out
}
