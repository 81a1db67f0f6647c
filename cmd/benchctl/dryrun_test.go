package main

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files under testdata/")

// TestRunDryRun checks the complete plan 'run --dry-run' prints for new
// cloud clusters against golden files: the provider's exact commands,
// the image push, each deployment's Helm release and values, the
// executions and the teardown. A dry run must write nothing, and a plan
// that cannot be carried out fails as the run would, exit 2 on one line.
// Update with: go test ./cmd/benchctl -run TestRunDryRun -update
func TestRunDryRun(t *testing.T) {
	// No eksctl or gcloud: the plan's note on missing tools is the same
	// on every machine.
	t.Setenv("PATH", t.TempDir())
	t.Setenv("BENCHCTL_TEST_SECRET", "s3cret") // must not be printed
	const flytePortfolio = "testdata/flyte/smoke.yaml"
	tests := []struct {
		name   string
		args   []string
		golden string // file under testdata/, or "" for a usage error
		want   string // the error's text, for a usage error
	}{
		{"eks", []string{"--provider", "eks", "--cluster", "perf", "--region", "us-west-2", "--node-type", "m6i.xlarge", "--nodes", "5",
			"--image-repo", "123456789012.dkr.ecr.us-west-2.amazonaws.com/benchctl", "--teardown",
			"--config", "default", "--config", "streak-1", "--tier", "smoke"}, "dryrun-eks.golden", ""},
		{"gke", []string{"--provider", "gke", "--cluster", "perf", "--project", "my-project", "--zone", "us-central1-a",
			"--node-type", "e2-standard-4", "--kubernetes-version", "1.33", "--image-repo", "us-docker.pkg.dev/my-project/benchctl",
			"--tier", "smoke", "--target-precision", "2%"}, "dryrun-gke.golden", ""},
		{"eks without region", []string{"--provider", "eks", "--cluster", "perf", "--image-repo", "r.example/b"}, "", "--region"},
		{"gke without image repo", []string{"--provider", "gke", "--cluster", "perf", "--project", "my-project", "--zone", "us-central1-a"}, "", "--image-repo is required for provider gke"},
		{"existing without image repo", []string{"--kubeconfig", "/nonexistent/kubeconfig", "--context", "lab"}, "", "--image-repo is required for provider existing"},
		{"existing, only the controller's image named", []string{"--kubeconfig", "/nonexistent/kubeconfig", "--context", "lab",
			"--set", "image.repository=r.example/flow"}, "", "--image-repo is required for provider existing"},
		{"existing, images named by --set", []string{"--kubeconfig", "/nonexistent/kubeconfig", "--context", "lab", "--tier", "smoke",
			"--set", "image.repository=r.example/flow", "--set", "config.taskPod.image=r.example/task:1", "--set", "admin.image.repository=r.example/admin"}, "dryrun-existing.golden", ""},
		{"local", []string{"--cluster", "a", "--config", "default", "--config", "downstream-delay", "--tier", "smoke", "--keep-deployments"}, "dryrun-local.golden", ""},
		{"local, fewer repetitions than a workflow's", []string{"--cluster", "a", "--tier", "smoke", "--target-precision", "2%", "--max-repetitions", "2"}, "", "--max-repetitions"},
		// The flyte engine's plan contacts no Admin: the endpoints here
		// answer nothing.
		{"flyte", []string{"--engine", "flyte", "--portfolio", flytePortfolio,
			"--flyte-endpoint", "https://a.example", "--config", "a", "--flyte-endpoint", "http://127.0.0.1:1", "--config", "b",
			"--flyte-client-id", "benchctl", "--flyte-client-secret-env", "BENCHCTL_TEST_SECRET", "--flyte-project", "perf",
			"--propeller-metrics", "http://127.0.0.1:10254/metrics", "--propeller-metrics", "http://127.0.0.1:10255/metrics",
			"--target-precision", "5%"}, "dryrun-flyte.golden", ""},
		{"flyte, register without flytectl", []string{"--engine", "flyte", "--portfolio", flytePortfolio,
			"--flyte-endpoint", "http://127.0.0.1:1", "--register", "testdata/flyte"}, "", "--register needs flytectl on PATH"},
		{"flyte, the bundled controller's portfolio", []string{"--engine", "flyte", "--tier", "smoke",
			"--flyte-endpoint", "http://127.0.0.1:1"}, "", "--engine flyte runs flyte: entries"},
		{"flyte, secret variable unset", []string{"--engine", "flyte", "--portfolio", flytePortfolio,
			"--flyte-endpoint", "https://a.example", "--flyte-client-id", "benchctl", "--flyte-client-secret-env", "BENCHCTL_TEST_UNSET"}, "", "BENCHCTL_TEST_UNSET"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			state := t.TempDir()
			t.Setenv("BENCHCTL_STATE_DIR", state)
			stdout, stderr, code := runCLI(t, append([]string{"run", "--dry-run"}, tt.args...)...)
			if entries, _ := os.ReadDir(state); len(entries) != 0 {
				t.Errorf("the dry run wrote %d entries under the state directory", len(entries))
			}
			if tt.golden == "" {
				msg := strings.TrimSpace(stderr)
				if code != exitUsage || strings.Contains(msg, "\n") || !strings.Contains(msg, tt.want) {
					t.Fatalf("exit %d, error %q: want exit %d and one line containing %q", code, msg, exitUsage, tt.want)
				}
				return
			}
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if strings.Contains(stdout, "s3cret") {
				t.Fatal("the plan prints a credential")
			}
			got := strings.ReplaceAll(stdout, state, "$STATE")
			path := filepath.Join("testdata", tt.golden)
			if *updateGolden {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (create it with -update)", err)
			}
			if got != string(want) {
				t.Errorf("the plan differs from %s (rerun with -update and review the diff):\n%s", path, got)
			}
		})
	}
}

// TestRunDryRunFlyteRegister: with --register, the flyte plan prints
// flytectl's exact command for every endpoint and does not run it.
func TestRunDryRunFlyteRegister(t *testing.T) {
	bin, pkg := t.TempDir(), t.TempDir()
	ran := filepath.Join(t.TempDir(), "ran")
	// A flytectl that leaves a mark if anything runs it.
	if err := os.WriteFile(filepath.Join(bin, "flytectl"), []byte("#!/bin/sh\ntouch "+ran+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pkg, "flyte-package.tgz"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin)
	t.Setenv("BENCHCTL_STATE_DIR", t.TempDir())
	stdout, stderr, code := runCLI(t, "run", "--dry-run", "--engine", "flyte", "--portfolio", "testdata/flyte/smoke.yaml",
		"--flyte-endpoint", "http://127.0.0.1:1", "--config", "a", "--flyte-endpoint", "https://b.example", "--config", "b",
		"--flyte-domain", "staging", "--register", pkg)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	tgz := filepath.Join(pkg, "flyte-package.tgz")
	for _, want := range []string{
		filepath.Join(bin, "flytectl") + " register files " + tgz + " --archive --project flytesnacks --domain staging --version v1 --admin.endpoint dns:///127.0.0.1:1 --admin.insecure   # into a\n",
		filepath.Join(bin, "flytectl") + " register files " + tgz + " --archive --project flytesnacks --domain staging --version v1 --admin.endpoint dns:///b.example:443   # into b\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("the plan lacks %q:\n%s", want, stdout)
		}
	}
	if _, err := os.Stat(ran); err == nil {
		t.Error("the dry run ran flytectl")
	}
}
