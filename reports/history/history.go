package history

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aclements/go-moremath/stats"

	"github.com/benchctl/benchctl/reports"
)

// Kind is a history document's kind (apiVersion reports.APIVersion).
const Kind = "History"

// Entry is one report of the series and where it came from.
type Entry struct {
	Source string
	Report *reports.Report
}

// BuildOptions tune Build.
type BuildOptions struct {
	Options
	// Force builds a history of reports that are not comparable,
	// recording why.
	Force bool
}

// History is the change-point analysis of a series of reports.
type History struct {
	APIVersion string `yaml:"apiVersion" json:"apiVersion"`
	Kind       string `yaml:"kind" json:"kind"`
	// Method names the change-point method and its settings.
	Method  Method      `yaml:"method" json:"method"`
	Reports []ReportRef `yaml:"reports" json:"reports"`
	// Incomparable lists why some reports should not be in one series,
	// when --force kept them anyway.
	Incomparable []string `yaml:"incomparable,omitempty" json:"incomparable,omitempty"`
	Warnings     []string `yaml:"warnings,omitempty" json:"warnings,omitempty"`
	Series       []Series `yaml:"series" json:"series"`
}

// Method is how change points were found.
type Method struct {
	Name         string  `yaml:"name" json:"name"`
	Reference    string  `yaml:"reference" json:"reference"`
	Alpha        float64 `yaml:"alpha" json:"alpha"`
	Permutations int     `yaml:"permutations" json:"permutations"`
	MinSize      int     `yaml:"minSize" json:"minSize"`
	Seed         uint64  `yaml:"seed" json:"seed"`
}

// ReportRef is one report of the series, in series order.
type ReportRef struct {
	Index  int       `yaml:"index" json:"index"`
	Source string    `yaml:"source" json:"source"`
	Config string    `yaml:"config" json:"config"`
	Commit string    `yaml:"commit,omitempty" json:"commit,omitempty"`
	Start  time.Time `yaml:"start" json:"start"`
	Valid  bool      `yaml:"valid" json:"valid"`
}

// Series is one metric's medians over the reports, and where they shifted.
type Series struct {
	Workflow string `yaml:"workflow" json:"workflow"`
	Metric   string `yaml:"metric" json:"metric"`
	Unit     string `yaml:"unit" json:"unit"`
	// Points are the reports that have the metric: their index in
	// Reports and their median.
	Points  []Point  `yaml:"points,flow" json:"points"`
	Changes []Change `yaml:"changes,omitempty" json:"changes,omitempty"`
}

// Point is one report's median of a metric.
type Point struct {
	Report int     `yaml:"report" json:"report"`
	Median float64 `yaml:"median" json:"median"`
}

// Change is a change point: from report Report on, the metric's level
// moved from Before to After (the medians of the report medians of the
// segments on either side).
type Change struct {
	Report int     `yaml:"report" json:"report"`
	Commit string  `yaml:"commit,omitempty" json:"commit,omitempty"`
	Source string  `yaml:"source" json:"source"`
	Before float64 `yaml:"before" json:"before"`
	After  float64 `yaml:"after" json:"after"`
	// Shift is After − Before; ShiftPercent relative to Before (absent
	// when Before is 0).
	Shift        float64  `yaml:"shift" json:"shift"`
	ShiftPercent *float64 `yaml:"shiftPercent,omitempty" json:"shiftPercent,omitempty"`
	// P is the permutation test's p-value, Statistic the energy statistic.
	P         float64 `yaml:"p" json:"p"`
	Statistic float64 `yaml:"statistic" json:"statistic"`
}

// IncomparableError says why reports cannot form one series.
type IncomparableError struct{ Reasons []string }

func (e *IncomparableError) Error() string {
	return "reports are not comparable: " + strings.Join(e.Reasons, "; ") + " (--force builds the history anyway)"
}

// Build finds the change points of every metric over the entries, in
// the order given. Every report is checked against the first with
// reports.Comparability.
func Build(entries []Entry, o BuildOptions) (*History, error) {
	if len(entries) == 0 {
		return nil, errors.New("no reports")
	}
	eo := o.Options.withDefaults()
	if !(eo.Alpha > 0 && eo.Alpha < 1) {
		return nil, fmt.Errorf("alpha %v out of range: want 0 < alpha < 1", eo.Alpha)
	}
	h := &History{APIVersion: reports.APIVersion, Kind: Kind, Method: Method{
		Name:      "e-divisive means",
		Reference: "Matteson & James (2014), JASA 109(505):334-345, doi:10.1080/01621459.2013.849605",
		Alpha:     eo.Alpha, Permutations: eo.Permutations, MinSize: eo.MinSize, Seed: eo.Seed,
	}}
	first := entries[0]
	for i, e := range entries {
		r := e.Report
		h.Reports = append(h.Reports, ReportRef{Index: i, Source: e.Source, Config: r.Environment.Config.Name,
			Commit: r.Environment.Controller.Commit, Start: r.Run.Start, Valid: r.Validity.Valid})
		if !r.Validity.Valid {
			h.Warnings = append(h.Warnings, fmt.Sprintf("%s is an INVALID run (%s): its numbers are not to be trusted", e.Source, r.Validity.Summary()))
		}
		if i == 0 {
			continue
		}
		for _, why := range reports.Comparability(first.Report, r) {
			h.Incomparable = append(h.Incomparable, fmt.Sprintf("%s against %s: %s", e.Source, first.Source, why))
		}
	}
	if len(h.Incomparable) > 0 && !o.Force {
		return nil, &IncomparableError{Reasons: h.Incomparable}
	}
	if n := len(entries); n < 2*eo.MinSize {
		h.Warnings = append(h.Warnings, fmt.Sprintf("%d reports: a change point needs at least %d on each side, so none can be found", n, eo.MinSize))
	}
	type key struct{ workflow, metric string }
	index := map[key]int{}
	for i, e := range entries {
		for _, m := range reports.Metrics(e.Report) {
			if m.Stats.N == 0 {
				continue
			}
			k := key{m.Workflow, m.Metric}
			j, ok := index[k]
			if !ok {
				j = len(h.Series)
				index[k] = j
				h.Series = append(h.Series, Series{Workflow: m.Workflow, Metric: m.Metric, Unit: m.Stats.Unit})
			}
			h.Series[j].Points = append(h.Series[j].Points, Point{Report: i, Median: m.Stats.Median})
		}
		// The cluster's calibrated floor is a series too: a change point in
		// it says the cluster changed, not the controller.
		if f := e.Report.Environment.Floor; f != nil && f.PerNode > 0 {
			k := key{FloorWorkflow, FloorMetric}
			j, ok := index[k]
			if !ok {
				j = len(h.Series)
				index[k] = j
				h.Series = append(h.Series, Series{Workflow: FloorWorkflow, Metric: FloorMetric, Unit: reports.UnitSeconds})
			}
			h.Series[j].Points = append(h.Series[j].Points, Point{Report: i, Median: f.PerNode})
		}
	}
	for si := range h.Series {
		s := &h.Series[si]
		xs := make([]float64, len(s.Points))
		for i, p := range s.Points {
			xs[i] = p.Median
		}
		cps := EDivisive(xs, eo)
		bounds := []int{0}
		for _, c := range cps {
			bounds = append(bounds, c.Index)
		}
		bounds = append(bounds, len(xs))
		for i, c := range cps {
			before := median(xs[bounds[i]:c.Index])
			after := median(xs[c.Index:bounds[i+2]])
			rep := s.Points[c.Index].Report
			ch := Change{Report: rep, Commit: entries[rep].Report.Environment.Controller.Commit, Source: entries[rep].Source,
				Before: before, After: after, Shift: after - before, P: c.P, Statistic: c.Statistic}
			if before != 0 {
				pct := 100 * (after - before) / before
				ch.ShiftPercent = &pct
			}
			s.Changes = append(s.Changes, ch)
		}
	}
	if j, ok := index[key{FloorWorkflow, FloorMetric}]; ok {
		for _, c := range h.Series[j].Changes {
			h.Warnings = append(h.Warnings, fmt.Sprintf("the cluster's calibrated floor shifted at %s (%s/node to %s/node): change points there may be the cluster's, not the controller's",
				c.Source, reports.FormatValue(reports.UnitSeconds, c.Before), reports.FormatValue(reports.UnitSeconds, c.After)))
		}
	}
	return h, nil
}

// The series of the calibrated floor per serial node.
const (
	FloorWorkflow = "(cluster)"
	FloorMetric   = "floor.perNode"
)

func median(xs []float64) float64 {
	return stats.Sample{Xs: xs}.Quantile(0.5)
}

// SortEntries orders entries by run start time, then by source.
func SortEntries(entries []Entry) {
	slices.SortStableFunc(entries, func(a, b Entry) int {
		return cmp.Or(a.Report.Run.Start.Compare(b.Report.Run.Start), cmp.Compare(a.Source, b.Source))
	})
}

// Changed is the series with at least one change point.
func (h *History) Changed() []Series {
	var out []Series
	for _, s := range h.Series {
		if len(s.Changes) > 0 {
			out = append(out, s)
		}
	}
	return out
}
