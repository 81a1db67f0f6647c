package reports

import (
	"fmt"
	"math"
	"slices"
	"sync"
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
	// Confidence is the interval's actual level (order statistics give
	// discrete levels): for a median, at least Confidence; for a diff's
	// shift, at least 1 − alpha unless the samples are too few, and then
	// the lower level they allow.
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

// NewInfraCount is a row of operation counts whose latencies are not
// known (an engine that exposes only its metrics' sums and counts): one
// count per execution, and no latency samples rather than invented ones.
func NewInfraCount(name string, counts []float64) InfraMetric {
	return InfraMetric{
		Name:  name,
		Count: NewStats(UnitCount, counts),
		P50:   NewStats(UnitSeconds, nil),
		P90:   NewStats(UnitSeconds, nil),
		P95:   NewStats(UnitSeconds, nil),
		Max:   NewStats(UnitSeconds, nil),
	}
}

// Shift is the Hodges–Lehmann estimate of how far sample b lies from
// sample a (b − a), with its distribution-free confidence interval.
type Shift struct {
	// Estimate is the median of every pairwise difference b[j] − a[i].
	Estimate float64
	// Interval is [D(k), D(mn+1−k)] over the sorted differences, k taken
	// from the Mann–Whitney U null distribution (Bauer 1972; Hollander &
	// Wolfe, "Nonparametric Statistical Methods", §4.3). Its Confidence
	// is the level actually reached: at least the one asked for when the
	// samples allow it, otherwise that of the widest interval [min, max]
	// of the differences, 1 − 2/C(m+n, m), which is lower.
	Interval Interval
}

// exactUMax bounds m·n for the exact U distribution; beyond it the
// normal approximation (with continuity correction) is used.
const exactUMax = 2500

// HodgesLehmann estimates the shift b − a and its confidence interval at
// level conf (0 < conf < 1). ok is false when either sample is empty. The
// interval assumes continuous data (a location-shift model); with ties
// its actual level is approximate.
func HodgesLehmann(a, b []float64, conf float64) (s Shift, ok bool) {
	m, n := len(a), len(b)
	if m == 0 || n == 0 {
		return Shift{}, false
	}
	d := make([]float64, 0, m*n)
	for _, x := range a {
		for _, y := range b {
			d = append(d, y-x)
		}
	}
	slices.Sort(d)
	mn := len(d)
	if mn%2 == 1 {
		s.Estimate = d[mn/2]
	} else {
		s.Estimate = (d[mn/2-1] + d[mn/2]) / 2
	}
	k, level := shiftRank(m, n, conf)
	s.Interval = Interval{Lo: d[k-1], Hi: d[mn-k], Confidence: level}
	return s, true
}

// shiftRank is the largest k (1 <= k <= mn/2 when mn > 1) whose interval
// [D(k), D(mn+1−k)] covers the shift with probability 1 − 2·P(U <= k−1)
// >= conf, and that probability; k is 1 when even the widest interval
// falls short.
func shiftRank(m, n int, conf float64) (k int, level float64) {
	cdf := uCDF(m, n)
	cover := func(k int) float64 { return 1 - 2*cdf(k-1) }
	k = 1
	for k+1 <= m*n/2 && cover(k+1) >= conf {
		k++
	}
	return k, math.Max(0, cover(k))
}

var uCDFCache sync.Map // [2]int -> []float64 (exact) or nil

// uCDF is P(U <= u) of the Mann–Whitney U statistic for sizes m and n
// under the null hypothesis, without ties: exact (by the recurrence of
// Mann & Whitney 1947) for m·n <= exactUMax, else the normal
// approximation.
func uCDF(m, n int) func(u int) float64 {
	if m > n {
		m, n = n, m
	}
	if m*n > exactUMax {
		mu := float64(m*n) / 2
		sd := math.Sqrt(float64(m*n*(m+n+1)) / 12)
		return func(u int) float64 {
			if u < 0 {
				return 0
			}
			return stats.NormalDist{Mu: mu, Sigma: sd}.CDF(float64(u) + 0.5)
		}
	}
	key := [2]int{m, n}
	var cum []float64
	if c, ok := uCDFCache.Load(key); ok {
		cum = c.([]float64)
	} else {
		cum = exactUCDF(m, n)
		uCDFCache.Store(key, cum)
	}
	return func(u int) float64 {
		switch {
		case u < 0:
			return 0
		case u >= len(cum):
			return 1
		}
		return cum[u]
	}
}

// exactUCDF tabulates P(U <= u), u = 0..m·n, from the counts
// c(i, j, u) = c(i−1, j, u−j) + c(i, j−1, u) of arrangements of i x's and
// j y's with u (x, y) inversions, divided by C(m+n, m).
func exactUCDF(m, n int) []float64 {
	// prev[j] is the count vector of (i-1, j); cur[j] of (i, j).
	prev := make([][]float64, n+1)
	for j := range prev {
		prev[j] = []float64{1} // i = 0: one arrangement, u = 0
	}
	for i := 1; i <= m; i++ {
		cur := make([][]float64, n+1)
		cur[0] = []float64{1}
		for j := 1; j <= n; j++ {
			c := make([]float64, i*j+1)
			for u, v := range prev[j] { // c(i-1, j, u) shifted by j
				c[u+j] += v
			}
			for u, v := range cur[j-1] {
				c[u] += v
			}
			cur[j] = c
		}
		prev = cur
	}
	counts := prev[n]
	var total float64
	for _, v := range counts {
		total += v
	}
	cum := make([]float64, len(counts))
	acc := 0.0
	for u, v := range counts {
		acc += v
		cum[u] = acc / total
	}
	return cum
}
