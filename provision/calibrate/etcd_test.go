package calibrate

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/benchctl/benchctl/controller/api/v1alpha1"
)

// exposition is an etcd-style histogram text with cumulative bucket
// counts for the bounds 0.001, 0.002, 0.004 and +Inf.
func exposition(name string, counts [4]int, sum float64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# TYPE %s histogram\n", name)
	for i, le := range []string{"0.001", "0.002", "0.004", "+Inf"} {
		fmt.Fprintf(&b, "%s_bucket{le=%q} %d\n", name, le, counts[i])
	}
	fmt.Fprintf(&b, "%s_sum %g\n%s_count %d\n", name, sum, name, counts[3])
	return b.String()
}

func TestEtcdHistogramDeltas(t *testing.T) {
	const fsync = "etcd_disk_wal_fsync_duration_seconds"
	before, err := parseHistograms([]byte(exposition(fsync, [4]int{10, 10, 10, 10}, 0.005)))
	if err != nil {
		t.Fatal(err)
	}
	// 100 new observations: 50 under 1ms, 40 in (1ms, 2ms], 10 in (2ms, 4ms].
	after, err := parseHistograms([]byte(exposition(fsync, [4]int{60, 100, 110, 110}, 0.005+0.15)))
	if err != nil {
		t.Fatal(err)
	}
	got := etcdHistograms(before, after)
	if len(got) != 1 {
		t.Fatalf("got %+v, want the fsync histogram only (the commit one is absent)", got)
	}
	h := got[0]
	tests := []struct {
		name      string
		got, want float64
	}{
		{"count", float64(h.Count), 100},
		{"mean", h.Mean, 0.0015},
		{"p50: the 50th of 100 is the last under 1ms", h.P50, 0.001},
		{"p90: the 90th is 40/40 into (1ms, 2ms]", h.P90, 0.002},
	}
	for _, tt := range tests {
		if math.Abs(tt.got-tt.want) > 1e-12 {
			t.Errorf("%s: %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

func TestQuantileInterpolates(t *testing.T) {
	h := histogram{count: 100, buckets: map[float64]uint64{0.001: 0, 0.002: 100, math.Inf(1): 100}}
	tests := []struct{ q, want float64 }{{0.5, 0.0015}, {0.25, 0.00125}, {1, 0.002}}
	for _, tt := range tests {
		if got := h.quantile(tt.q); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("q%v: %v, want %v", tt.q, got, tt.want)
		}
	}
}

func TestOptionsCheck(t *testing.T) {
	tests := []struct {
		name    string
		samples int
		wantErr bool
	}{{"default", 0, false}, {"enough", 50, false}, {"too few", 49, true}}
	for _, tt := range tests {
		o := Options{Samples: tt.samples, Small: Workload{Template: &v1Workflow}, Large: Workload{Template: &v1Workflow}, PodImage: "x"}
		if err := o.check(); (err != nil) != tt.wantErr {
			t.Errorf("%s: error %v, want error %v", tt.name, err, tt.wantErr)
		}
	}
}

var v1Workflow = v1alpha1.Workflow{}
