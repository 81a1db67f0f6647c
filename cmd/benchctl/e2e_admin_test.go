package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/benchctl/benchctl/controller/admin/pgtest"
	"github.com/benchctl/benchctl/deploy"
	"github.com/benchctl/benchctl/reports"
)

// deploymentRecord reads the e2e cluster's record of a deployment.
func deploymentRecord(t *testing.T, name string) *deploy.Deployment {
	t.Helper()
	var found string
	_ = filepath.WalkDir(filepath.Join(e2e.root, "state"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, filepath.Join("clusters", e2e.cluster, "deployments", name+".yaml")) {
			found = p
		}
		return nil
	})
	if found == "" {
		return nil
	}
	b, err := os.ReadFile(found)
	if err != nil {
		return nil
	}
	var d deploy.Deployment
	if err := yaml.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	return &d
}

// TestAdminKilledMidRun kills the admin service (kill -9) while a chain
// runs. The controller retries each event a bounded number of times and
// then drops it, counted; nothing waits for the execution timeout: the run
// ends with exit 1 and the report names the dropped events. benchctl does
// not restart the service mid-run (a restarted SQLite service would have
// lost nothing, but the events sent while it was down are gone either way).
func TestAdminKilledMidRun(t *testing.T) {
	e2eCluster(t)
	out := filepath.Join(t.TempDir(), "run")
	start := time.Now()
	bg := startRun(t, "run", "--cluster", e2e.cluster, "--portfolio", chainPortfolio(t, 30, 2), "--output-dir", out)
	// Kill the service once the measured executions are under way: the
	// warm-up's record is on disk.
	killed := false
	deadline := time.Now().Add(4 * time.Minute)
	for !killed {
		if time.Now().After(deadline) {
			bg.kill()
			t.Fatalf("the warm-up never finished; stderr:\n%s", lastLines(bg.stderr.String(), 20))
		}
		recs, _ := filepath.Glob(filepath.Join(out, "executions", "*", "record.json*"))
		if d := deploymentRecord(t, "default"); len(recs) > 0 && d != nil && d.Admin != nil && d.Admin.Process != nil && d.DeployedAt.After(start) {
			if err := syscall.Kill(d.Admin.Process.PID, syscall.SIGKILL); err != nil {
				t.Fatalf("kill the admin service (pid %d): %v", d.Admin.Process.PID, err)
			}
			killed = true
			t.Logf("killed the admin service (pid %d) after %d record(s)", d.Admin.Process.PID, len(recs))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code := bg.wait(t, 5*time.Minute, "the admin service died"); code != 1 {
		t.Fatalf("exit %d with the admin service dead, want 1 (an invalid report); stderr:\n%s", code, lastLines(bg.stderr.String(), 20))
	}
	rep, err := reports.Load(filepath.Join(out, "reports", "default.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Validity.Valid {
		t.Fatal("report valid although events were dropped")
	}
	var dropped bool
	for _, r := range rep.Validity.Reasons {
		dropped = dropped || r.Kind == reports.ReasonDroppedEvents
	}
	if !dropped {
		t.Fatalf("no %s reason: %s", reports.ReasonDroppedEvents, rep.Validity.Summary())
	}
	t.Logf("the run took %s in all; %s", time.Since(start).Round(time.Second), rep.Validity.Summary())
}

// TestRunOnPostgres runs the smoke tier with the admin service persisting
// events in a real PostgreSQL server (started by the test on loopback):
// the report is valid, names the database, and holds no credential.
func TestRunOnPostgres(t *testing.T) {
	e2eCluster(t)
	dsn := pgtest.Start(t)
	out := filepath.Join(t.TempDir(), "run")
	stdout, stderr, code := runBenchctl("run", "--cluster", e2e.cluster, "--tier", "smoke", "--repetitions", "1", "--warmup", "0",
		"--set", "admin.database.dsn="+dsn, "--output-dir", out)
	if code != 0 {
		t.Fatalf("benchctl run: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, lastLines(stderr, 30))
	}
	b, err := os.ReadFile(filepath.Join(out, "reports", "default.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := reports.Load(filepath.Join(out, "reports", "default.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Validity.Valid || rep.Environment.Admin == nil || rep.Environment.Admin.Database != "postgres" {
		t.Fatalf("validity %s, admin %+v", rep.Validity.Summary(), rep.Environment.Admin)
	}
	for _, w := range rep.Workflows {
		if w.Events == nil || w.Events.Persisted.Median == 0 {
			t.Errorf("%s: no events persisted in PostgreSQL", w.Name)
		}
	}
	if strings.Contains(string(b), dsn) {
		t.Fatal("the DSN is in the report")
	}
}
