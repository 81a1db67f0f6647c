package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/benchctl/benchctl/aggregate"
	"github.com/benchctl/benchctl/deploy"
	"github.com/benchctl/benchctl/portfolio"
	"github.com/benchctl/benchctl/provision"
	"github.com/benchctl/benchctl/reports"
)

func init() { register(newRunCmd) }

// benchOptions is one benchmark: a cluster, deployments, a portfolio tier.
type benchOptions struct {
	spec        provision.Spec
	teardown    bool
	deployments []plannedDeployment
	dopts       deploy.Options
	files       []string
	tier        string
	overrides   runOverrides
	outDir      string
	resume      bool
	fail        []string
	alpha       float64
	// markdown and junit, when set, receive the first diff.
	markdown, junit string
}

// plannedDeployment is a controller to deploy under a name.
type plannedDeployment struct {
	name, config, source string
}

// benchFlags registers the flags run and compare share.
func (o *benchOptions) flags(f *pflag.FlagSet) {
	f.StringVar(&o.spec.Name, "cluster", defaultCluster, "cluster to use; created with --provider and --nodes when it does not exist")
	f.StringVar(&o.spec.Provider, "provider", provision.ProviderLocal, "provider for a new cluster: local, kind, eks, gke")
	f.IntVar(&o.spec.Nodes, "nodes", 3, "worker nodes of a new cluster")
	f.BoolVar(&o.teardown, "teardown", false, "delete the cluster at the end if this command created it")
	f.StringArrayVarP(&o.dopts.ValuesFiles, "values", "f", nil, "extra values file for every deployment, as in helm (repeatable)")
	f.StringArrayVar(&o.dopts.Set, "set", nil, "set a value for every deployment, as in helm (repeatable)")
	f.StringVar(&o.dopts.ImageRepo, "image-repo", "", "registry for the controller images (kind, eks, gke)")
	f.StringArrayVar(&o.files, "portfolio", nil, "portfolio file (repeatable; default: the built-in portfolio)")
	f.StringVar(&o.tier, "tier", portfolio.TierDefault, "tier: smoke (seconds), default (a laptop, about 10 minutes) or scale")
	o.overrides.flags(f)
	f.StringVar(&o.outDir, "output-dir", "", "run directory (default: $XDG_DATA_HOME/benchctl/runs/<time>-<tier>)")
	f.BoolVar(&o.resume, "resume", false, "continue the interrupted run in --output-dir")
	f.StringArrayVar(&o.fail, "fail-on", nil, "exit 1 on a significant regression beyond this threshold, e.g. 'wall>+5%' (see 'benchctl diff --help')")
	f.Float64Var(&o.alpha, "alpha", 0.05, "significance level of the comparisons")
}

func newRunCmd(g *globals) *cobra.Command {
	var (
		o       benchOptions
		configs []string
		source  string
	)
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Provision, deploy, run the portfolio and report, in one go",
		Long: `Chain the four stages: provision a cluster (or reuse the one named
--cluster), deploy the controller under each --config (a fresh controller
process for every run), run the portfolio tier with every config
interleaved repetition by repetition, and aggregate one report per config.

Everything goes into --output-dir (default
$XDG_DATA_HOME/benchctl/runs/<time>-<tier>, else ~/.local/share/...):
run.json and executions/ (raw records, spans, metric scrapes), and
reports/<config>.{yaml,txt,md,bench}. With two or more configs, the first is
the baseline and each other is compared with it: reports/diff-<a>-<b>.{txt,md,yaml}.

Exit codes: 0 valid reports (and, with --fail-on, no significant regression
beyond a threshold); 1 an invalid report, a failed execution or a
regression; 2 bad usage or input; 130 interrupted (resume with --resume and
the same --output-dir).`,
		Example: `  benchctl run                                   # local cluster, default tier, default config
  benchctl run --tier smoke                      # a quick check (seconds)
  benchctl run --config default --config streak-1 --fail-on 'wall>+5%'
  benchctl run --controller-source main          # the controller of a git ref
  benchctl run --output-dir /tmp/r1 --resume     # after Ctrl-C`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(configs) == 0 {
				configs = []string{deploy.DefaultConfig}
			}
			for _, c := range configs {
				named, err := deploy.LoadConfig(c)
				if err != nil {
					return usageError(err)
				}
				o.deployments = append(o.deployments, plannedDeployment{name: named.Name, config: c, source: source})
			}
			return benchmark(cmd, g, o)
		},
	}
	o.flags(cmd.Flags())
	cmd.Flags().StringArrayVar(&configs, "config", nil, "named config or values file (repeatable, interleaved; the first is the baseline; default: default)")
	cmd.Flags().StringVar(&source, "controller-source", "", "build the controller from a source tree DIR or a git REF (default: the one built into benchctl)")
	_ = cmd.RegisterFlagCompletionFunc("config", completeConfigs)
	return cmd
}

// benchmark provisions (or reuses) the cluster, deploys, runs the
// portfolio, writes the reports and the diffs against the first
// deployment, and turns validity and the gate into the exit code.
func benchmark(cmd *cobra.Command, g *globals, o benchOptions) error {
	if o.resume && o.outDir == "" {
		return usageError(errors.New("--resume needs --output-dir: the directory of the run to continue"))
	}
	var thresholds []reports.Threshold
	for _, f := range o.fail {
		t, err := reports.ParseThreshold(f)
		if err != nil {
			return usageError(err)
		}
		thresholds = append(thresholds, t)
	}
	c, err := loadPortfolio(o.files, o.tier)
	if err != nil {
		return err
	}
	if err := o.overrides.apply(cmd, c); err != nil {
		return err
	}
	if o.outDir == "" {
		o.outDir = defaultRunDir(time.Now().Format("20060102-150405"), c.Tier)
	}
	stderr := cmd.ErrOrStderr()
	// Check every config before touching a cluster.
	sources := map[string]deploy.Source{}
	for _, p := range o.deployments {
		src, err := controllerSource(p.source)
		if err != nil {
			return err
		}
		sources[p.name] = src
		d := o.dopts
		d.Name, d.Config, d.Source, d.Progress = p.name, p.config, src, stderr
		if err := deploy.Check(cmd.Context(), d); err != nil {
			return deployError(err)
		}
	}

	cl, created, err := ensureCluster(cmd, g, o.spec)
	if err != nil {
		return err
	}
	if created && o.teardown {
		defer func() {
			if _, err := provision.Delete(context.WithoutCancel(cmd.Context()), g.store(), g.registry(), cl.Name); err != nil {
				fmt.Fprintf(stderr, "teardown of cluster %s: %v\n", cl.Name, err)
			}
		}()
	}
	var names []string
	for _, p := range o.deployments {
		fmt.Fprintf(stderr, "deploying %s (config %s, controller %s)\n", p.name, p.config, orBundled(p.source))
		d := o.dopts
		d.Cluster, d.Store, d.Name, d.Config, d.Source, d.Progress = cl, g.store(), p.name, p.config, sources[p.name], stderr
		if _, err := deploy.Deploy(cmd.Context(), d); err != nil {
			return deployError(err)
		}
		names = append(names, p.name)
	}
	run, err := executePortfolio(cmd, cl, c, names, o.outDir, o.resume, false)
	if err != nil {
		return err
	}
	dir := filepath.Join(o.outDir, "reports")
	outs, err := aggregate.WriteReports(run, dir)
	if err != nil {
		return err
	}
	errReports := printReports(cmd, outs)
	errDiff := diffConfigs(cmd, outs, dir, thresholds, o)
	if !created || !o.teardown {
		fmt.Fprintf(stderr, "cluster %s is left running for the next run; remove it with: benchctl teardown %s\n", cl.Name, cl.Name)
	}
	return firstExit(errDiff, errReports, failedExecutions(run))
}

// firstExit returns the first error, preferring usage errors (exit 2),
// which say the result cannot be trusted at all.
func firstExit(errs ...error) error {
	for _, err := range errs {
		var ee *exitError
		if errors.As(err, &ee) && ee.code == exitUsage {
			return err
		}
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func orBundled(source string) string {
	if source == "" {
		return "bundled"
	}
	return source
}

// ensureCluster reuses the named cluster or creates it.
func ensureCluster(cmd *cobra.Command, g *globals, spec provision.Spec) (*provision.Cluster, bool, error) {
	c, err := g.store().Load(spec.Name)
	if err == nil {
		if c.Provider == "" {
			return nil, false, fmt.Errorf("cluster %s did not finish provisioning; remove it with 'benchctl teardown %s'", c.Name, c.Name)
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "reusing cluster %s (%s, %d nodes)\n", c.Name, c.Provider, c.Finger.Nodes)
		return c, false, nil
	}
	if !errors.Is(err, provision.ErrNotFound) {
		return nil, false, err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "provisioning cluster %s (%s, %d nodes)\n", spec.Name, spec.Provider, spec.Nodes)
	c, err = provision.Create(cmd.Context(), g.store(), g.registry(), spec)
	if err != nil {
		return nil, false, asUsage(err)
	}
	return c, true, nil
}

// diffConfigs compares every deployment's report with the first one's and
// writes the diffs next to the reports.
func diffConfigs(cmd *cobra.Command, outs []aggregate.Output, dir string, thresholds []reports.Threshold, o benchOptions) error {
	if len(outs) < 2 {
		return nil
	}
	base := outs[0]
	var regressions []string
	for i, out := range outs[1:] {
		opts := reports.DefaultDiffOptions
		opts.Alpha, opts.FileA, opts.FileB = o.alpha, base.YAML, out.YAML
		d, err := reports.Compare(base.Report, out.Report, opts)
		if err != nil {
			return err
		}
		if len(thresholds) > 0 {
			if err := d.ApplyGate(thresholds); err != nil {
				return usageError(err)
			}
		}
		stem := filepath.Join(dir, "diff-"+base.Config+"-"+out.Config)
		for ext, write := range map[string]func(*bytes.Buffer) error{
			".txt":  func(b *bytes.Buffer) error { return d.WriteText(b, reports.DiffRenderOptions{}) },
			".md":   func(b *bytes.Buffer) error { return d.WriteMarkdown(b, reports.DiffRenderOptions{}) },
			".yaml": func(b *bytes.Buffer) error { return d.WriteYAML(b) },
		} {
			var b bytes.Buffer
			if err := write(&b); err != nil {
				return err
			}
			if err := os.WriteFile(stem+ext, b.Bytes(), 0o644); err != nil {
				return fmt.Errorf("write %s: %w", stem+ext, err)
			}
		}
		if err := d.WriteText(cmd.OutOrStdout(), reports.DiffRenderOptions{}); err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "diff: %s.md\n\n", stem)
		if i == 0 {
			if err := writeFirstDiff(d, o); err != nil {
				return err
			}
		}
		if d.Gate != nil && !d.Gate.Passed() {
			regressions = append(regressions, out.Config)
		}
	}
	if len(regressions) > 0 {
		return withCode(exitFailure, fmt.Errorf("significant regression beyond a --fail-on threshold in %v", regressions))
	}
	return nil
}

// writeFirstDiff writes the diff to --markdown and --junit when asked.
func writeFirstDiff(d *reports.Diff, o benchOptions) error {
	for path, write := range map[string]func(*bytes.Buffer) error{
		o.markdown: func(b *bytes.Buffer) error { return d.WriteMarkdown(b, reports.DiffRenderOptions{}) },
		o.junit:    func(b *bytes.Buffer) error { return d.WriteJUnit(b) },
	} {
		if path == "" {
			continue
		}
		var b bytes.Buffer
		if err := write(&b); err != nil {
			return err
		}
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	return nil
}
