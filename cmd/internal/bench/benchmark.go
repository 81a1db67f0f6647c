package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/benchctl/benchctl/deploy"
	"github.com/benchctl/benchctl/portfolio"
	"github.com/benchctl/benchctl/portfolio/rundir"
	"github.com/benchctl/benchctl/provision"
	"github.com/benchctl/benchctl/reports"
	"github.com/benchctl/benchctl/reports/redact"
)

// Clusters is the provision stage as the pipeline uses it.
type Clusters interface {
	// Ensure returns the requested cluster, creating it if need be;
	// created says whether it did.
	Ensure(ctx context.Context, r ClusterRequest) (c *provision.Cluster, created bool, err error)
	// Delete removes a cluster Ensure created.
	Delete(ctx context.Context, c *provision.Cluster) error
	// Store records the clusters (and the host controllers of each).
	Store() *provision.Store
}

// Deployer is the deploy stage: Prepare checks without a cluster, Apply
// installs.
type Deployer interface {
	Prepare(ctx context.Context, o deploy.Options) (*deploy.Prepared, error)
	Apply(ctx context.Context, p *deploy.Prepared, c *provision.Cluster, store *provision.Store) (*deploy.Deployment, error)
	// Deployed reads the record of a deployment made earlier.
	Deployed(c *provision.Cluster, name string) (*deploy.Deployment, error)
	// Undeploy stops a deployment's controller (and admin service) and
	// uninstalls its release.
	Undeploy(ctx context.Context, c *provision.Cluster, store *provision.Store, name string) error
}

// Executor is the portfolio stage: it runs the plan's missing executions
// against the deployments, serially, recording each into dir.
type Executor interface {
	Execute(ctx context.Context, dir *rundir.Dir, m *rundir.Manifest, c *portfolio.Compiled, cl *provision.Cluster, ds []*deploy.Deployment, progress io.Writer) (*rundir.Run, error)
}

// TargetSpec is one deployment a run measures.
type TargetSpec struct {
	// Name names the deployment (default: the config's name).
	Name string
	// Config is a named config or a values file.
	Config string
	// Source is the controller to run.
	Source deploy.Source
}

// Benchmark is one benchmark run: a cluster, one or more deployments, a
// portfolio tier, and the reports and diffs it makes. It backs 'benchctl
// run', 'compare' (two targets of one config) and 'portfolio run'
// (Deployed: the controllers are already deployed).
type Benchmark struct {
	Cluster ClusterRequest
	// Targets are measured in this order; the first is the baseline.
	Targets []TargetSpec
	// Deploy carries the values, image and timeout settings every target
	// shares (its Name, Config and Source are the target's).
	Deploy deploy.Options
	// Deployed skips the deploy stage: the targets name deployments that
	// 'benchctl deploy' made on the cluster.
	Deployed bool
	// Flyte, when set, runs the portfolio's flyte: entries on Flyte
	// deployments (the flyte engine) instead of Targets on Cluster.
	Flyte     *Flyte
	Portfolio PortfolioSpec
	// OutputDir is the run directory (default: DefaultRunDir).
	OutputDir string
	// Resume continues the run in OutputDir; Force resumes it even though
	// its controller, config or portfolio changed (recorded in the
	// reports).
	Resume, Force bool
	// KeepWorkflows leaves finished Workflows in the cluster.
	KeepWorkflows bool
	// KeepDeployments leaves the controllers this run deployed running
	// after it ends; by default they are undeployed, so that no idle
	// controller loads the next run.
	KeepDeployments bool
	// NoReports stops after the executions (portfolio run).
	NoReports bool
	// Adaptive, when set, adds repetitions to each workflow after the
	// planned ones until its wall time is precise enough
	// (portfolio.Adaptive); each report records why it stopped.
	Adaptive *portfolio.Adaptive
	Gate     Gate
	// Calibration is cached, fresh or off (see CalibrateCached); the
	// floor is measured after the deploy stage (which installs the CRD)
	// and before the first execution, and goes into every report.
	Calibration string
	// Benchctl identifies this build of benchctl for the reports.
	Benchctl reports.BuildInfo
	// Progress receives progress lines (stderr).
	Progress io.Writer

	Clusters   Clusters
	Deployer   Deployer
	Executor   Executor
	Calibrator Calibrator
}

// Result is what a benchmark run produced.
type Result struct {
	Dir     string
	Cluster *provision.Cluster
	// ClusterCreated says whether the run created the cluster; Deleted
	// whether it deleted it again.
	ClusterCreated, Deleted bool
	Run                     *rundir.Run
	// Outcome is nil when no reports were made.
	Outcome *Outcome
}

// Failed is the number of recorded executions that failed or timed out.
func (r *Result) Failed() int {
	if r.Run == nil {
		return 0
	}
	return r.Run.Failed()
}

// Err is the result's verdict as an error: failed executions, invalid
// reports, regressions. nil when everything passed.
func (r *Result) Err() error {
	var errs []error
	if n := r.Failed(); n > 0 {
		errs = append(errs, fmt.Errorf("%d of %d executions failed or timed out; see the records in %s", n, len(r.Run.Records), r.Dir))
	}
	if r.Outcome != nil {
		errs = append(errs, r.Outcome.Err())
	}
	return errors.Join(errs...)
}

// target is one target through the stages.
type target struct {
	spec     TargetSpec
	prepared *deploy.Prepared
	deployed *deploy.Deployment
}

// Run runs the benchmark. Bad input is an *InputError, returned before any
// cluster is touched; an interrupt returns the partial result with an
// error wrapping context.Canceled (resume with Resume). Once the
// executions are recorded the result is returned with a nil error; its
// Err says whether they passed.
func (b *Benchmark) Run(ctx context.Context) (*Result, error) {
	if b.Progress == nil {
		b.Progress = io.Discard
	}
	if len(b.Targets) == 0 && b.Flyte == nil {
		return nil, inputErrorf("no targets to run")
	}
	if b.Resume && b.OutputDir == "" {
		return nil, inputErrorf("--resume needs --output-dir: the directory of the run to continue")
	}
	compiled, err := b.Portfolio.Compile()
	if err != nil {
		return nil, err
	}
	if err := b.checkEngine(compiled); err != nil {
		return nil, err
	}
	if b.OutputDir == "" {
		b.OutputDir = DefaultRunDir(time.Now(), compiled.Tier)
	}
	dir := rundir.Open(b.OutputDir)
	// Before any cluster is touched: nothing measured may be lost to a
	// directory that cannot hold it.
	if err := dir.Probe(); err != nil {
		return nil, inputErr(err)
	}
	if b.Flyte != nil {
		return b.runFlyte(ctx, compiled, dir)
	}
	ts, err := b.prepare(ctx)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.name()
	}
	plan := portfolio.Plan(compiled, names)
	if err := b.checkAdaptive(compiled); err != nil {
		return nil, err
	}
	old, err := b.previous(dir, compiled, plan, identities(ts, b.Deployed))
	if err != nil {
		return nil, err
	}

	res := &Result{Dir: b.OutputDir}
	if res.Cluster, res.ClusterCreated, err = b.Clusters.Ensure(ctx, b.Cluster); err != nil {
		return nil, err
	}
	defer b.teardown(ctx, res)
	// One run at a time per cluster: interleaved executions would make
	// each other's metric deltas meaningless.
	unlock, err := res.Cluster.LockRuns("benchctl run into " + b.OutputDir)
	if err != nil {
		return nil, lockError(err)
	}
	defer unlock()
	defer b.undeploy(ctx, res, ts)
	if err := b.deploy(ctx, res.Cluster, ts); err != nil {
		return res, err
	}
	var floor *reports.Floor
	if old == nil { // a resumed run keeps the floor it started with
		floor = b.floor(ctx, res.Cluster, compiled, ts[0].deployed)
		if err := ctx.Err(); err != nil {
			return res, err
		}
	}
	var targets []rundir.Target
	for _, t := range ts {
		env, err := Environment(res.Cluster, t.deployed, b.Benchctl)
		if err != nil {
			return res, err
		}
		env.Floor = floor
		targets = append(targets, rundir.Target{Name: t.name(), Namespace: t.deployed.Namespace, Environment: env,
			Inputs: t.prepared.Inputs, InputsHash: t.prepared.InputsHash})
	}
	m, err := b.manifest(dir, old, compiled, plan, targets)
	if err != nil {
		return res, err
	}
	fmt.Fprintf(b.Progress, "running portfolio %s, tier %s, on cluster %s with %v; records in %s\n",
		compiled.Name, compiled.Tier, res.Cluster.Name, names, b.OutputDir)
	var ds []*deploy.Deployment
	for _, t := range ts {
		ds = append(ds, t.deployed)
	}
	return res, b.executeAndReport(ctx, dir, m, compiled, names, res, func(ctx context.Context, m *rundir.Manifest) (*rundir.Run, error) {
		return b.Executor.Execute(ctx, dir, m, compiled, res.Cluster, ds, b.Progress)
	})
}

// checkAdaptive checks the adaptive rule against the portfolio's planned
// repetitions.
func (b *Benchmark) checkAdaptive(compiled *portfolio.Compiled) error {
	if b.Adaptive == nil {
		return nil
	}
	most := 0
	for _, w := range compiled.Workflows {
		most = max(most, w.Repetitions)
	}
	return inputErr(b.Adaptive.Check(most))
}

// runPlan executes the manifest's plan (its missing executions).
type runPlan func(ctx context.Context, m *rundir.Manifest) (*rundir.Run, error)

// executeAndReport runs the plan (and, adaptive, the repetitions it
// adds), then aggregates the reports and diffs into res; an error is
// the run's (bad input, an interrupt, a failure that stopped it).
func (b *Benchmark) executeAndReport(ctx context.Context, dir *rundir.Dir, m *rundir.Manifest, compiled *portfolio.Compiled, names []string, res *Result, execute runPlan) error {
	var err error
	res.Run, err = execute(ctx, m)
	var stops []portfolio.Decision
	if err == nil && b.Adaptive != nil {
		res.Run, stops, err = b.adapt(ctx, dir, m, compiled, names, res.Run, execute)
	}
	if err != nil {
		if res.Run != nil && !res.Run.Complete() {
			fmt.Fprintf(b.Progress, "%d of %d executions recorded; continue with the same command plus --output-dir %s --resume\n",
				len(res.Run.Records), len(m.Plan), b.OutputDir)
		}
		return err
	}
	if b.NoReports {
		return nil
	}
	if stops != nil {
		// Why each workflow stopped goes into the manifest, so that every
		// aggregation of this run (now, or 'benchctl aggregate' later)
		// reports it.
		if err := b.recordStops(dir, m, stops); err != nil {
			return err
		}
		res.Run.Manifest = m
	}
	res.Outcome, err = report(res.Run, dir.ReportsDir(), b.Gate, b.Progress)
	return err
}

// adapt runs the adaptive repetitions: while a workflow's wall interval
// is wider than the target and it is below the maximum, it gets the next
// batch of repetitions, appended to the manifest's plan (written before
// they run, so a resume continues them) and executed.
func (b *Benchmark) adapt(ctx context.Context, dir *rundir.Dir, m *rundir.Manifest, c *portfolio.Compiled,
	targets []string, run *rundir.Run, execute runPlan) (*rundir.Run, []portfolio.Decision, error) {
	var workflows []string
	for _, w := range c.Workflows {
		workflows = append(workflows, w.Name)
	}
	a := *b.Adaptive
	for {
		decisions := a.Decide(run, targets, workflows)
		plan, n := a.Extend(m.Plan, targets, decisions)
		if n == 0 {
			for _, d := range decisions {
				fmt.Fprintf(b.Progress, "adaptive: %s stopped after %d repetitions: %s (precision ±%s, target ±%s)\n",
					d.Workflow, d.Repetitions, d.Reason, percent(d.Precision), percent(a.TargetPrecision))
			}
			return run, decisions, nil
		}
		for _, d := range decisions {
			if d.Reason == "" {
				fmt.Fprintf(b.Progress, "adaptive: %s at ±%s after %d repetitions, target ±%s: more repetitions\n",
					d.Workflow, percent(d.Precision), d.Repetitions, percent(a.TargetPrecision))
			}
		}
		m.Plan = plan
		for i := range m.Workflows {
			for _, p := range plan {
				if p.Workflow == m.Workflows[i].Name && !p.Warmup {
					m.Workflows[i].Repetitions = max(m.Workflows[i].Repetitions, p.Repetition)
				}
			}
		}
		if err := dir.WriteManifest(m); err != nil {
			return run, nil, err
		}
		var err error
		if run, err = execute(ctx, m); err != nil {
			return run, nil, err
		}
	}
}

// lockError is a run lock's error: another run holding it is the user's
// to resolve (bad input, exit 2), anything else is the run's.
func lockError(err error) error {
	if errors.Is(err, provision.ErrClusterBusy) {
		return inputErr(err)
	}
	return err
}

// recordStops writes into the manifest why each workflow stopped.
func (b *Benchmark) recordStops(dir *rundir.Dir, m *rundir.Manifest, stops []portfolio.Decision) error {
	for i := range m.Workflows {
		w := &m.Workflows[i]
		for _, d := range stops {
			if d.Workflow != w.Name {
				continue
			}
			st := &reports.Stopped{Reason: d.Reason, Repetitions: d.Repetitions, Target: b.Adaptive.TargetPrecision}
			if !math.IsInf(d.Precision, 0) {
				p := d.Precision
				st.Precision = &p
			}
			w.Stopped = st
		}
	}
	return dir.WriteManifest(m)
}

func percent(x float64) string {
	if math.IsInf(x, 0) {
		return "∞"
	}
	return fmt.Sprintf("%.1f%%", 100*x)
}

func (t *target) name() string { return t.prepared.Options.Name }

// prepare checks every target's config and resolves its controller
// before any cluster is touched; with Deployed, only the names.
func (b *Benchmark) prepare(ctx context.Context) ([]*target, error) {
	var ts []*target
	seen := map[string]bool{}
	for _, spec := range b.Targets {
		o := b.Deploy
		o.Name, o.Config, o.Source, o.Progress = spec.Name, spec.Config, spec.Source, b.Progress
		var p *deploy.Prepared
		if b.Deployed {
			p = &deploy.Prepared{Options: o}
			if p.Options.Name == "" {
				p.Options.Name = spec.Config
			}
		} else {
			var err error
			if p, err = b.Deployer.Prepare(ctx, o); err != nil {
				var ce *deploy.ConfigError
				if errors.As(err, &ce) {
					return nil, inputErr(err)
				}
				return nil, err
			}
		}
		if seen[p.Options.Name] {
			return nil, inputErrorf("deployment %q is named twice; give each --config its own name", p.Options.Name)
		}
		seen[p.Options.Name] = true
		ts = append(ts, &target{spec: spec, prepared: p})
	}
	return ts, nil
}

// previous reads the manifest of the run being resumed and checks that
// this invocation is the same run: the same portfolio, plan, targets,
// controllers and config inputs. A difference is an InputError naming it,
// unless Force, which records it. Without Resume the directory must hold
// no run. nil when there is no run to resume.
// identity is what a resumed run must find unchanged about a target.
type identity struct {
	name string
	// controller is the build to run (nil: not checked, as for
	// deployments made earlier).
	controller *deploy.ControllerInfo
	// inputs and their hash are what configures it ("" hash: not checked).
	inputs     map[string]any
	inputsHash string
}

// identities are the bundled controller's targets' identities; with
// deployed, the deployments were made earlier and only their names count.
func identities(ts []*target, deployed bool) []identity {
	var out []identity
	for _, t := range ts {
		id := identity{name: t.name()}
		if !deployed {
			c := t.prepared.Controller()
			id.controller, id.inputs, id.inputsHash = &c, t.prepared.Inputs, t.prepared.InputsHash
		}
		out = append(out, id)
	}
	return out
}

func (b *Benchmark) previous(dir *rundir.Dir, c *portfolio.Compiled, plan []rundir.PlanEntry, ids []identity) (*resumed, error) {
	m, err := dir.ReadManifest()
	switch {
	case errors.Is(err, rundir.ErrNoRun):
		if b.Resume {
			fmt.Fprintf(b.Progress, "no run in %s to resume; starting a new one\n", dir.Path)
		}
		return nil, nil
	case err != nil:
		return nil, inputErr(err)
	case !b.Resume:
		return nil, inputErrorf("%s already holds a run (%s); pass --resume to continue it or choose another --output-dir", dir.Path, m.RunID)
	}
	var diffs []string
	if m.Portfolio.Hash != c.Hash || m.Portfolio.Tier != c.Tier {
		diffs = append(diffs, fmt.Sprintf("portfolio: it ran %s tier %s (%s), now %s tier %s (%s)",
			m.Portfolio.Name, m.Portfolio.Tier, m.Portfolio.Hash, c.Name, c.Tier, c.Hash))
	}
	names := make([]string, len(ids))
	for i, id := range ids {
		names[i] = id.name
	}
	if !slices.Equal(m.TargetNames(), names) {
		diffs = append(diffs, fmt.Sprintf("targets: it ran %v, now %v", m.TargetNames(), names))
	} else if !samePlan(m.Plan, plan, b.Adaptive != nil) {
		diffs = append(diffs, fmt.Sprintf("plan: %d executions planned, now %d (repetitions, warm-ups or workflows changed)", len(m.Plan), len(plan)))
	}
	for _, id := range ids {
		mt := m.Target(id.name)
		if mt == nil {
			continue
		}
		if now := id.controller; now != nil {
			if was := mt.Environment.Controller; was.Commit != now.Commit || was.Source != now.Source {
				diffs = append(diffs, fmt.Sprintf("%s: controller %s (commit %s), now %s (commit %s)", id.name, was.Source, was.Commit, now.Source, now.Commit))
			}
		}
		if mt.InputsHash != "" && id.inputsHash != "" && mt.InputsHash != id.inputsHash {
			diffs = append(diffs, fmt.Sprintf("%s: config values %s", id.name, valueDiff(mt.Inputs, id.inputs)))
		}
	}
	if len(diffs) > 0 && !b.Force {
		return nil, inputErrorf("cannot resume the run in %s: %s; start a new run, or pass --force to resume anyway (the reports will say so)", dir.Path, joinSemi(diffs))
	}
	return &resumed{manifest: m, forced: diffs}, nil
}

// samePlan says whether a run planned as was can continue as now: the
// same executions, in any order (the manifest's order is kept: a run
// planned before the balanced order resumes in its own), or, for an
// adaptive run, now's executions and the repetitions it added.
func samePlan(was, now []rundir.PlanEntry, adaptive bool) bool {
	type key struct {
		workflow, target string
		rep              int
		warmup           bool
	}
	set := map[key]bool{}
	for _, p := range was {
		set[key{p.Workflow, p.Target, p.Repetition, p.Warmup}] = true
	}
	for _, p := range now {
		if !set[key{p.Workflow, p.Target, p.Repetition, p.Warmup}] {
			return false
		}
	}
	return len(was) == len(now) || (adaptive && len(was) > len(now))
}

// resumed is the run being continued.
type resumed struct {
	manifest *rundir.Manifest
	forced   []string
}

// deploy applies every prepared target (or reads the records of targets
// already deployed).
func (b *Benchmark) deploy(ctx context.Context, c *provision.Cluster, ts []*target) error {
	for _, t := range ts {
		if b.Deployed {
			d, err := b.Deployer.Deployed(c, t.name())
			if err != nil {
				return inputErr(err)
			}
			t.deployed = d
			continue
		}
		fmt.Fprintf(b.Progress, "deploying %s (config %s, %s)\n", t.name(), t.prepared.Named.Name, t.prepared.Controller().Source)
		d, err := b.Deployer.Apply(ctx, t.prepared, c, b.Clusters.Store())
		if err != nil {
			var ce *deploy.ConfigError
			if errors.As(err, &ce) {
				return inputErr(err)
			}
			return err
		}
		t.deployed = d
	}
	return nil
}

// manifest writes the run's manifest before the first execution: a new
// one, or the resumed one with this resumption added. On resume, each
// target's running controller must match what the manifest recorded.
func (b *Benchmark) manifest(dir *rundir.Dir, old *resumed, c *portfolio.Compiled, plan []rundir.PlanEntry, targets []rundir.Target) (*rundir.Manifest, error) {
	if old != nil {
		m := old.manifest
		forced := old.forced
		for _, t := range targets {
			if mt := m.Target(t.Name); mt != nil && mt.Environment.Config.Hash != t.Environment.Config.Hash {
				diff := fmt.Sprintf("%s: effective config %s", t.Name, valueDiff(mt.Environment.Config.Values, t.Environment.Config.Values))
				if !b.Force {
					return nil, inputErrorf("cannot resume the run in %s: %s; start a new run, or pass --force", dir.Path, diff)
				}
				forced = append(forced, diff)
			}
		}
		m.Resumes = append(m.Resumes, rundir.Resume{At: time.Now().UnixNano(), Forced: forced})
		if err := dir.WriteManifest(m); err != nil {
			return nil, err
		}
		return m, nil
	}
	id := make([]byte, 4)
	if _, err := rand.Read(id); err != nil {
		return nil, fmt.Errorf("run ID: %w", err)
	}
	m := &rundir.Manifest{
		RunID:     hex.EncodeToString(id),
		Portfolio: rundir.PortfolioRef{Name: c.Name, Tier: c.Tier, Hash: c.Hash},
		Workflows: c.Planned(),
		Targets:   targets,
		Plan:      plan,
		Started:   time.Now().UnixNano(),
	}
	if err := dir.Create(m, c); err != nil {
		return nil, inputErr(err)
	}
	return m, nil
}

// undeploy stops what this run deployed, unless asked to keep it, it
// only used deployments made earlier (portfolio run), or the cluster is
// about to be deleted anyway. It runs on interrupt too (a resume deploys
// again).
func (b *Benchmark) undeploy(ctx context.Context, res *Result, ts []*target) {
	if b.KeepDeployments || b.Deployed || (res.ClusterCreated && b.Cluster.Teardown) {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	var names []string
	for _, t := range ts {
		if t.deployed == nil {
			continue
		}
		if err := b.Deployer.Undeploy(ctx, res.Cluster, b.Clusters.Store(), t.name()); err != nil {
			fmt.Fprintf(b.Progress, "undeploy %s: %v\n", t.name(), err)
			continue
		}
		names = append(names, t.name())
	}
	if len(names) > 0 {
		fmt.Fprintf(b.Progress, "undeployed %s from cluster %s (--keep-deployments keeps them running)\n", strings.Join(names, ", "), res.Cluster.Name)
	}
}

// teardown deletes the cluster when the run created it and was asked to.
func (b *Benchmark) teardown(ctx context.Context, res *Result) {
	if !res.ClusterCreated || !b.Cluster.Teardown {
		return
	}
	if err := b.Clusters.Delete(context.WithoutCancel(ctx), res.Cluster); err != nil {
		fmt.Fprintf(b.Progress, "teardown of cluster %s: %v\n", res.Cluster.Name, err)
		return
	}
	res.Deleted = true
}

// Environment is what a report records about where a deployment ran.
func Environment(c *provision.Cluster, d *deploy.Deployment, benchctl reports.BuildInfo) (reports.Environment, error) {
	cfg, err := reports.NewConfig(d.Config, redact.Values(d.Behaviour))
	if err != nil {
		return reports.Environment{}, err
	}
	fp := c.Fingerprint
	var admin *reports.Admin
	if d.Admin != nil {
		admin = &reports.Admin{Version: d.Admin.Version, Commit: d.Admin.Commit, Database: d.Admin.Database}
	}
	return reports.Environment{
		Engine:     &reports.Engine{Name: reports.EngineBundled, Version: d.Controller.Version},
		Admin:      admin,
		Provider:   reports.Provider{Name: fp.Provider, KubernetesVersion: fp.KubernetesVersion, Nodes: fp.Nodes, Options: redact.Strings(fp.Options)},
		Benchctl:   benchctl,
		Controller: reports.Controller{Version: d.Controller.Version, Commit: d.Controller.Commit, Source: redact.String(d.Controller.Source)},
		Config:     cfg,
		Host:       reports.CurrentHost(),
	}, nil
}
