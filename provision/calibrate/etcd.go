package calibrate

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/benchctl/benchctl/reports"
)

// EtcdHistograms are the etcd disk latencies a calibration reports: the
// WAL fsync every write waits for, and the backend commit.
var EtcdHistograms = []string{
	"etcd_disk_wal_fsync_duration_seconds",
	"etcd_disk_backend_commit_duration_seconds",
}

// histogram is a cumulative Prometheus histogram summed over its series.
type histogram struct {
	count   uint64
	sum     float64
	buckets map[float64]uint64 // upper bound -> cumulative count
}

func scrape(ctx context.Context, url string) (map[string]histogram, error) {
	if url == "" {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("etcd metrics %s: %w", url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("etcd metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("etcd metrics %s: %s", url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("etcd metrics %s: %w", url, err)
	}
	return parseHistograms(body)
}

func parseHistograms(body []byte) (map[string]histogram, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("parse etcd metrics: %w", err)
	}
	out := map[string]histogram{}
	for _, name := range EtcdHistograms {
		fam, ok := fams[name]
		if !ok || fam.GetType() != dto.MetricType_HISTOGRAM {
			continue
		}
		h := histogram{buckets: map[float64]uint64{}}
		for _, m := range fam.GetMetric() {
			mh := m.GetHistogram()
			h.count += mh.GetSampleCount()
			h.sum += mh.GetSampleSum()
			for _, b := range mh.GetBucket() {
				h.buckets[b.GetUpperBound()] += b.GetCumulativeCount()
			}
		}
		out[name] = h
	}
	return out, nil
}

// etcdHistograms summarises each histogram's change from before to after.
func etcdHistograms(before, after map[string]histogram) []reports.Histogram {
	var out []reports.Histogram
	for _, name := range EtcdHistograms {
		a, ok := after[name]
		if !ok {
			continue
		}
		b := before[name]
		d := histogram{count: a.count - b.count, sum: a.sum - b.sum, buckets: map[float64]uint64{}}
		for le, n := range a.buckets {
			d.buckets[le] = n - b.buckets[le]
		}
		if d.count == 0 {
			continue
		}
		out = append(out, reports.Histogram{
			Name: name, Count: int(d.count), Mean: d.sum / float64(d.count),
			P50: d.quantile(0.5), P90: d.quantile(0.9),
		})
	}
	return out
}

// quantile interpolates linearly within the bucket holding the q-th
// observation, as Prometheus' histogram_quantile does; an observation in
// the +Inf bucket gives the highest finite bound.
func (h histogram) quantile(q float64) float64 {
	bounds := make([]float64, 0, len(h.buckets))
	for le := range h.buckets {
		bounds = append(bounds, le)
	}
	sort.Float64s(bounds)
	rank := q * float64(h.count)
	lower, below := 0.0, uint64(0)
	for _, le := range bounds {
		n := h.buckets[le]
		if float64(n) >= rank {
			if math.IsInf(le, 1) {
				return lower
			}
			if n == below {
				return le
			}
			return lower + (le-lower)*(rank-float64(below))/float64(n-below)
		}
		lower, below = le, n
	}
	return lower
}
