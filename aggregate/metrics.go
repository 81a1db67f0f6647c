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

// ParseScrape parses a /metrics body. With families named, only those are
// parsed: a kube-apiserver scrape is megabytes, and aggregation reads one
// of its families.
func ParseScrape(b []byte, families ...string) (Scrape, error) {
	if len(families) > 0 {
		b = keepFamilies(b, families)
	}
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

// keepFamilies keeps the lines of a text exposition that belong to the
// named families: their HELP and TYPE lines and their samples (a
// histogram's _bucket, _sum and _count included).
func keepFamilies(b []byte, families []string) []byte {
	var out bytes.Buffer
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i+1], b[i+1:]
		} else {
			b = nil
		}
		name := line
		if rest, ok := bytes.CutPrefix(line, []byte("# HELP ")); ok {
			name = rest
		} else if rest, ok := bytes.CutPrefix(line, []byte("# TYPE ")); ok {
			name = rest
		} else if len(line) > 0 && line[0] == '#' {
			continue
		}
		if end := bytes.IndexAny(name, "{ \n"); end >= 0 {
			name = name[:end]
		}
		for _, f := range families {
			if n, ok := bytes.CutPrefix(name, []byte(f)); ok && (len(n) == 0 || string(n) == "_bucket" || string(n) == "_sum" || string(n) == "_count") {
				out.Write(line)
				break
			}
		}
	}
	return out.Bytes()
}
