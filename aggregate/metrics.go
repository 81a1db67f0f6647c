package aggregate

import (
	"bytes"
	"fmt"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Scrape is one parse of a Prometheus text exposition.
type Scrape map[string]*dto.MetricFamily

// ParseScrape parses a /metrics body.
func ParseScrape(b []byte) (Scrape, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("parse metrics: %w", err)
	}
	return Scrape(fams), nil
}

// Count sums, over the series of a family whose labels include match, the
// counter value, or the observation count of a histogram or summary.
// Families absent from the scrape count as zero (not yet observed).
func (s Scrape) Count(name string, match map[string]string) float64 {
	fam, ok := s[name]
	if !ok {
		return 0
	}
	var total float64
	for _, m := range fam.GetMetric() {
		if !labelsMatch(m, match) {
			continue
		}
		switch {
		case m.GetCounter() != nil:
			total += m.GetCounter().GetValue()
		case m.GetHistogram() != nil:
			total += float64(m.GetHistogram().GetSampleCount())
		case m.GetSummary() != nil:
			total += float64(m.GetSummary().GetSampleCount())
		case m.GetGauge() != nil:
			total += m.GetGauge().GetValue()
		case m.GetUntyped() != nil:
			total += m.GetUntyped().GetValue()
		}
	}
	return total
}

// Delta is after.Count - before.Count.
func Delta(before, after Scrape, name string, match map[string]string) float64 {
	return after.Count(name, match) - before.Count(name, match)
}

func labelsMatch(m *dto.Metric, match map[string]string) bool {
	for k, v := range match {
		found := false
		for _, lp := range m.GetLabel() {
			if lp.GetName() == k && lp.GetValue() == v {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
