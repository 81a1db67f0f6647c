package aggregate

import (
	"os"
	"testing"

	"github.com/benchctl/benchctl/portfolio/rundir"
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
	run, err := rundir.Load(dir)
	if err != nil {
		b.Fatal(err)
	}
	var largest *rundir.Record
	var size int64
	for _, rec := range run.Records {
		for _, name := range []string{rundir.ArtifactSpans, rundir.ArtifactSpansJSON} {
			if body, err := rec.ReadArtifact(name); err == nil && int64(len(body)) > size {
				largest, size = rec, int64(len(body))
			}
		}
	}
	if largest == nil {
		b.Fatalf("%s: no execution with spans", dir)
	}
	b.Logf("%s: %d bytes of spans", largest.Name, size)
	b.SetBytes(size)
	for b.Loop() {
		if _, _, reasons := measureRecord(largest, Limits{}, false); len(reasons) > 0 {
			b.Fatalf("%s: %v", largest.Name, reasons)
		}
	}
}

// BenchmarkAggregate measures aggregating a whole run into its reports
// (BENCHCTL_BENCH_RUN, else the recorded smoke run): what 'benchctl
// aggregate' spends.
func BenchmarkAggregate(b *testing.B) {
	dir := os.Getenv(EnvBenchRun)
	if dir == "" {
		dir = smokeRun
	}
	run, err := rundir.Load(dir)
	if err != nil {
		b.Fatal(err)
	}
	out := b.TempDir()
	for b.Loop() {
		if _, err := WriteReports(run, out); err != nil {
			b.Fatal(err)
		}
	}
}
