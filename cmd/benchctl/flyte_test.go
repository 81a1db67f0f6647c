package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/benchctl/benchctl/portfolio/flyte/flytetest"
	"github.com/benchctl/benchctl/reports"
)

// flyteSmoke is the Flyte smoke portfolio the live test runs, and the
// fake Admins here serve.
const flyteSmoke = "testdata/flyte/smoke.yaml"

// fakeSmoke is a fake Admin with the smoke portfolio's launch plans.
func fakeSmoke(t *testing.T) *flytetest.Admin {
	chain := flytetest.LaunchPlan{Project: "flytesnacks", Domain: "development", Name: "benchctl_smoke.chain3", Version: "v1",
		Inputs: []string{"n"}, Nodes: 3, Timing: flytetest.DefaultTiming}
	fan := chain
	fan.Name, fan.Parallel = "benchctl_smoke.fanout3", true
	return flytetest.New(t, chain, fan)
}

// TestFlyteUnreachableAdmin is the first done-when: an Admin that
// nothing answers at fails the run within 5 s, exit 1, with one line
// naming the endpoint and the cause.
func TestFlyteUnreachableAdmin(t *testing.T) {
	t.Setenv("BENCHCTL_STATE_DIR", t.TempDir())
	start := time.Now()
	_, stderr, code := runCLI(t, "run", "--engine", "flyte", "--flyte-endpoint", "http://127.0.0.1:1", "--portfolio", flyteSmoke,
		"--output-dir", filepath.Join(t.TempDir(), "run"))
	took := time.Since(start)
	msg := strings.TrimSpace(stderr)
	lines := strings.Split(msg, "\n")
	last := lines[len(lines)-1]
	if code != exitFailure || !strings.HasPrefix(last, "error: flyte admin http://127.0.0.1:1: ") || !strings.Contains(last, "connection refused") {
		t.Errorf("exit %d, stderr:\n%s\nwant exit 1 and one error line naming the endpoint and the cause", code, stderr)
	}
	if strings.Count(msg, "error:") != 1 {
		t.Errorf("more than one error line:\n%s", msg)
	}
	if took >= 5*time.Second {
		t.Errorf("failed after %v, want within 5 s", took)
	}
}

// TestFlyteFlagErrors: a bad flag or flag combination is exit 2, on one
// line naming the flag, before any network is touched.
func TestFlyteFlagErrors(t *testing.T) {
	loose := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(loose, []byte("t0k3n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ep := []string{"--engine", "flyte", "--flyte-endpoint", "http://127.0.0.1:1", "--portfolio", flyteSmoke}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"an unknown engine", []string{"--engine", "argo"}, `--engine "argo": want one of bundled, flyte`},
		{"flyte without an endpoint", []string{"--engine", "flyte", "--portfolio", flyteSmoke}, "--engine flyte needs --flyte-endpoint URL"},
		{"an endpoint without the flyte engine", []string{"--flyte-endpoint", "http://127.0.0.1:1"}, "--flyte-endpoint needs --engine flyte"},
		{"a bundled-only flag", append(ep, "--profile"), "--profile applies to the bundled controller, not to --engine flyte"},
		{"configs that do not name the endpoints", append(ep, "--config", "a", "--config", "b"), "1 --flyte-endpoint and 2 --config"},
		{"propeller URLs that do not match", append(ep, "--propeller-metrics", "http://a/metrics", "--propeller-metrics", "http://b/metrics"), "2 --propeller-metrics for 1 --flyte-endpoint"},
		{"a token mode without a file", append(ep, "--flyte-auth", "token-file"), "--flyte-token-file: required for mode token-file"},
		{"an unknown auth mode", append(ep, "--flyte-auth", "kerberos"), `--flyte-auth: "kerberos" is not one of`},
		{"a token file others can read", append(ep, "--flyte-token-file", loose), "has mode 0644"},
		{"not a URL", []string{"--engine", "flyte", "--flyte-endpoint", "flyte.example.com", "--portfolio", flyteSmoke}, `flyte admin endpoint "flyte.example.com": want an http(s) URL`},
		{"the built-in portfolio", []string{"--engine", "flyte", "--flyte-endpoint", "http://127.0.0.1:1"}, "pass --portfolio FILE with flyte: entries"},
		{"a flyte portfolio on the bundled engine", []string{"--portfolio", flyteSmoke}, "run them with --engine flyte"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			state := t.TempDir()
			t.Setenv("BENCHCTL_STATE_DIR", state)
			_, stderr, code := runCLI(t, append([]string{"run", "--output-dir", filepath.Join(t.TempDir(), "run")}, tt.args...)...)
			msg := strings.TrimSpace(stderr)
			if code != exitUsage || strings.Count(msg, "\n") != 0 || !strings.Contains(msg, tt.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 2 and one line saying %q", code, stderr, tt.want)
			}
			if entries, _ := os.ReadDir(filepath.Join(state, "clusters")); len(entries) != 0 {
				t.Errorf("a cluster was touched: %v", entries)
			}
		})
	}
}

// TestFlyteRunCommand runs the command against two fake deployments
// named by --config: reports for both, a diff, exit 0.
func TestFlyteRunCommand(t *testing.T) {
	t.Setenv("BENCHCTL_STATE_DIR", t.TempDir())
	a, b := fakeSmoke(t), fakeSmoke(t)
	dir := filepath.Join(t.TempDir(), "run")
	stdout, stderr, code := runCLI(t, "run", "--engine", "flyte", "--portfolio", flyteSmoke, "--output-dir", dir,
		"--flyte-endpoint", a.URL, "--config", "a", "--flyte-endpoint", b.URL, "--config", "b",
		"--propeller-metrics", a.URL+"/metrics", "--propeller-metrics", b.URL+"/metrics", "--repetitions", "3", "--warmup", "0")
	if code != exitOK {
		t.Fatalf("exit %d\nstderr:\n%s", code, stderr)
	}
	for _, want := range []string{"engine flyte v1.16.8-fake", "chain-3:", "fanout-3:", "report: " + filepath.Join(dir, "reports", "a.yaml"), "diff: " + filepath.Join(dir, "reports", "diff-a-b")} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	for _, name := range []string{"a", "b"} {
		r, err := reports.Load(filepath.Join(dir, "reports", name+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if r.Environment.Engine == nil || r.Environment.Engine.Name != reports.EngineFlyte || len(r.Workflows) != 2 || r.Workflows[0].Executions != 3 {
			t.Errorf("report %s: engine %+v, %d workflows", name, r.Environment.Engine, len(r.Workflows))
		}
	}
	if st := a.Stats(); st.Creates != 6 {
		t.Errorf("deployment a ran %d executions, want 6", st.Creates)
	}
}

// TestFlyteLive runs the smoke portfolio against a live Flyte when
// BENCHCTL_FLYTE_ENDPOINT names one (its launch plans registered, or
// BENCHCTL_FLYTE_REGISTER naming a pyflyte package of
// testdata/flyte/benchctl_smoke.py). No live Flyte runs in CI.
func TestFlyteLive(t *testing.T) {
	endpoint := os.Getenv("BENCHCTL_FLYTE_ENDPOINT")
	if endpoint == "" {
		t.Skip("no live Flyte: set BENCHCTL_FLYTE_ENDPOINT to Flyte Admin's URL to run the smoke portfolio against it")
	}
	t.Setenv("BENCHCTL_STATE_DIR", t.TempDir())
	dir := filepath.Join(t.TempDir(), "run")
	args := []string{"run", "--engine", "flyte", "--flyte-endpoint", endpoint, "--portfolio", flyteSmoke, "--output-dir", dir}
	for env, flag := range map[string]string{
		"BENCHCTL_FLYTE_PROJECT": "--flyte-project", "BENCHCTL_FLYTE_DOMAIN": "--flyte-domain", "BENCHCTL_FLYTE_REGISTER": "--register",
		"BENCHCTL_FLYTE_TOKEN_FILE": "--flyte-token-file", "BENCHCTL_FLYTE_CLIENT_ID": "--flyte-client-id",
		"BENCHCTL_FLYTE_CLIENT_SECRET_FILE": "--flyte-client-secret-file", "BENCHCTL_FLYTE_PROPELLER_METRICS": "--propeller-metrics",
	} {
		if v := os.Getenv(env); v != "" {
			args = append(args, flag, v)
		}
	}
	stdout, stderr, code := runCLI(t, args...)
	t.Logf("stdout:\n%s\nstderr:\n%s", stdout, stderr)
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	r, err := reports.Load(filepath.Join(dir, "reports", "flyte.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range r.Workflows {
		if w.CriticalPath == nil || w.Wall.Median <= 0 {
			t.Errorf("%s: no critical path or wall time", w.Name)
		}
	}
}

// TestDeployChartBadInput: deploy --chart checks its chart and values
// before any cluster is touched; bad ones are exit 2 on one line.
func TestDeployChartBadInput(t *testing.T) {
	const mini = "../../deploy/testdata/charts/mini"
	bad := filepath.Join(t.TempDir(), "workers.yaml")
	if err := os.WriteFile(bad, []byte("# why\npropeller:\n  workers: -1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"a named config", []string{"--chart", mini, "--config", "streak-1"}, "with --chart, --config names a values file for chart mini"},
		{"a value the chart's schema refuses", []string{"--chart", mini, "--config", bad}, "workers.yaml:3: propeller.workers: minimum"},
		{"two things to deploy", []string{"--chart", mini, "--controller-source", "main"}, "--chart and --controller-source name two things to deploy"},
		{"no chart there", []string{"--chart", "no/such/chart"}, "--chart no/such/chart"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			state := t.TempDir()
			t.Setenv("BENCHCTL_STATE_DIR", state)
			_, stderr, code := runCLI(t, append([]string{"deploy", "--cluster", "never"}, tt.args...)...)
			msg := strings.TrimSpace(stderr)
			if code != exitUsage || strings.Count(msg, "\n") != 0 || !strings.Contains(msg, tt.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 2 and one line saying %q", code, stderr, tt.want)
			}
			if entries, _ := os.ReadDir(filepath.Join(state, "clusters")); len(entries) != 0 {
				t.Errorf("a cluster was touched: %v", entries)
			}
		})
	}
}
