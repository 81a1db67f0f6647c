package aggregate

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/benchctl/benchctl/portfolio"
)

// EnvBenchRun names a run directory for BenchmarkMeasureLargest; without it
// the benchmark is skipped (it needs a real run's spans, not synthetic ones).
const EnvBenchRun = "BENCHCTL_BENCH_RUN"

// BenchmarkMeasureLargest measures aggregating the run's largest execution
// (the one with the most span bytes): decode its spans, reconstruct every
// attempt and cross-check the metric deltas.
//
//	BENCHCTL_BENCH_RUN=~/.local/share/benchctl/runs/<run> go test -run '^$' -bench MeasureLargest ./aggregate/
func BenchmarkMeasureLargest(b *testing.B) {
	dir := os.Getenv(EnvBenchRun)
	if dir == "" {
		b.Skipf("set %s to a run directory", EnvBenchRun)
	}
	run, err := portfolio.LoadRun(dir)
	if err != nil {
		b.Fatal(err)
	}
	var largest *portfolio.Record
	var size int64
	for _, rec := range run.Records {
		if fi, err := os.Stat(filepath.Join(rec.Dir, FileSpans)); err == nil && fi.Size() > size {
			largest, size = rec, fi.Size()
		}
	}
	if largest == nil {
		b.Fatalf("%s: no execution with spans", dir)
	}
	b.Logf("%s: %d bytes of spans", largest.Name, size)
	b.SetBytes(size)
	for b.Loop() {
		if _, reasons := measureRecord(largest); len(reasons) > 0 {
			b.Fatalf("%s: %v", largest.Name, reasons)
		}
	}
}
