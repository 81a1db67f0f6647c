// Package history finds where a benchmark series shifted: given reports
// in run order (one per commit of main, say), it detects change points in
// every metric's series of medians with E-Divisive means, the
// hierarchical, nonparametric method of
//
//	David S. Matteson and Nicholas A. James (2014), "A Nonparametric
//	Approach for Multiple Change Point Analysis of Multivariate Data",
//	Journal of the American Statistical Association 109(505):334–345,
//	doi:10.1080/01621459.2013.849605
//
// (the method Otava/Hunter and MongoDB's performance CI use), with its
// permutation test of significance, seeded so that the same reports give
// the same answer.
package history

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
)

// Options tune EDivisive.
type Options struct {
	// Alpha is the significance level of the permutation test: a change
	// point is kept when its p-value is at most Alpha (default 0.05).
	Alpha float64
	// Permutations is the number of permutations per test (default 199;
	// the smallest p-value is then 1/200).
	Permutations int
	// MinSize is the fewest points a segment may keep (default 3).
	MinSize int
	// Exponent is the power of the distance, in (0, 2) (default 1).
	Exponent float64
	// Seed makes the permutations reproducible.
	Seed uint64
}

// DefaultOptions are Matteson & James's choices (exponent 1, 199
// permutations) at alpha 0.05.
var DefaultOptions = Options{Alpha: 0.05, Permutations: 199, MinSize: 3, Exponent: 1, Seed: 1}

func (o Options) withDefaults() Options {
	d := DefaultOptions
	if o.Alpha > 0 {
		d.Alpha = o.Alpha
	}
	if o.Permutations > 0 {
		d.Permutations = o.Permutations
	}
	if o.MinSize > 0 {
		d.MinSize = o.MinSize
	}
	if o.Exponent > 0 {
		d.Exponent = o.Exponent
	}
	if o.Seed != 0 {
		d.Seed = o.Seed
	}
	return d
}

// ChangePoint is where a series shifted: Index is the first point of the
// new segment.
type ChangePoint struct {
	Index int `yaml:"index" json:"index"`
	// Statistic is the scaled sample energy distance Q̂ that chose it.
	Statistic float64 `yaml:"statistic" json:"statistic"`
	// P is the permutation test's p-value: the share of permutations of
	// the points within each segment whose best split was at least as
	// strong, counting the observed one.
	P float64 `yaml:"p" json:"p"`
}

// EDivisive returns the significant change points of xs in index order.
// It splits hierarchically: the strongest split (τ, κ) over the current
// segments is tested by permuting the points within each segment; when
// significant, its segment is cut at τ and the search goes on, else it
// stops.
func EDivisive(xs []float64, o Options) []ChangePoint {
	o = o.withDefaults()
	rng := rand.New(rand.NewPCG(o.Seed, 0x9e3779b97f4a7c15))
	bounds := []int{0, len(xs)} // segment boundaries, sorted
	var out []ChangePoint
	for {
		tau, q := bestSplit(xs, bounds, o)
		if tau < 0 {
			break
		}
		exceed := 0
		perm := slices.Clone(xs)
		for range o.Permutations {
			for i := 0; i+1 < len(bounds); i++ {
				seg := perm[bounds[i]:bounds[i+1]]
				rng.Shuffle(len(seg), func(a, b int) { seg[a], seg[b] = seg[b], seg[a] })
			}
			if _, qp := bestSplit(perm, bounds, o); qp >= q {
				exceed++
			}
		}
		p := float64(exceed+1) / float64(o.Permutations+1)
		if p > o.Alpha {
			break
		}
		out = append(out, ChangePoint{Index: tau, Statistic: q, P: p})
		bounds = append(bounds, tau)
		slices.Sort(bounds)
	}
	slices.SortFunc(out, func(a, b ChangePoint) int { return cmp.Compare(a.Index, b.Index) })
	return out
}

// bestSplit is the strongest split over every segment: τ, the start of
// the second part, and its statistic; τ is -1 when no segment can be
// split into parts of MinSize.
func bestSplit(xs []float64, bounds []int, o Options) (int, float64) {
	best, bestQ := -1, math.Inf(-1)
	for i := 0; i+1 < len(bounds); i++ {
		if tau, q := splitSegment(xs[bounds[i]:bounds[i+1]], o); tau >= 0 && q > bestQ {
			best, bestQ = bounds[i]+tau, q
		}
	}
	return best, bestQ
}

// splitSegment maximises, over τ and κ with MinSize <= τ and
// τ+MinSize <= κ <= len(z), the statistic of Matteson & James
//
//	Q̂(X, Y) = mn/(m+n) · Ê(X, Y),
//	Ê = 2/(mn) Σ|x−y|^α − 1/C(m,2) Σ|x−x'|^α − 1/C(n,2) Σ|y−y'|^α
//
// for X = z[0:τ] and Y = z[τ:κ]. Sums over blocks of the distance matrix
// come from its 2-D prefix sums, so the search is O(len(z)²).
func splitSegment(z []float64, o Options) (int, float64) {
	n := len(z)
	if n < 2*o.MinSize {
		return -1, 0
	}
	// ps[i*w+j] = Σ_{a<i, b<j} |z_a − z_b|^α
	w := n + 1
	ps := make([]float64, w*w)
	for i := 1; i <= n; i++ {
		for j := 1; j <= n; j++ {
			d := math.Abs(z[i-1] - z[j-1])
			if o.Exponent != 1 {
				d = math.Pow(d, o.Exponent)
			}
			ps[i*w+j] = d + ps[(i-1)*w+j] + ps[i*w+j-1] - ps[(i-1)*w+j-1]
		}
	}
	rect := func(r0, r1, c0, c1 int) float64 {
		return ps[r1*w+c1] - ps[r0*w+c1] - ps[r1*w+c0] + ps[r0*w+c0]
	}
	best, bestQ := -1, math.Inf(-1)
	for tau := o.MinSize; tau+o.MinSize <= n; tau++ {
		m := float64(tau)
		within := rect(0, tau, 0, tau) / 2 // Σ_{a<b<τ}
		for kappa := tau + o.MinSize; kappa <= n; kappa++ {
			k := float64(kappa - tau)
			between := rect(0, tau, tau, kappa)
			withinY := rect(tau, kappa, tau, kappa) / 2
			e := 2*between/(m*k) - 2*within/(m*(m-1)) - 2*withinY/(k*(k-1))
			if q := m * k / (m + k) * e; q > bestQ {
				best, bestQ = tau, q
			}
		}
	}
	return best, bestQ
}
