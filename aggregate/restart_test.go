package aggregate

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/benchctl/benchctl/portfolio/rundir"
	"github.com/benchctl/benchctl/reports"
)

// TestCrossCheckSeesAnAPIServerRestart: when the kube-apiserver's start
// time differs between the scrapes around an execution, its request
// counts restarted from 0; the execution is invalid for that reason, and
// the count check, which would blame lost spans, is not made.
func TestCrossCheckSeesAnAPIServerRestart(t *testing.T) {
	apiserver := func(start float64, puts int) string {
		return fmt.Sprintf(`# TYPE process_start_time_seconds gauge
process_start_time_seconds %g
# TYPE apiserver_request_total counter
apiserver_request_total{code="200",group="flow.benchctl.dev",resource="workflows",verb="PUT"} %d
`, start, puts)
	}
	tests := []struct {
		name                      string
		startBefore, startAfter   float64
		putsBefore, putsAfter     int
		wantRestart, wantMismatch bool
	}{
		{"no restart, counts agree", 1.7e9, 1.7e9, 40, 40, false, false},
		{"no restart, 3 updates not in spans", 1.7e9, 1.7e9, 40, 43, false, true},
		{"restarted: counts began again", 1.7e9, 1.7e9 + 60, 40, 3, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			files := map[string]string{
				rundir.ArtifactMetricsBefore:   "",
				rundir.ArtifactMetricsAfter:    "",
				rundir.ArtifactAPIServerBefore: apiserver(tt.startBefore, tt.putsBefore),
				rundir.ArtifactAPIServerAfter:  apiserver(tt.startAfter, tt.putsAfter),
			}
			for name, body := range files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			rec := &rundir.Record{PlanEntry: rundir.PlanEntry{Workflow: "chain", Repetition: 2}, Dir: dir}
			reasons, _ := crossCheck(rec, nil)
			var restart, mismatch bool
			for _, r := range reasons {
				switch {
				case r.Kind == reports.ReasonAPIServerRestart:
					restart = true
					if !strings.Contains(r.Message, "repetition 2: kube-apiserver restarted") {
						t.Errorf("message %q", r.Message)
					}
				case r.Kind == reports.ReasonCountMismatch && strings.Contains(r.Message, "kube-apiserver"):
					mismatch = true
				}
			}
			if restart != tt.wantRestart || mismatch != tt.wantMismatch {
				t.Errorf("restart reason %v, count mismatch %v; want %v, %v (%v)", restart, mismatch, tt.wantRestart, tt.wantMismatch, reasons)
			}
		})
	}
}
