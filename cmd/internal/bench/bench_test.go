package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/benchctl/benchctl/controller/api/v1alpha1"
	"github.com/benchctl/benchctl/deploy"
	"github.com/benchctl/benchctl/portfolio"
	"github.com/benchctl/benchctl/portfolio/rundir"
	"github.com/benchctl/benchctl/provision"
	"github.com/benchctl/benchctl/reports"
)

// recorded is a real smoke-tier run (see aggregate/testdata): the fake
// executor replays its executions, so the pipeline's aggregation runs on
// real spans and scrapes.
const recorded = "../../../aggregate/testdata/smoke-run"

// fakeClusters hands out one cluster and counts what was asked of it.
type fakeClusters struct {
	store            *provision.Store
	ensured, deleted int
	exists           bool
	dir              string // the clusters' state directory (none: no run lock)
}

func (f *fakeClusters) Store() *provision.Store { return f.store }

func (f *fakeClusters) Ensure(_ context.Context, r ClusterRequest) (*provision.Cluster, bool, error) {
	f.ensured++
	created := !f.exists
	f.exists = true
	return &provision.Cluster{Name: r.Name, Provider: provision.ProviderLocal, CreatedBy: provision.CreatedByBenchctl, Dir: f.dir,
		Fingerprint: provision.Fingerprint{Provider: provision.ProviderLocal, KubernetesVersion: "v1.36.3", Nodes: 3}}, created, nil
}

func (f *fakeClusters) Delete(context.Context, *provision.Cluster) error {
	f.deleted++
	return nil
}

// fakeDeployer prepares from the target's config name: a config "bad"
// fails as bad input; the controller's commit is the source spec.
type fakeDeployer struct {
	applied    []string
	undeployed []string
	workers    map[string]int // config -> a value that changes its inputs
	prepared   int
}

func (f *fakeDeployer) Prepare(_ context.Context, o deploy.Options) (*deploy.Prepared, error) {
	f.prepared++
	if o.Config == "bad" {
		return nil, &deploy.ConfigError{Err: errors.New("bad.yaml:2: config.workers: must be >= 1")}
	}
	if o.Name == "" {
		o.Name = o.Config
	}
	o.Namespace = "benchctl-" + o.Name
	inputs := map[string]any{"config": map[string]any{"workers": float64(8 + f.workers[o.Config])}}
	h, err := reports.HashValues(inputs)
	if err != nil {
		return nil, err
	}
	commit := o.Source.Spec
	if commit == "" {
		commit = "bundled0"
	}
	return &deploy.Prepared{Options: o, Named: deploy.NamedConfig{Name: o.Config},
		Build: &deploy.ControllerBuild{Version: commit, Commit: commit, Source: commit}, Inputs: inputs, InputsHash: h}, nil
}

func (f *fakeDeployer) Apply(_ context.Context, p *deploy.Prepared, _ *provision.Cluster, _ *provision.Store) (*deploy.Deployment, error) {
	f.applied = append(f.applied, p.Options.Name)
	return f.record(p.Options.Name, p.Named.Name, p.Inputs["config"].(map[string]any), p.Controller()), nil
}

func (f *fakeDeployer) Undeploy(_ context.Context, _ *provision.Cluster, _ *provision.Store, name string) error {
	f.undeployed = append(f.undeployed, name)
	return nil
}

func (f *fakeDeployer) Deployed(_ *provision.Cluster, name string) (*deploy.Deployment, error) {
	return f.record(name, name, map[string]any{"workers": float64(8)}, deploy.ControllerInfo{Version: "v", Commit: "c", Source: "bundled"}), nil
}

func (f *fakeDeployer) record(name, config string, behaviour map[string]any, ci deploy.ControllerInfo) *deploy.Deployment {
	h, _ := reports.HashValues(behaviour)
	return &deploy.Deployment{Name: name, Namespace: "benchctl-" + name, Config: config, Behaviour: behaviour, ConfigHash: h, Controller: ci}
}

// replay is an executor that replays the recorded run: each planned
// execution gets the artifacts and outcome of the recorded execution of
// the same workflow, warm-up flag and repetition. It stops after stopAfter
// executions (an interrupt) and fails every execution of fail.
type replay struct {
	t         *testing.T
	source    *rundir.Run
	stopAfter int // 0: never
	fail      string
	executed  []string
}

func (r *replay) Execute(ctx context.Context, dir *rundir.Dir, m *rundir.Manifest, c *portfolio.Compiled, _ *provision.Cluster, ds []*deploy.Deployment, _ io.Writer) (*rundir.Run, error) {
	done, _, err := dir.Records(m.Plan)
	if err != nil {
		return nil, err
	}
	run := &rundir.Run{Dir: dir.Path, Manifest: m}
	result := func() *rundir.Run {
		run.Records, run.Missing = nil, nil
		for _, p := range m.Plan {
			if rec, ok := done[p.Seq]; ok {
				run.Records = append(run.Records, rec)
			} else {
				run.Missing = append(run.Missing, p)
			}
		}
		return run
	}
	for _, p := range m.Plan {
		if _, ok := done[p.Seq]; ok {
			continue
		}
		if r.stopAfter > 0 && len(r.executed) == r.stopAfter {
			return result(), fmt.Errorf("interrupted before %s: %w", p.DirName(), context.Canceled)
		}
		src := r.match(p)
		e := dir.Execution(p)
		if err := e.Prepare(); err != nil {
			return nil, err
		}
		for _, a := range src.Artifacts {
			name := strings.TrimSuffix(a, ".gz")
			b, err := src.ReadArtifact(name)
			if err != nil {
				return nil, err
			}
			if err := e.WriteArtifact(name, b); err != nil {
				return nil, err
			}
		}
		rec := *src
		rec.PlanEntry, rec.Dir = p, e.Path
		// Bookkeeping instants are now; measured ones stay with the spans.
		rec.Began = time.Now().UnixNano()
		rec.Ended = rec.Began + (src.Ended - src.Began)
		if p.Workflow == r.fail {
			rec.Phase, rec.Error = v1alpha1.WorkflowFailed, "workflow Failed: node n0 failed"
		}
		if err := e.WriteRecord(&rec); err != nil {
			return nil, err
		}
		done[p.Seq] = &rec
		r.executed = append(r.executed, p.DirName())
	}
	return result(), nil
}

func (r *replay) match(p rundir.PlanEntry) *rundir.Record {
	for _, rec := range r.source.Records {
		if rec.Workflow == p.Workflow && rec.Warmup == p.Warmup && rec.Repetition == p.Repetition {
			return rec
		}
	}
	// Repetitions beyond the recorded ones (adaptive runs) replay them in turn.
	if n := len(r.source.Samples(r.source.Records[0].Target, p.Workflow)); !p.Warmup && n > 0 && p.Repetition > n {
		p.Repetition = (p.Repetition-1)%n + 1
		return r.match(p)
	}
	r.t.Fatalf("the recorded run has no execution like %+v", p)
	return nil
}

type fixture struct {
	clusters *fakeClusters
	deployer *fakeDeployer
	executor *replay
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	src, err := rundir.Load(recorded)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{
		clusters: &fakeClusters{store: provision.NewStore(t.TempDir())},
		deployer: &fakeDeployer{workers: map[string]int{}},
		executor: &replay{t: t, source: src},
	}
}

func (f *fixture) benchmark(dir string, configs ...string) *Benchmark {
	var ts []TargetSpec
	for _, c := range configs {
		ts = append(ts, TargetSpec{Config: c})
	}
	return &Benchmark{
		Cluster: ClusterRequest{Name: "test"}, Targets: ts, OutputDir: dir,
		Portfolio: PortfolioSpec{Tier: portfolio.TierSmoke}, Benchctl: reports.BuildInfo{Version: "test", Commit: "test"},
		Clusters: f.clusters, Deployer: f.deployer, Executor: f.executor,
	}
}

// TestBenchmarkPipeline drives the whole pipeline with fake stages: the
// reports come from the replayed real executions.
func TestBenchmarkPipeline(t *testing.T) {
	tests := []struct {
		name       string
		configs    []string
		fail       string
		gate       []string
		wantDiffs  int
		wantFailed int
		wantErr    string // from Result.Err
	}{
		{name: "one config", configs: []string{"default"}},
		{name: "two interleaved configs with a diff", configs: []string{"default", "streak-1"}, wantDiffs: 1},
		{name: "a failed execution", configs: []string{"default"}, fail: "short-chain", wantFailed: 4, wantErr: "4 of 48 executions failed"},
		{name: "a gate on identical data passes", configs: []string{"default", "other"}, gate: []string{"wall>+1%"}, wantDiffs: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.executor.fail = tt.fail
			dir := filepath.Join(t.TempDir(), "run")
			b := f.benchmark(dir, tt.configs...)
			for _, g := range tt.gate {
				th, err := reports.ParseThreshold(g)
				if err != nil {
					t.Fatal(err)
				}
				b.Gate.Thresholds = append(b.Gate.Thresholds, th)
			}
			res, err := b.Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got, want := len(res.Run.Records), 48*len(tt.configs); got != want || !res.Run.Complete() {
				t.Fatalf("%d records, want %d", got, want)
			}
			// Interleaved: each repetition once per config, alternating.
			if len(tt.configs) == 2 && (res.Run.Records[2].Target != tt.configs[0] || res.Run.Records[4].Target != tt.configs[1]) {
				t.Errorf("plan order: %s %s", res.Run.Records[2].DirName(), res.Run.Records[4].DirName())
			}
			if len(res.Outcome.Reports) != len(tt.configs) || len(res.Outcome.Diffs) != tt.wantDiffs {
				t.Fatalf("%d reports, %d diffs", len(res.Outcome.Reports), len(res.Outcome.Diffs))
			}
			for _, o := range res.Outcome.Reports {
				if _, err := reports.Load(o.YAML); err != nil {
					t.Errorf("report %s does not load: %v", o.YAML, err)
				}
				want := 12
				if tt.fail != "" {
					want = 11
				}
				if len(o.Report.Workflows) != want {
					t.Errorf("%s: %d workflows, want %d", o.Target, len(o.Report.Workflows), want)
				}
			}
			for _, d := range res.Outcome.Diffs {
				if _, err := os.Stat(d.Stem + ".md"); err != nil {
					t.Error(err)
				}
			}
			if res.Failed() != tt.wantFailed {
				t.Errorf("failed = %d, want %d", res.Failed(), tt.wantFailed)
			}
			err = res.Err()
			if (tt.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("Err() = %v, want %q", err, tt.wantErr)
			}
			// The manifest records each target's environment.
			m, err := rundir.Open(dir).ReadManifest()
			if err != nil {
				t.Fatal(err)
			}
			for i, tg := range m.Targets {
				if tg.Name != tt.configs[i] || tg.Environment.Config.Hash == "" || tg.Environment.Controller.Commit != "bundled0" || tg.InputsHash == "" {
					t.Errorf("manifest target %d: %+v", i, tg)
				}
			}
		})
	}
}

// TestBenchmarkInterruptAndResume interrupts a run, aggregates what was
// recorded, then resumes: every planned execution is recorded exactly
// once and the ones recorded before are kept.
func TestBenchmarkInterruptAndResume(t *testing.T) {
	f := newFixture(t)
	dir := filepath.Join(t.TempDir(), "run")
	f.executor.stopAfter = 10
	_, err := f.benchmark(dir, "default").Run(context.Background())
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: err = %v", err)
	}
	first := append([]string(nil), f.executor.executed...)

	// What the interrupted run recorded aggregates, with warnings.
	agg, err := (&Aggregate{Dir: dir}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rep := agg.Outcome.Reports[0].Report
	if !rep.Validity.Valid || !strings.Contains(rep.Validity.Summary(), reports.ReasonMissingExecutions) {
		t.Errorf("partial report: %s", rep.Validity.Summary())
	}

	f.executor.stopAfter = 0
	b := f.benchmark(dir, "default")
	b.Resume = true
	res, err := b.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !res.Run.Complete() || len(res.Run.Records) != 48 {
		t.Fatalf("resumed: %d records", len(res.Run.Records))
	}
	seen := map[string]int{}
	for _, e := range f.executor.executed {
		seen[e]++
	}
	for e, n := range seen {
		if n != 1 {
			t.Errorf("%s executed %d times", e, n)
		}
	}
	if len(seen) != 48 || len(first) != 10 {
		t.Errorf("%d distinct executions (%d before the interrupt)", len(seen), len(first))
	}
	if f.clusters.deleted != 0 {
		t.Error("the cluster was deleted without --teardown")
	}
	m, err := rundir.Open(dir).ReadManifest()
	if err != nil || len(m.Resumes) != 1 || len(m.Resumes[0].Forced) != 0 {
		t.Errorf("manifest resumes: %+v (%v)", m.Resumes, err)
	}
}

// TestResumeRefusesAnotherRun: a resume whose controller, config values or
// portfolio differ is bad input naming the difference, before any
// cluster is touched; --force continues and the report says so.
func TestResumeRefusesAnotherRun(t *testing.T) {
	tests := []struct {
		name   string
		change func(f *fixture, b *Benchmark)
		want   string
	}{
		{"another controller", func(_ *fixture, b *Benchmark) { b.Targets[0].Source.Spec = "abc123" }, "controller bundled0 (commit bundled0), now abc123 (commit abc123)"},
		{"changed values", func(f *fixture, _ *Benchmark) { f.deployer.workers["default"] = 8 }, "config values config.workers: 8 -> 16"},
		{"another tier", func(_ *fixture, b *Benchmark) { b.Portfolio.Tier = portfolio.TierDefault }, "portfolio: it ran builtin tier smoke"},
		{"another config list", func(_ *fixture, b *Benchmark) { b.Targets = append(b.Targets, TargetSpec{Config: "streak-1"}) }, "targets: it ran [default], now [default streak-1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			dir := filepath.Join(t.TempDir(), "run")
			f.executor.stopAfter = 5
			if _, err := f.benchmark(dir, "default").Run(context.Background()); !errors.Is(err, context.Canceled) {
				t.Fatal(err)
			}
			f.executor.stopAfter = 0
			b := f.benchmark(dir, "default")
			b.Resume = true
			tt.change(f, b)
			ensured := f.clusters.ensured
			_, err := b.Run(context.Background())
			var ie *InputError
			if !errors.As(err, &ie) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want an input error containing %q", err, tt.want)
			}
			if f.clusters.ensured != ensured {
				t.Error("the cluster was touched before the resume was refused")
			}
			if tt.name == "another tier" || tt.name == "another config list" {
				return // a different plan cannot be forced into this directory
			}
			b.Force = true
			res, err := b.Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			s := res.Outcome.Reports[0].Report.Validity.Summary()
			if !strings.Contains(s, reports.ReasonForcedResume) {
				t.Errorf("forced resume not in the report: %s", s)
			}
		})
	}
}

// TestBenchmarkBadInput: bad input fails before the cluster is touched.
func TestBenchmarkBadInput(t *testing.T) {
	tests := []struct {
		name  string
		setup func(b *Benchmark, dir string)
		want  string
	}{
		{"a bad config", func(b *Benchmark, _ string) { b.Targets = []TargetSpec{{Config: "bad"}} }, "bad.yaml:2"},
		{"a config twice", func(b *Benchmark, _ string) { b.Targets = append(b.Targets, b.Targets[0]) }, `"default" is named twice`},
		{"an unknown tier", func(b *Benchmark, _ string) { b.Portfolio.Tier = "huge" }, `unknown tier "huge"`},
		{"resume without a directory", func(b *Benchmark, _ string) { b.Resume, b.OutputDir = true, "" }, "--resume needs --output-dir"},
		{"a directory that holds a run", func(b *Benchmark, dir string) {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			m := &rundir.Manifest{RunID: "old"}
			if err := rundir.Open(dir).Create(m, struct{}{}); err != nil {
				t.Fatal(err)
			}
		}, "already holds a run (old); pass --resume"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			dir := filepath.Join(t.TempDir(), "run")
			b := f.benchmark(dir, "default")
			tt.setup(b, dir)
			_, err := b.Run(context.Background())
			var ie *InputError
			if !errors.As(err, &ie) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want an input error containing %q", err, tt.want)
			}
			if f.clusters.ensured != 0 {
				t.Error("the cluster was touched")
			}
		})
	}
}

// TestBenchmarkTeardown deletes only a cluster the run created.
func TestBenchmarkTeardown(t *testing.T) {
	for _, exists := range []bool{false, true} {
		f := newFixture(t)
		f.clusters.exists = exists
		b := f.benchmark(filepath.Join(t.TempDir(), "run"), "default")
		b.Cluster.Teardown = true
		res, err := b.Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if want := !exists; res.Deleted != want || (f.clusters.deleted == 1) != want {
			t.Errorf("cluster existed %v: deleted %v (%d calls)", exists, res.Deleted, f.clusters.deleted)
		}
	}
}

// TestPortfolioRunDeployed runs against deployments made earlier and
// stops before the reports.
func TestPortfolioRunDeployed(t *testing.T) {
	f := newFixture(t)
	b := f.benchmark(filepath.Join(t.TempDir(), "run"), "default")
	b.Deployed, b.NoReports = true, true
	res, err := b.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if f.deployer.prepared != 0 || len(f.deployer.applied) != 0 || res.Outcome != nil || len(res.Run.Records) != 48 {
		t.Errorf("prepared %d, applied %v, outcome %v, %d records", f.deployer.prepared, f.deployer.applied, res.Outcome, len(res.Run.Records))
	}
}

// TestRunStopsWhatItDeployed: a run undeploys the controllers it
// deployed when it ends, so that none idles through the next run, unless
// asked to keep them; deployments it only used are left alone.
func TestRunStopsWhatItDeployed(t *testing.T) {
	tests := []struct {
		name     string
		keep     bool
		deployed bool
		want     []string
	}{
		{"by default", false, false, []string{"default", "other"}},
		{"--keep-deployments", true, false, nil},
		{"deployments made earlier (portfolio run)", false, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			b := f.benchmark(filepath.Join(t.TempDir(), "run"), "default", "other")
			b.KeepDeployments, b.Deployed = tt.keep, tt.deployed
			if _, err := b.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(f.deployer.undeployed, tt.want) {
				t.Errorf("undeployed %v, want %v", f.deployer.undeployed, tt.want)
			}
		})
	}
}

// TestUnwritableOutputDirFailsFirst: a run directory that cannot be
// created fails the run as bad input before any cluster is touched.
func TestUnwritableOutputDirFailsFirst(t *testing.T) {
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t)
	b := f.benchmark(filepath.Join(file, "run"), "default")
	_, err := b.Run(context.Background())
	var ie *InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "cannot be created") || f.clusters.ensured != 0 {
		t.Fatalf("err %v (%T), %d clusters ensured: want an input error naming the directory before any cluster", err, err, f.clusters.ensured)
	}
}

// TestSecondRunOnABusyClusterIsRefused: while one run holds a cluster,
// another on it fails as bad input, naming the first, before deploying.
func TestSecondRunOnABusyClusterIsRefused(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	f.clusters.dir = dir
	unlock, err := (&provision.Cluster{Name: "test", Dir: dir}).LockRuns("the first run")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	b := f.benchmark(filepath.Join(t.TempDir(), "run"), "default")
	_, err = b.Run(context.Background())
	var ie *InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "the first run") || len(f.deployer.applied) != 0 {
		t.Fatalf("err %v, %d deployed: want an input error naming the first run, nothing deployed", err, len(f.deployer.applied))
	}
}
