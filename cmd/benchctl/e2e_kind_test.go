package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/benchctl/benchctl/reports"
)

// TestKindSmoke is the whole job on kind: provision a kind cluster, then
// run the smoke tier, whose controller runs as the chart's Deployment
// (images built here and loaded into the nodes) and whose task pods run
// benchtask. It needs a running Docker; without one it is skipped, and
// .ci/run says so.
func TestKindSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test: skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "docker", "info").CombinedOutput(); err != nil {
		t.Skipf("kind e2e needs a running Docker ('docker info': %v: %s)", err, lastLines(string(out), 1))
	}
	e2eCluster(t) // builds the binary and its state directories
	const name = "kind-e2e"
	if _, stderr, code := runBenchctl("provision", "--provider", "kind", "--name", name, "--nodes", "1"); code != 0 {
		t.Fatalf("provision kind: exit %d\n%s", code, lastLines(stderr, 30))
	}
	defer runBenchctl("teardown", name)
	out := filepath.Join(t.TempDir(), "run")
	stdout, stderr, code := runBenchctl("run", "--cluster", name, "--tier", "smoke", "--output-dir", out)
	if code != 0 {
		t.Fatalf("run on kind: exit %d\n%s\n%s", code, stdout, lastLines(stderr, 30))
	}
	if !strings.Contains(stderr, "images built and loaded") {
		t.Errorf("the images were not built and loaded:\n%s", lastLines(stderr, 30))
	}
	rep, err := reports.Load(filepath.Join(out, "reports", "default.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Validity.Valid || rep.Environment.Provider.Name != "kind" {
		t.Errorf("report on %s: %s", rep.Environment.Provider.Name, rep.Validity.Summary())
	}
}
