package reports_test

import (
	"bytes"
	"testing"

	"github.com/benchctl/benchctl/reports"
	"github.com/benchctl/benchctl/reports/reportstest"
)

// largeReport is the scale the default tier reaches: a 500-node workflow
// beside the small ones, 10 measured executions.
func largeReport(b *testing.B, seed uint64) *reports.Report {
	b.Helper()
	s := reportstest.Default("default", seed, 10)
	s.Workflows[2].Nodes = 500
	r, err := reportstest.Build(s)
	if err != nil {
		b.Fatal(err)
	}
	return r
}

func BenchmarkDecodeLarge(b *testing.B) {
	var buf bytes.Buffer
	if err := reports.Encode(&buf, largeReport(b, 1)); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(buf.Len()))
	for b.Loop() {
		if _, err := reports.Decode(buf.Bytes(), "large.yaml"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeLarge(b *testing.B) {
	r := largeReport(b, 1)
	for b.Loop() {
		var buf bytes.Buffer
		if err := reports.Encode(&buf, r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCompareLarge(b *testing.B) {
	x, y := largeReport(b, 1), largeReport(b, 2)
	for b.Loop() {
		if _, err := reports.Compare(x, y, reports.DefaultDiffOptions); err != nil {
			b.Fatal(err)
		}
	}
}
