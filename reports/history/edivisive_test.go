package history

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// series is n points of level·(1+noise·N(0,1)), the level multiplied by
// each step's factor from its index on.
func series(seed uint64, n int, noise float64, steps map[int]float64) []float64 {
	r := rand.New(rand.NewPCG(seed, 3))
	xs := make([]float64, n)
	level := 1.0
	for i := range xs {
		if f, ok := steps[i]; ok {
			level *= f
		}
		xs[i] = level * (1 + noise*r.NormFloat64())
	}
	return xs
}

func TestEDivisive(t *testing.T) {
	tests := []struct {
		name  string
		xs    []float64
		want  []int
		maxP  float64
		slack int // how far from the true index a found one may be
	}{
		{"step +10% at 12 of 30, 2% noise", series(1, 30, 0.02, map[int]float64{12: 1.10}), []int{12}, 0.01, 0},
		{"step -20% at 5 of 20, 3% noise", series(2, 20, 0.03, map[int]float64{5: 0.80}), []int{5}, 0.01, 0},
		{"two steps, at 10 and 25 of 40", series(3, 40, 0.02, map[int]float64{10: 1.15, 25: 0.85}), []int{10, 25}, 0.01, 0},
		{"step at the 4th-last point", series(4, 24, 0.01, map[int]float64{20: 1.10}), []int{20}, 0.05, 0},
		{"no step, 2% noise", series(5, 30, 0.02, nil), nil, 0, 0},
		{"no step, 10% noise", series(6, 40, 0.10, nil), nil, 0, 0},
		{"constant", slices.Repeat([]float64{2}, 15), nil, 0, 0},
		{"too short to split", []float64{1, 2, 3, 4, 5}, nil, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cps := EDivisive(tt.xs, DefaultOptions)
			var got []int
			for _, c := range cps {
				got = append(got, c.Index)
				if tt.maxP > 0 && c.P > tt.maxP {
					t.Errorf("change at %d has p=%v, want <= %v", c.Index, c.P, tt.maxP)
				}
				if c.P > DefaultOptions.Alpha || c.P <= 0 {
					t.Errorf("change at %d kept with p=%v", c.Index, c.P)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("change points %v, want %v (%v)", got, tt.want, cps)
			}
			// Seeded: the same input gives the same answer.
			if again := EDivisive(tt.xs, DefaultOptions); fmt.Sprint(again) != fmt.Sprint(cps) {
				t.Errorf("not reproducible: %v then %v", cps, again)
			}
		})
	}
}

// TestEDivisiveFalsePositives runs 100 seeded step-free series: at alpha
// 0.05 the first test should fire on about 5% of them.
func TestEDivisiveFalsePositives(t *testing.T) {
	fired := 0
	o := DefaultOptions
	o.Permutations = 99
	for seed := range uint64(100) {
		if len(EDivisive(series(100+seed, 25, 0.05, nil), o)) > 0 {
			fired++
		}
	}
	t.Logf("%d of 100 series without a step had a change point at alpha 0.05", fired)
	if fired > 12 {
		t.Errorf("%d of 100 step-free series had a change point", fired)
	}
}
