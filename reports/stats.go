package reports

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/aclements/go-moremath/stats"
	"golang.org/x/perf/benchmath"
)

// Confidence is the level of every confidence interval in a report, the
// same default benchstat uses.
const Confidence = 0.95

// Stats summarises the samples of one metric. Samples are the truth; the
// other fields are derived from them by NewStats. Quantiles use the R8
// estimator (Hyndman & Fan), the one benchmath uses for the median.
type Stats struct {
	Unit   string  `yaml:"unit"`
	N      int     `yaml:"n"`
	Min    float64 `yaml:"min"`
	Median float64 `yaml:"median"`
	Mean   float64 `yaml:"mean"`
	P90    float64 `yaml:"p90"`
	Max    float64 `yaml:"max"`
	// Stddev is the sample standard deviation (n-1 denominator).
	Stddev float64 `yaml:"stddev"`
	// MedianCI is the distribution-free confidence interval of the
	// median (benchmath.AssumeNothing). It is absent when there are too
	// few samples for a finite interval (fewer than 6 at 95%).
	MedianCI *Interval `yaml:"medianCI,omitempty,flow"`
	// Samples has one value per measured execution, in execution order.
	Samples []float64 `yaml:"samples,flow"`
}

// Interval is a confidence interval.
type Interval struct {
	Lo float64 `yaml:"lo"`
	Hi float64 `yaml:"hi"`
	// Confidence is the interval's actual level, at least Confidence
	// (order statistics give discrete levels).
	Confidence float64 `yaml:"confidence"`
}

// NewStats computes the statistics of samples, which it copies (their
// order is kept). No samples give a Stats with N 0 and zero summary.
func NewStats(unit string, samples []float64) Stats {
	s := Stats{Unit: unit, N: len(samples), Samples: slices.Clone(samples)}
	if s.Samples == nil {
		s.Samples = []float64{}
	}
	if len(samples) == 0 {
		return s
	}
	sorted := slices.Clone(samples)
	slices.Sort(sorted)
	ss := stats.Sample{Xs: sorted, Sorted: true}
	s.Min, s.Max = sorted[0], sorted[len(sorted)-1]
	s.Mean = stats.Mean(samples)
	s.Stddev = stats.StdDev(samples)
	s.P90 = ss.Quantile(0.9)
	sum := benchmath.AssumeNothing.Summary(benchmath.NewSample(slices.Clone(sorted), &benchmath.DefaultThresholds), Confidence)
	s.Median = sum.Center
	if !math.IsInf(sum.Lo, 0) && !math.IsInf(sum.Hi, 0) {
		s.MedianCI = &Interval{Lo: sum.Lo, Hi: sum.Hi, Confidence: sum.Confidence}
	}
	return s
}

// DurationStats is NewStats in seconds for durations.
func DurationStats(ds []time.Duration) Stats {
	xs := make([]float64, len(ds))
	for i, d := range ds {
		xs[i] = d.Seconds()
	}
	return NewStats(UnitSeconds, xs)
}

// NoiseRatio is the relative half-width of the median's confidence
// interval, max(hi/median-1, 1-lo/median), the "±" benchstat prints. ok is
// false when there is no finite interval or the median is 0.
func (s Stats) NoiseRatio() (r float64, ok bool) {
	if s.MedianCI == nil || s.Median == 0 {
		return 0, false
	}
	return math.Max(s.MedianCI.Hi/s.Median-1, 1-s.MedianCI.Lo/s.Median), true
}

// NewBreakdown builds a breakdown from per-execution user, kubernetes and
// controller times in seconds (index i is execution i in all three).
func NewBreakdown(user, kubernetes, controller []float64) (Breakdown, error) {
	if len(user) != len(kubernetes) || len(user) != len(controller) {
		return Breakdown{}, fmt.Errorf("breakdown needs one sample per execution in each part, got user %d, kubernetes %d, controller %d",
			len(user), len(kubernetes), len(controller))
	}
	n := len(user)
	total := make([]float64, n)
	ur, kr, cr := make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range n {
		total[i] = user[i] + kubernetes[i] + controller[i]
		if total[i] != 0 {
			ur[i], kr[i], cr[i] = user[i]/total[i], kubernetes[i]/total[i], controller[i]/total[i]
		}
	}
	return Breakdown{
		User:            NewStats(UnitSeconds, user),
		Kubernetes:      NewStats(UnitSeconds, kubernetes),
		Controller:      NewStats(UnitSeconds, controller),
		Total:           NewStats(UnitSeconds, total),
		UserRatio:       NewStats(UnitRatio, ur),
		KubernetesRatio: NewStats(UnitRatio, kr),
		ControllerRatio: NewStats(UnitRatio, cr),
	}, nil
}

// NewInfraMetric builds one infrastructure row from the latencies (in
// seconds) of every operation of each measured execution: perExecution[i]
// holds all latencies of execution i (empty when it did none).
func NewInfraMetric(name string, perExecution [][]float64) InfraMetric {
	counts := make([]float64, len(perExecution))
	var p50, p90, p95, pmax []float64
	for i, lat := range perExecution {
		counts[i] = float64(len(lat))
		if len(lat) == 0 {
			continue // no operation, no latency: nothing to invent
		}
		sorted := slices.Clone(lat)
		slices.Sort(sorted)
		ss := stats.Sample{Xs: sorted, Sorted: true}
		p50 = append(p50, ss.Quantile(0.5))
		p90 = append(p90, ss.Quantile(0.9))
		p95 = append(p95, ss.Quantile(0.95))
		pmax = append(pmax, sorted[len(sorted)-1])
	}
	return InfraMetric{
		Name:  name,
		Count: NewStats(UnitCount, counts),
		P50:   NewStats(UnitSeconds, p50),
		P90:   NewStats(UnitSeconds, p90),
		P95:   NewStats(UnitSeconds, p95),
		Max:   NewStats(UnitSeconds, pmax),
	}
}
