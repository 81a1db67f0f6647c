package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/benchctl/benchctl/deploy"
	"github.com/benchctl/benchctl/portfolio"
	"github.com/benchctl/benchctl/portfolio/flyte/flytetest"
	"github.com/benchctl/benchctl/portfolio/rundir"
	"github.com/benchctl/benchctl/provision"
	"github.com/benchctl/benchctl/reports"
)

// flytePortfolio is a portfolio of two flyte: entries: a chain and a
// fan-out of three task nodes each.
const flytePortfolio = `apiVersion: benchctl/v1
kind: Portfolio
name: flyte-fake
defaults: {repetitions: 5, warmup: 1, timeout: 30s}
workflows:
  - name: chain-3
    description: three chained tasks
    flyte: {launchPlan: bench.chain, version: v1, inputs: {n: 3}}
  - name: fanout-3
    description: three parallel tasks
    flyte: {launchPlan: bench.fanout, version: v1, inputs: {n: 3}}
`

// fakeFlyte starts a fake Admin whose propeller moves to the next node
// after transition.
func fakeFlyte(t *testing.T, transition time.Duration) *flytetest.Admin {
	tm := flytetest.DefaultTiming
	tm.Transition = transition
	chain := flytetest.LaunchPlan{Project: "flytesnacks", Domain: "development", Name: "bench.chain", Version: "v1", Inputs: []string{"n"}, Nodes: 3, Timing: tm}
	fan := chain
	fan.Name, fan.Parallel = "bench.fanout", true
	return flytetest.New(t, chain, fan)
}

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func flyteBenchmark(t *testing.T, dir, portfolioFile string, targets ...FlyteTarget) *Benchmark {
	return &Benchmark{
		Flyte:     &Flyte{Targets: targets, Project: "flytesnacks", Domain: "development"},
		Portfolio: PortfolioSpec{Files: []string{portfolioFile}, Tier: portfolio.TierDefault},
		OutputDir: dir, Benchctl: reports.BuildInfo{Version: "test", Commit: "test"},
	}
}

// TestFlyteRunIntoReportsAndDiff runs a portfolio on two fake Flyte
// deployments ("configs"), one whose propeller takes 12 ms longer per
// node transition. Both reports are valid; every instant of every
// timeline is the one Admin served, to the millisecond; the propeller's
// counts are the infrastructure rows; and the diff finds the slower
// config slower.
func TestFlyteRunIntoReportsAndDiff(t *testing.T) {
	fast, slow := fakeFlyte(t, 3*time.Millisecond), fakeFlyte(t, 15*time.Millisecond)
	// Admin's clock is not the harness's: nothing may mix them.
	slow.ClockOffset = -3 * time.Second
	dir := filepath.Join(t.TempDir(), "run")
	b := flyteBenchmark(t, dir, writeFile(t, "flyte.yaml", flytePortfolio),
		FlyteTarget{Name: "fast", Endpoint: fast.URL, Propeller: fast.URL + "/metrics"},
		FlyteTarget{Name: "slow", Endpoint: slow.URL, Propeller: slow.URL + "/metrics"})
	res, err := b.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	if !res.Run.Complete() || len(res.Run.Records) != 2*2*6 {
		t.Fatalf("complete %v, %d records", res.Run.Complete(), len(res.Run.Records))
	}
	admins := map[string]*flytetest.Admin{"fast": fast, "slow": slow}
	byRep := map[[3]any]*rundir.Record{}
	for _, rec := range res.Run.Records {
		if !rec.Warmup {
			byRep[[3]any{rec.Target, rec.Workflow, rec.Repetition}] = rec
		}
	}
	const ms = 1e-3
	near := func(got float64, want time.Duration) bool { return math.Abs(got-want.Seconds()) < ms }
	for _, out := range res.Outcome.Reports {
		r := out.Report
		if !r.Validity.Valid || len(r.Validity.Reasons) > 0 {
			t.Errorf("%s: %s", out.Target, r.Validity.Summary())
		}
		if e := r.Environment.Engine; e == nil || e.Name != reports.EngineFlyte || e.Version != "v1.16.8-fake" {
			t.Errorf("%s: engine %+v", out.Target, e)
		}
		if _, err := reports.Load(out.YAML); err != nil {
			t.Errorf("%s does not load: %v", out.YAML, err)
		}
		a := admins[out.Target]
		for _, w := range r.Workflows {
			if w.Executions != 5 || w.CriticalPath == nil {
				t.Errorf("%s/%s: %d executions, critical path %v", out.Target, w.Name, w.Executions, w.CriticalPath)
				continue
			}
			// Wall samples are Admin's, in execution order.
			for i, got := range w.Wall.Samples {
				served, _ := a.Served(byRep[[3]any{out.Target, w.Name, i + 1}].Name)
				if want := served.Execution.Updated.Sub(served.Execution.Created); !near(got, want) {
					t.Errorf("%s/%s repetition %d: wall %.6fs, Admin served %v", out.Target, w.Name, i+1, got, want)
				}
			}
			// The infrastructure rows are the propeller's counts.
			served := a.PropellerCounts(byRep[[3]any{out.Target, w.Name, 1}].Name)
			for row, family := range map[string]string{reports.InfraEventsNode: flytetest.PropellerNodeEvents, reports.InfraRounds: flytetest.PropellerRounds,
				reports.InfraEventsTask: flytetest.PropellerTaskEvents, reports.InfraCRDUpdates: flytetest.PropellerUpdates} {
				m := findInfra(&w, row)
				if m == nil || m.Count.Samples[0] != float64(served[family]) || m.P50.N != 0 {
					t.Errorf("%s/%s: row %s = %+v, propeller counted %d", out.Target, w.Name, row, m, served[family])
				}
			}
		}
		// Every instant of every timeline is what Admin served.
		if len(out.Timelines) != 10 {
			t.Errorf("%s: %d timelines", out.Target, len(out.Timelines))
		}
		for _, tl := range out.Timelines {
			rec := byRep[[3]any{tl.Target, tl.Workflow, tl.Repetition}]
			served, ok := a.Served(rec.Name)
			if !ok {
				t.Fatalf("Admin has no execution %s", rec.Name)
			}
			created := served.Execution.Created
			rel := func(at time.Time) time.Duration { return at.Sub(created) }
			if !near(tl.Wall, rel(served.Execution.Updated)) || !near(tl.Setup, rel(served.Nodes["start-node"].Updated)) {
				t.Errorf("%s: wall %.6f setup %.6f; Admin: %v, start-node %v", rec.Name, tl.Wall, tl.Setup, rel(served.Execution.Updated), rel(served.Nodes["start-node"].Updated))
			}
			if len(tl.Bars) != 3 {
				t.Errorf("%s: %d bars", rec.Name, len(tl.Bars))
			}
			for _, bar := range tl.Bars {
				n := served.Nodes[bar.Node]
				task := n.Tasks[bar.Attempt-1]
				ready := served.Nodes[n.Upstream[0]].Updated
				for _, c := range []struct {
					what string
					got  float64
					want time.Time
				}{
					{"ready", bar.Ready, ready}, {"handled", bar.Handled, n.Created}, {"launched", bar.Launched, task.Created},
					{"started", bar.Started, task.Started}, {"finished", bar.Finished, task.Started.Add(task.Duration)},
					{"seen", bar.Seen, task.Updated}, {"done", bar.Done, n.Updated},
				} {
					if !near(c.got, rel(c.want)) {
						t.Errorf("%s %s attempt %d: %s at %.6fs, Admin served %v", rec.Name, bar.Node, bar.Attempt, c.what, c.got, rel(c.want))
					}
				}
			}
			// The critical path tiles the wall time.
			var sum float64
			for _, s := range tl.Path {
				sum += s.Seconds
			}
			if !near(sum, rel(served.Execution.Updated)) {
				t.Errorf("%s: the critical path sums to %.6fs, wall %v", rec.Name, sum, rel(served.Execution.Updated))
			}
		}
	}
	// The diff finds the slow config slower, confidently.
	if len(res.Outcome.Diffs) != 1 {
		t.Fatalf("%d diffs", len(res.Outcome.Diffs))
	}
	d := res.Outcome.Diffs[0].Diff
	walls := 0
	for _, row := range d.Rows {
		if row.Node == "" && row.Metric == "wall" {
			walls++
			if row.ShiftInterval == nil || row.ShiftInterval.Lo <= 0 || !row.Significant || row.Verdict != "worse" {
				t.Errorf("%s: wall row %+v, want a significant positive shift", row.Workflow, row)
			}
		}
	}
	if walls != 2 {
		t.Errorf("%d wall rows in the diff", walls)
	}
	if _, err := os.Stat(res.Outcome.Diffs[0].Stem + ".md"); err != nil {
		t.Error(err)
	}
	if _, err := os.Stat(res.Outcome.HTML); err != nil {
		t.Error(err)
	}
}

// TestFlyteFailedExecution: a failed execution is recorded, the report
// says so (invalid), and Result.Err counts it.
func TestFlyteFailedExecution(t *testing.T) {
	lp := flytetest.LaunchPlan{Project: "flytesnacks", Domain: "development", Name: "bench.chain", Version: "v1", Inputs: []string{"n"},
		Nodes: 2, Timing: flytetest.DefaultTiming, FailAt: 2}
	a := flytetest.New(t, lp)
	dir := filepath.Join(t.TempDir(), "run")
	b := flyteBenchmark(t, dir, writeFile(t, "p.yaml", `apiVersion: benchctl/v1
kind: Portfolio
workflows:
  - {name: chain, description: d, repetitions: 2, warmup: 0, timeout: 30s, flyte: {launchPlan: bench.chain, version: v1, inputs: {n: 1}}}
`), FlyteTarget{Name: "flyte", Endpoint: a.URL})
	res, err := b.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed() != 2 || res.Err() == nil || !strings.Contains(res.Err().Error(), "2 of 2 executions failed") {
		t.Errorf("failed %d, Err %v", res.Failed(), res.Err())
	}
	r := res.Outcome.Reports[0].Report
	if r.Validity.Valid || !strings.Contains(r.Validity.Summary(), reports.ReasonFailedExecution) {
		t.Errorf("validity: %s", r.Validity.Summary())
	}
}

// TestFlyteInterruptAndResume: an interrupt stops the run with the
// records so far; the same run resumed completes it, each planned
// execution recorded once.
func TestFlyteInterruptAndResume(t *testing.T) {
	a := fakeFlyte(t, 3*time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a.OnCreate = func(n int, _ string) {
		if n == 4 {
			cancel()
		}
	}
	dir := filepath.Join(t.TempDir(), "run")
	file := writeFile(t, "flyte.yaml", flytePortfolio)
	res, err := flyteBenchmark(t, dir, file, FlyteTarget{Name: "flyte", Endpoint: a.URL}).Run(ctx)
	if !errors.Is(err, context.Canceled) || res == nil || res.Run == nil || len(res.Run.Records) != 4 {
		t.Fatalf("interrupted run: err %v, result %+v", err, res)
	}
	a.OnCreate = nil
	b := flyteBenchmark(t, dir, file, FlyteTarget{Name: "flyte", Endpoint: a.URL})
	b.Resume = true
	res, err = b.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !res.Run.Complete() || len(res.Run.Records) != 12 || res.Err() != nil {
		t.Fatalf("resumed run: complete %v, %d records, %v", res.Run.Complete(), len(res.Run.Records), res.Err())
	}
	if st := a.Stats(); st.Creates != 13 || st.Aborts != 1 {
		t.Errorf("Admin saw %+v: want 12 planned creates, the interrupted one and its abort", st)
	}
	// Resuming against another deployment is refused.
	other := fakeFlyte(t, 3*time.Millisecond)
	b = flyteBenchmark(t, dir, file, FlyteTarget{Name: "flyte", Endpoint: other.URL})
	b.Resume = true
	var ie *InputError
	if _, err := b.Run(context.Background()); !errors.As(err, &ie) || !strings.Contains(err.Error(), "flyte: config values") {
		t.Errorf("resume against another Admin: err = %v", err)
	}
}

// TestFlyteBadInput: what the flyte engine refuses before anything runs,
// as bad input (exit 2).
func TestFlyteBadInput(t *testing.T) {
	a := fakeFlyte(t, 3*time.Millisecond)
	flyteFile := writeFile(t, "flyte.yaml", flytePortfolio)
	tests := []struct {
		name string
		edit func(b *Benchmark)
		want string
	}{
		{"a bundled portfolio", func(b *Benchmark) { b.Portfolio = PortfolioSpec{Tier: portfolio.TierSmoke} }, "--engine flyte runs flyte: entries"},
		{"no endpoint", func(b *Benchmark) { b.Flyte.Targets = nil }, "--engine flyte needs --flyte-endpoint"},
		{"a bad endpoint", func(b *Benchmark) { b.Flyte.Targets[0].Endpoint = "ftp://x" }, `flyte admin endpoint "ftp://x": want an http(s) URL`},
		{"a loose token file", func(b *Benchmark) {
			tok := writeFile(t, "token", "abc")
			b.Flyte.Auth.Mode, b.Flyte.Auth.TokenFile = "token-file", tok
		}, "has mode 0644: group or others can read it"},
		{"a launch plan not registered", func(b *Benchmark) {
			b.Portfolio.Files = []string{writeFile(t, "p.yaml", strings.Replace(flytePortfolio, "bench.fanout", "bench.nope", 1))}
		}, "workflow fanout-3: launch plan flytesnacks/development/bench.nope/v1 (project/domain/name/version) is not registered"},
		{"--register without flytectl", func(b *Benchmark) {
			t.Setenv("PATH", t.TempDir())
			b.Flyte.Register = t.TempDir()
		}, "--register needs flytectl on PATH"},
		{"two targets of one name", func(b *Benchmark) { b.Flyte.Targets = append(b.Flyte.Targets, b.Flyte.Targets[0]) }, `flyte target "flyte" is named twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := flyteBenchmark(t, filepath.Join(t.TempDir(), "run"), flyteFile, FlyteTarget{Name: "flyte", Endpoint: a.URL})
			tt.edit(b)
			_, err := b.Run(context.Background())
			var ie *InputError
			if !errors.As(err, &ie) || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("err = %v, want one line of bad input saying %q", err, tt.want)
			}
		})
	}
	// And the bundled engine refuses a flyte portfolio.
	f := newFixture(t)
	b := f.benchmark(filepath.Join(t.TempDir(), "run"), "default")
	b.Portfolio = PortfolioSpec{Files: []string{flyteFile}, Tier: portfolio.TierDefault}
	var ie *InputError
	if _, err := b.Run(context.Background()); !errors.As(err, &ie) || !strings.Contains(err.Error(), "run them with --engine flyte") {
		t.Errorf("bundled engine on a flyte portfolio: err = %v", err)
	}
}

// TestFlyteUnreachable: an Admin nobody answers at fails the run at once
// with one line naming the endpoint and the cause, not as bad input.
func TestFlyteUnreachable(t *testing.T) {
	b := flyteBenchmark(t, filepath.Join(t.TempDir(), "run"), writeFile(t, "flyte.yaml", flytePortfolio),
		FlyteTarget{Name: "flyte", Endpoint: "http://127.0.0.1:1"})
	start := time.Now()
	_, err := b.Run(context.Background())
	var ie *InputError
	if err == nil || errors.As(err, &ie) || !strings.HasPrefix(err.Error(), "flyte admin http://127.0.0.1:1: ") ||
		!strings.Contains(err.Error(), "connection refused") || strings.Contains(err.Error(), "\n") {
		t.Errorf("err = %v", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("took %v to fail", took)
	}
}

func findInfra(w *reports.Workflow, name string) *reports.InfraMetric {
	for i := range w.Infrastructure {
		if w.Infrastructure[i].Name == name {
			return &w.Infrastructure[i]
		}
	}
	return nil
}

// chartDeployer is a deployer whose deployments are charts deployed with
// --chart, with these values.
type chartDeployer struct {
	fakeDeployer
	values map[string]map[string]any
}

func (c *chartDeployer) Deployed(_ *provision.Cluster, name string) (*deploy.Deployment, error) {
	v, ok := c.values[name]
	if !ok {
		return nil, fmt.Errorf("nothing is deployed as %q", name)
	}
	return &deploy.Deployment{Name: name, Config: name, Values: v, Chart: &deploy.ChartInfo{Ref: "oci://x/flyte-binary:v1", Name: "flyte-binary", Version: "v1"}}, nil
}

// TestFlyteRecordsDeployedValues: with the cluster named, each Flyte
// config's values are what 'benchctl deploy --chart' recorded for the
// deployment of its name, and the reports carry them (credentials
// masked); a deployment of the bundled controller is refused.
func TestFlyteRecordsDeployedValues(t *testing.T) {
	a := fakeFlyte(t, 3*time.Millisecond)
	dir := filepath.Join(t.TempDir(), "run")
	b := flyteBenchmark(t, dir, writeFile(t, "p.yaml", `apiVersion: benchctl/v1
kind: Portfolio
workflows:
  - {name: chain, description: d, repetitions: 1, warmup: 0, timeout: 30s, flyte: {launchPlan: bench.chain, version: v1, inputs: {n: 1}}}
`), FlyteTarget{Name: "workers-200", Endpoint: a.URL})
	values := map[string]any{"configuration": map[string]any{"inline": map[string]any{"propeller": map[string]any{"workers": float64(200)}}},
		"database": map[string]any{"password": "hunter2"}}
	f := newFixture(t)
	b.Clusters, b.Deployer, b.Cluster = f.clusters, &chartDeployer{values: map[string]map[string]any{"workers-200": values}}, ClusterRequest{Name: "lab", NoCreate: true}
	b.Flyte.Deployments = true
	res, err := b.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	env := res.Outcome.Reports[0].Report.Environment
	inline, _ := env.Config.Values["configuration"].(map[string]any)["inline"].(map[string]any)
	if env.Config.Name != "workers-200" || inline["propeller"].(map[string]any)["workers"] != float64(200) ||
		env.Config.Values["database"].(map[string]any)["password"] != "xxxxx" || env.Provider.Name != provision.ProviderLocal {
		t.Errorf("environment %+v", env)
	}
	b.Deployer = f.deployer // the bundled controller's
	b.OutputDir = filepath.Join(t.TempDir(), "run2")
	var ie *InputError
	if _, err := b.Run(context.Background()); !errors.As(err, &ie) || !strings.Contains(err.Error(), "is the bundled controller's, not a chart") {
		t.Errorf("a bundled deployment as a Flyte config: %v", err)
	}
}

// TestFlyteRegister: --register runs flytectl once per endpoint, with
// the package, the entries' version and that endpoint, before the first
// execution; a flytectl that fails stops the run with its last line.
func TestFlyteRegister(t *testing.T) {
	a := fakeFlyte(t, 3*time.Millisecond)
	short := writeFile(t, "flyte.yaml", strings.Replace(flytePortfolio, "repetitions: 5, warmup: 1", "repetitions: 2, warmup: 0", 1))
	pkg := t.TempDir()
	if err := os.WriteFile(filepath.Join(pkg, "flyte-package.tgz"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		flytectl string // the fake's body; $CALLS is where it logs its arguments
		wantErr  string
	}{
		{"registered", "echo \"$@\" >> \"$CALLS\"\n", ""},
		{"flytectl fails", "echo \"$@\" >> \"$CALLS\"\necho 'Error: connection refused' >&2\nexit 1\n", "flytectl register files " + pkg + ": exit status 1: Error: connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bin := t.TempDir()
			calls := filepath.Join(t.TempDir(), "calls")
			if err := os.WriteFile(filepath.Join(bin, "flytectl"), []byte("#!/bin/sh\n"+tt.flytectl), 0o755); err != nil {
				t.Fatal(err)
			}
			t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
			t.Setenv("CALLS", calls)
			b := flyteBenchmark(t, filepath.Join(t.TempDir(), "run"), short, FlyteTarget{Name: "flyte", Endpoint: a.URL})
			b.Flyte.Register = pkg
			res, err := b.Run(context.Background())
			got, _ := os.ReadFile(calls)
			host := strings.TrimPrefix(a.URL, "http://")
			want := "register files " + filepath.Join(pkg, "flyte-package.tgz") + " --archive --project flytesnacks --domain development --version v1 --admin.endpoint dns:///" + host + " --admin.insecure\n"
			if string(got) != want {
				t.Errorf("flytectl ran with:\n%q\nwant once with:\n%q", got, want)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Failed() != 0 || res.Outcome == nil || len(res.Outcome.Reports) != 1 {
				t.Fatalf("result: %d failed executions, outcome %+v", res.Failed(), res.Outcome)
			}
		})
	}
}

// TestFlyteRunLock: a run on a Flyte deployment that another run holds
// is refused at once, naming the holder, whatever spelling of the URL
// each uses; a run on another deployment, or after the holder ends, runs.
func TestFlyteRunLock(t *testing.T) {
	a := fakeFlyte(t, 3*time.Millisecond)
	short := writeFile(t, "flyte.yaml", strings.Replace(flytePortfolio, "repetitions: 5, warmup: 1", "repetitions: 2, warmup: 0", 1))
	locks := t.TempDir()
	holder := &Flyte{LockDir: locks, Targets: []FlyteTarget{{Name: "x", Endpoint: a.URL + "/"}}} // the same Admin, spelt with a slash
	unlock, err := holder.lockRuns("benchctl run into /elsewhere")
	if err != nil {
		t.Fatal(err)
	}
	run := func(endpoint string) error {
		b := flyteBenchmark(t, filepath.Join(t.TempDir(), "run"), short, FlyteTarget{Name: "flyte", Endpoint: endpoint})
		b.Flyte.LockDir = locks
		_, err := b.Run(context.Background())
		return err
	}
	var ie *InputError
	if err := run(a.URL); !errors.As(err, &ie) || !strings.Contains(err.Error(), "is in use by another benchctl run (benchctl run into /elsewhere, pid") {
		t.Fatalf("while held: err = %v, want bad input naming the holder", err)
	}
	other := fakeFlyte(t, 3*time.Millisecond)
	if err := run(other.URL); err != nil {
		t.Fatalf("another deployment: %v", err)
	}
	unlock()
	if err := run(a.URL); err != nil {
		t.Fatalf("after the holder ended: %v", err)
	}
}
