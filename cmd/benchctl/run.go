package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/benchctl/benchctl/cmd/internal/bench"
	"github.com/benchctl/benchctl/controller/chart"
	"github.com/benchctl/benchctl/deploy"
	"github.com/benchctl/benchctl/portfolio"
	"github.com/benchctl/benchctl/provision"
	"github.com/benchctl/benchctl/provision/kind"
	"github.com/benchctl/benchctl/provision/local"
	"github.com/benchctl/benchctl/reports"
)

func init() {
	register(newRunCmd)
	register(newCompareCmd)
}

// defaultCluster is the cluster name commands use when --cluster is unset.
const defaultCluster = "benchctl"

// clusterFlags name the cluster a command works on.
type clusterFlags struct {
	req bench.ClusterRequest
}

// flags registers --cluster, --kubeconfig and --context; creating says
// whether the command may create the cluster (--provider, --nodes,
// --teardown).
func (c *clusterFlags) flags(cmd *cobra.Command, g *globals, creating bool) {
	f := cmd.Flags()
	f.StringVar(&c.req.Name, "cluster", defaultCluster, "cluster to use (see 'benchctl clusters')")
	f.StringVar(&c.req.Kubeconfig, "kubeconfig", "", "use the cluster of this kubeconfig instead, without registering it first (treated as --provider existing: never deleted)")
	f.StringVar(&c.req.Context, "context", "", "the kubeconfig context to use with --kubeconfig")
	_ = cmd.RegisterFlagCompletionFunc("cluster", completeClusters(g))
	if !creating {
		c.req.NoCreate = true
		return
	}
	c.req.Spec = provision.Spec{Provider: provision.ProviderLocal, Nodes: 3}
	f.Lookup("cluster").Usage = "cluster to use; created with --provider and --nodes when it does not exist"
	f.StringVar(&c.req.Spec.Provider, "provider", c.req.Spec.Provider, "provider for a new cluster: local, kind, eks, gke")
	f.IntVar(&c.req.Spec.Nodes, "nodes", c.req.Spec.Nodes, "worker nodes of a new cluster")
	f.BoolVar(&c.req.Teardown, "teardown", false, "delete the cluster at the end if this command created it")
	// A new cloud cluster's shape, as 'benchctl provision' takes it.
	f.StringVar(&c.req.Spec.KubernetesVersion, "kubernetes-version", "", "Kubernetes version of a new cluster: kind v1.33.1, eks 1.33, gke 1.33 or latest (local runs its pinned version)")
	f.StringVar(&c.req.Spec.Region, "region", "", "new eks (required) or gke cluster: region")
	f.StringVar(&c.req.Spec.Zone, "zone", "", "new gke cluster: zone (a zonal cluster); eks: pins the node group to one zone")
	f.StringVar(&c.req.Spec.NodeType, "node-type", "", "new eks or gke cluster: instance / machine type (default m5.large / e2-standard-2)")
	f.StringVar(&c.req.Spec.Project, "project", "", "new gke cluster: Google Cloud project")
	_ = cmd.RegisterFlagCompletionFunc("provider", cobra.FixedCompletions(provision.Providers, cobra.ShellCompDirectiveNoFileComp))
}

// request is the cluster request after the flags were parsed.
func (c *clusterFlags) request(cmd *cobra.Command) (bench.ClusterRequest, error) {
	r := c.req
	switch {
	case r.Kubeconfig == "" && r.Context != "":
		return r, usageError(errors.New("--context needs --kubeconfig"))
	case r.Kubeconfig != "" && cmd.Flags().Changed("cluster"):
		return r, usageError(errors.New("--cluster and --kubeconfig name two clusters; give one"))
	}
	return r, nil
}

// portfolioFlags choose the workflows.
type portfolioFlags struct {
	spec                    bench.PortfolioSpec
	reps, warmup            int
	timeout                 time.Duration
	changed                 func(string) bool
	resume, force, keepWfls bool
	outDir                  string
	calibration             string
	profile                 bool
}

func (p *portfolioFlags) flags(f *pflag.FlagSet) {
	p.changed = f.Changed
	f.StringArrayVar(&p.spec.Files, "portfolio", nil, "portfolio file (repeatable, merged in order; 'builtin' = the embedded one; default: builtin)")
	f.StringVar(&p.spec.Tier, "tier", portfolio.TierDefault, "tier: smoke (seconds), default (a laptop, about 10 minutes), scale, or one the files declare")
	f.IntVar(&p.reps, "repetitions", 0, "measured repetitions per workflow (default: the portfolio's, 5 or more)")
	f.IntVar(&p.warmup, "warmup", 0, "warm-up executions per workflow, not counted (default: the portfolio's, 1)")
	f.DurationVar(&p.timeout, "timeout", 0, "timeout of each execution (default: the portfolio's per workflow)")
	f.StringVar(&p.outDir, "output-dir", "", "run directory (default: $XDG_DATA_HOME/benchctl/runs/<time>-<tier>)")
	f.BoolVar(&p.resume, "resume", false, "continue the interrupted run in --output-dir")
	f.BoolVar(&p.force, "force", false, "with --resume: continue even though the controller, config or portfolio changed (the reports say so)")
	f.BoolVar(&p.keepWfls, "keep-workflows", false, "leave finished Workflows and their pods in the cluster")
	f.BoolVar(&p.profile, "profile", false, "capture the controller's CPU profile of each execution and its allocation profiles before and after, into the execution's directory (go tool pprof)")
	f.StringVar(&p.calibration, "calibration", bench.CalibrateCached, "the cluster's floor for the reports (see 'benchctl calibrate'): cached (measured once per cluster and portfolio), fresh, or off")
}

// checkCalibration is a usage error for an unknown --calibration.
func (p *portfolioFlags) checkCalibration() error {
	if !slices.Contains(bench.CalibrationModes, p.calibration) {
		return usageError(fmt.Errorf("--calibration %q: want one of %s", p.calibration, strings.Join(bench.CalibrationModes, ", ")))
	}
	return nil
}

// portfolioSpec is the portfolio with the overrides the user gave.
func (p *portfolioFlags) portfolioSpec() bench.PortfolioSpec {
	s := p.spec
	if p.changed("repetitions") {
		s.Overrides.Repetitions = &p.reps
	}
	if p.changed("warmup") {
		s.Overrides.Warmup = &p.warmup
	}
	if p.changed("timeout") {
		s.Overrides.Timeout = &p.timeout
	}
	return s
}

// deployFlags are the values every deployment of a run shares.
type deployFlags struct {
	opts deploy.Options
}

func (d *deployFlags) flags(f *pflag.FlagSet) {
	// kind clusters get images built here and loaded into their nodes.
	d.opts.ImageLoader = kind.New()
	f.StringArrayVarP(&d.opts.ValuesFiles, "values", "f", nil, "extra values file for every deployment, as in helm (repeatable)")
	f.StringArrayVar(&d.opts.Set, "set", nil, "set a value for every deployment, as in helm: --set config.workers=16 (repeatable)")
	f.StringArrayVar(&d.opts.SetString, "set-string", nil, "set a string value for every deployment, as in helm (repeatable)")
	f.StringVar(&d.opts.ImageRepo, "image-repo", "", "registry the cluster pulls benchflow and benchtask images from (kind, eks, gke, existing)")
	f.BoolVar(&d.opts.InstallCRDs, "install-crds", false, "clusters benchctl did not create: allow installing the Workflow CRD (a cluster-scoped change)")
}

// gateFlags turn diffs into a verdict.
type gateFlags struct {
	failOn          []string
	gate            bench.Gate
	markdown, junit bool
}

func (g *gateFlags) flags(f *pflag.FlagSet) {
	f.StringArrayVar(&g.failOn, "fail-on", nil, "exit 1 when the whole interval of a shift lies beyond this threshold, e.g. 'wall>+5%' (see 'benchctl diff --help')")
	f.Float64Var(&g.gate.Alpha, "alpha", 0.05, "significance level of the comparisons")
	f.StringVar(&g.gate.Correction, "correction", reports.CorrectionNone, "multiple-comparison correction of the diffs' p-values: "+strings.Join(reports.Corrections, ", ")+" (see 'benchctl diff --help')")
	f.StringVar(&g.gate.Markdown, "markdown", "", "also write the first diff as Markdown to this file (for a pull-request comment)")
	f.StringVar(&g.gate.JUnit, "junit", "", "also write the first diff's gate as JUnit XML to this file")
}

// parse is the gate, or a usage error naming the bad flag.
func (g *gateFlags) parse() (bench.Gate, error) {
	out := g.gate
	if !(out.Alpha > 0 && out.Alpha < 1) {
		return out, usageError(fmt.Errorf("--alpha %v: want a level between 0 and 1, such as 0.05", out.Alpha))
	}
	if !slices.Contains(reports.Corrections, out.Correction) {
		return out, usageError(fmt.Errorf("--correction %q: want one of %s", out.Correction, strings.Join(reports.Corrections, ", ")))
	}
	for _, s := range g.failOn {
		th, err := reports.ParseThreshold(s)
		if err != nil {
			return out, usageError(fmt.Errorf("--fail-on: %w", err))
		}
		out.Thresholds = append(out.Thresholds, th)
	}
	return out, nil
}

// benchFlags are everything run and compare share.
type benchFlags struct {
	cluster   clusterFlags
	portfolio portfolioFlags
	deploy    deployFlags
	gate      gateFlags
	keep      bool
	dryRun    bool
}

func (b *benchFlags) flags(cmd *cobra.Command, g *globals) {
	b.cluster.flags(cmd, g, true)
	b.deploy.flags(cmd.Flags())
	b.portfolio.flags(cmd.Flags())
	b.gate.flags(cmd.Flags())
	cmd.Flags().BoolVar(&b.keep, "keep-deployments", false, "leave the controllers this run deployed running after it (default: undeploy them, so that none loads the next run)")
	cmd.Flags().BoolVar(&b.dryRun, "dry-run", false, "print every step (cluster create, image push, helm values, executions, teardown; with --engine flyte, the Admins, the registration and the executions) and run none")
}

// benchmark is the Benchmark the flags describe, with the live stages.
func (b *benchFlags) benchmark(cmd *cobra.Command, g *globals, targets []bench.TargetSpec) (*bench.Benchmark, error) {
	req, err := b.cluster.request(cmd)
	if err != nil {
		return nil, err
	}
	gate, err := b.gate.parse()
	if err != nil {
		return nil, err
	}
	p := b.portfolio
	if err := p.checkCalibration(); err != nil {
		return nil, err
	}
	return &bench.Benchmark{
		Cluster: req, Targets: targets, Deploy: b.deploy.opts, Portfolio: p.portfolioSpec(),
		OutputDir: p.outDir, Resume: p.resume, Force: p.force, KeepWorkflows: p.keepWfls, Gate: gate,
		Benchctl: reports.BuildInfo{Version: version, Commit: commit}, Progress: cmd.ErrOrStderr(),
		Clusters: g.clusters(), Deployer: bench.LiveDeployer{}, Executor: bench.LiveExecutor{KeepWorkflows: p.keepWfls, Profile: p.profile},
		Calibration: p.calibration, Calibrator: bench.LiveCalibrator{}, KeepDeployments: b.keep,
	}, nil
}

// controllerSource is where deploy finds the controller: the one built
// into this binary unless spec names a tree or a git ref.
func controllerSource(spec string) (deploy.Source, error) {
	exe, err := os.Executable()
	if err != nil {
		return deploy.Source{}, fmt.Errorf("locate benchctl: %w", err)
	}
	return deploy.Source{
		Spec:           spec,
		Bundled:        []string{exe, controllerCmdName},
		BundledAdmin:   []string{exe, adminCmdName},
		BundledChart:   chart.FS(),
		BundledVersion: version,
		BundledCommit:  commit,
		CacheDir:       local.DefaultCacheDir(),
	}, nil
}

func newRunCmd(g *globals) *cobra.Command {
	var (
		b         benchFlags
		engine    flyteFlags
		configs   []string
		source    string
		precision string
		maxReps   int
	)
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Provision, deploy, run the portfolio and report, in one go",
		Long: `Chain the four stages: provision a cluster (or reuse the one named
--cluster, or use the one --kubeconfig and --context name), deploy the
controller under each --config (a fresh controller process for every run),
run the portfolio tier with every config interleaved repetition by
repetition, and aggregate one report per config.

Everything goes into --output-dir (default
$XDG_DATA_HOME/benchctl/runs/<time>-<tier>, else ~/.local/share/...):
run.json (the manifest, written before the first execution),
executions/ (records, spans, metric scrapes), and
reports/<config>.{yaml,txt,md,bench}. With two or more configs, the first is
the baseline and each other is compared with it:
reports/diff-<a>-<b>.{txt,md,yaml}; --markdown and --junit also write the
first diff where a CI job wants it.

An interrupted run (Ctrl-C, or benchctl killed) continues with the same
command plus --output-dir DIR --resume. A resume refuses (exit 2) when the
controller, a config's values or the portfolio differ from what the run
started with, naming the difference; --force continues anyway and the
reports say so.

Configs run interleaved: each repetition in the order of the next row of a
Williams design (A B, B A for two configs; balanced for every position and
for which config runs right after which, for any number), recorded in
run.json's plan. The same config under two names is a values file (say
default-b.yaml holding 'config: {}') beside the named config.

Adaptive repetitions (--target-precision 2%): after the planned repetitions,
each workflow gets two more at a time, interleaved as above, until the 95%
interval of its wall time is within the target: the interval of the median
with one config, of each config's Hodges-Lehmann shift against the first
with several, relative to the first config's median. It stops at
--max-repetitions otherwise. The rule looks at the interval's width only,
never at significance, so the diffs' error rates hold. Each report's
workflow says why it stopped (stopped: reason, repetitions, precision).
The runner's own wall time (create returned to the watch seeing the end)
decides, as no spans are aggregated during a run.

A Flyte deployment (--engine flyte --flyte-endpoint URL) runs a portfolio
of flyte: entries, launch plans registered there (--register DIR registers
a package first, through flytectl): nothing is provisioned or deployed,
each execution is created and polled through Flyte Admin, and the reports
are measured from what Admin recorded. Several --flyte-endpoint, each named
by a --config in order, are compared as configs are. --dry-run prints the
plan without contacting Admin.

Exit codes: 0 valid reports (and, with --fail-on, no regression beyond a
threshold); 1 an invalid report, a failed execution, a regression or a
service that cannot be reached; 2 bad usage or input; 130 interrupted
(resume with --resume and the same --output-dir).`,
		Example: `  benchctl run                                   # local cluster, default tier, default config
  benchctl run --tier smoke                      # a quick check (about a minute)
  benchctl run --config default --config streak-1 --fail-on 'wall>+5%' --markdown diff.md
  benchctl run --controller-source main          # the controller of a git ref
  benchctl run --config default --config downstream-delay --target-precision 2% --max-repetitions 20
  benchctl run --kubeconfig ~/.kube/config --context lab --tier smoke --install-crds
  benchctl run --output-dir /tmp/r1 --resume     # after Ctrl-C
  benchctl run --provider eks --cluster perf --region us-west-2 --image-repo 1234.dkr.ecr.us-west-2.amazonaws.com/b --dry-run
  benchctl run --engine flyte --flyte-endpoint http://127.0.0.1:30080 --portfolio flyte.yaml
  benchctl run --engine flyte --flyte-endpoint http://127.0.0.1:30080 --portfolio flyte.yaml --dry-run
  benchctl run --engine flyte --flyte-endpoint https://a.example --config a --flyte-endpoint https://b.example --config b --flyte-client-id benchctl --flyte-client-secret-file secret --portfolio flyte.yaml`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			fl, err := engine.parse(cmd, configs)
			if err != nil {
				return err
			}
			var targets []bench.TargetSpec
			if fl == nil {
				if len(configs) == 0 {
					configs = []string{deploy.DefaultConfig}
				}
				src, err := controllerSource(source)
				if err != nil {
					return err
				}
				for _, c := range configs {
					targets = append(targets, bench.TargetSpec{Config: c, Source: src})
				}
			}
			bm, err := b.benchmark(cmd, g, targets)
			if err != nil {
				return err
			}
			if fl != nil {
				fl.LockDir = filepath.Join(g.stateDir, "flyte-runs")
				bm.Flyte = fl
				bm.Cluster.NoCreate = true // the deployments are Flyte's own
			}
			if precision != "" {
				x, err := parsePrecision(precision)
				if err != nil {
					return usageError(err)
				}
				bm.Adaptive = &portfolio.Adaptive{TargetPrecision: x, MaxRepetitions: maxReps}
			} else if cmd.Flags().Changed("max-repetitions") {
				return usageError(fmt.Errorf("--max-repetitions needs --target-precision"))
			}
			return runBenchmark(cmd, bm, b.dryRun)
		},
	}
	b.flags(cmd, g)
	engine.flags(cmd.Flags())
	_ = cmd.RegisterFlagCompletionFunc("engine", cobra.FixedCompletions(engines, cobra.ShellCompDirectiveNoFileComp))
	cmd.Flags().StringVar(&precision, "target-precision", "", "add repetitions until the 95% interval of each workflow's wall time (or of its shift against the first config) is within ±this, e.g. 2%")
	cmd.Flags().IntVar(&maxReps, "max-repetitions", 20, "with --target-precision: the most measured repetitions of any workflow")
	cmd.Flags().StringArrayVar(&configs, "config", nil, "named config or values file (repeatable, interleaved; the first is the baseline; default: default); with --engine flyte, the name of each --flyte-endpoint's config")
	cmd.Flags().StringVar(&source, "controller-source", "", "build the controller from a source tree DIR or a git REF (default: the one built into benchctl)")
	_ = cmd.RegisterFlagCompletionFunc("config", completeConfigs)
	return cmd
}

// parsePrecision reads a relative precision: "2%" or 0.02.
func parsePrecision(s string) (float64, error) {
	t := strings.TrimSpace(s)
	scale := 1.0
	if strings.HasSuffix(t, "%") {
		t, scale = strings.TrimSuffix(t, "%"), 0.01
	}
	x, err := strconv.ParseFloat(t, 64)
	if err != nil || !(x*scale > 0 && x*scale < 1) {
		return 0, fmt.Errorf("--target-precision %q: want a relative half-width such as 2%% or 0.02", s)
	}
	return x * scale, nil
}

func newCompareCmd(g *globals) *cobra.Command {
	var (
		b      benchFlags
		config string
	)
	cmd := &cobra.Command{
		Use:   "compare BASE HEAD",
		Short: "Compare the controllers of two git refs (or source trees)",
		Long: `Build the controller of BASE and of HEAD (git refs of the repository in
the working directory, through cached git worktrees, or source tree
directories), deploy both on the same cluster under the same config, run the
same portfolio with their executions interleaved (BASE HEAD, HEAD BASE, ...),
then diff HEAD against BASE with Mann-Whitney U tests.

Reports, diffs and records go to --output-dir (reports/base.yaml,
reports/head.yaml, reports/diff-base-head.{txt,md,yaml}); --markdown and
--junit write the diff where a CI job wants it.

Exit codes: 0 HEAD is the same as or better than BASE; 1 a significant
regression beyond a --fail-on threshold, an invalid report or a failed
execution; 2 bad usage or input; 130 interrupted.`,
		Example: `  benchctl compare main HEAD --tier smoke
  benchctl compare origin/main HEAD --fail-on 'wall>+5%' --markdown diff.md --junit junit.xml
  benchctl compare ../benchctl-old . --config streak-1`,
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var targets []bench.TargetSpec
			for i, role := range []string{"base", "head"} {
				src, err := controllerSource(args[i])
				if err != nil {
					return err
				}
				targets = append(targets, bench.TargetSpec{Name: role, Config: config, Source: src})
			}
			bm, err := b.benchmark(cmd, g, targets)
			if err != nil {
				return err
			}
			return runBenchmark(cmd, bm, b.dryRun)
		},
	}
	b.flags(cmd, g)
	cmd.Flags().StringVar(&config, "config", deploy.DefaultConfig, "named config or values file both controllers run under")
	_ = cmd.RegisterFlagCompletionFunc("config", completeConfigs)
	return cmd
}

// runBenchmark runs bm and prints its summaries; the exit code follows
// the verdict.
func runBenchmark(cmd *cobra.Command, bm *bench.Benchmark, dryRun bool) error {
	if dryRun {
		return bm.DryRun(cmd.Context(), cmd.OutOrStdout())
	}
	res, err := bm.Run(cmd.Context())
	if res != nil && res.Outcome != nil {
		if perr := printOutcome(cmd, res.Outcome); perr != nil {
			return perr
		}
	}
	if res != nil && res.Cluster != nil && !res.Deleted {
		fmt.Fprintf(cmd.ErrOrStderr(), "cluster %s is left running for the next run; remove it with: benchctl teardown %s\n", res.Cluster.Name, res.Cluster.Name)
	}
	if err != nil {
		return err
	}
	if err := res.Err(); err != nil {
		return withCode(exitFailure, err)
	}
	return nil
}

// printOutcome prints each report's summary and each diff.
func printOutcome(cmd *cobra.Command, o *bench.Outcome) error {
	out := cmd.OutOrStdout()
	for _, r := range o.Reports {
		if err := reports.WriteText(out, r.Report, reports.DefaultRenderOptions); err != nil {
			return err
		}
		fmt.Fprintf(out, "report: %s\n\n", r.YAML)
	}
	for _, d := range o.Diffs {
		if err := d.Diff.WriteText(out, reports.DiffRenderOptions{}); err != nil {
			return err
		}
		fmt.Fprintf(out, "diff: %s.md\n\n", d.Stem)
	}
	return nil
}
