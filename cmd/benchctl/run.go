package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/benchctl/benchctl/aggregate"
	"github.com/benchctl/benchctl/deploy"
	"github.com/benchctl/benchctl/portfolio"
	"github.com/benchctl/benchctl/provision"
	"github.com/benchctl/benchctl/reports"
)

func init() { register(newRunCmd) }

func newRunCmd(g *globals) *cobra.Command {
	var (
		spec           = provision.Spec{Name: defaultCluster, Provider: provision.ProviderLocal, Nodes: 3}
		files, configs []string
		tier, outDir   string
		source         string
		o              runOverrides
		dopts          deploy.Options
		resume         bool
		teardown       bool
		fail           []string
		alpha          float64
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
			if resume && outDir == "" {
				return usageError(errors.New("--resume needs --output-dir: the directory of the run to continue"))
			}
			var thresholds []reports.Threshold
			for _, f := range fail {
				t, err := reports.ParseThreshold(f)
				if err != nil {
					return usageError(err)
				}
				thresholds = append(thresholds, t)
			}
			c, err := loadPortfolio(files, tier)
			if err != nil {
				return err
			}
			if err := o.apply(cmd, c); err != nil {
				return err
			}
			if len(configs) == 0 {
				configs = []string{deploy.DefaultConfig}
			}
			if outDir == "" {
				outDir = defaultRunDir(time.Now().Format("20060102-150405"), c.Tier)
			}
			stderr := cmd.ErrOrStderr()

			cl, created, err := ensureCluster(cmd, g, spec)
			if err != nil {
				return err
			}
			if created && teardown {
				defer func() {
					if _, err := provision.Delete(cmd.Context(), g.store(), g.registry(), cl.Name); err != nil {
						fmt.Fprintf(stderr, "teardown of cluster %s: %v\n", cl.Name, err)
					}
				}()
			}
			src, err := controllerSource(source)
			if err != nil {
				return err
			}
			for _, name := range configs {
				fmt.Fprintf(stderr, "deploying config %s\n", name)
				d := dopts
				d.Cluster, d.Store, d.Config, d.Source, d.Progress = cl, g.store(), name, src, stderr
				if _, err := deploy.Deploy(cmd.Context(), d); err != nil {
					return deployError(err)
				}
			}
			run, err := executePortfolio(cmd, cl, c, configs, outDir, resume, false)
			if err != nil {
				return err
			}
			outs, err := aggregate.WriteReports(run, filepath.Join(outDir, "reports"))
			if err != nil {
				return err
			}
			if err := printReports(cmd, outs); err != nil {
				return err
			}
			if err := diffConfigs(cmd, outs, filepath.Join(outDir, "reports"), thresholds, alpha); err != nil {
				return err
			}
			if !created || !teardown {
				fmt.Fprintf(stderr, "cluster %s is left running for the next run; remove it with: benchctl teardown %s\n", cl.Name, cl.Name)
			}
			return failedExecutions(run)
		},
	}
	f := cmd.Flags()
	f.StringVar(&spec.Name, "cluster", spec.Name, "cluster to use; created with --provider and --nodes when it does not exist")
	f.StringVar(&spec.Provider, "provider", spec.Provider, "provider for a new cluster: local, kind, eks, gke")
	f.IntVar(&spec.Nodes, "nodes", spec.Nodes, "worker nodes of a new cluster")
	f.BoolVar(&teardown, "teardown", false, "delete the cluster at the end if this run created it")
	f.StringArrayVar(&configs, "config", nil, "named config or values file (repeatable, interleaved; the first is the baseline; default: default)")
	f.StringArrayVarP(&dopts.ValuesFiles, "values", "f", nil, "extra values file for every config, as in helm (repeatable)")
	f.StringArrayVar(&dopts.Set, "set", nil, "set a value for every config, as in helm (repeatable)")
	f.StringVar(&source, "controller-source", "", "build the controller from a source tree DIR or a git REF (default: the one built into benchctl)")
	f.StringVar(&dopts.ImageRepo, "image-repo", "", "registry for the controller images (kind, eks, gke)")
	f.StringArrayVar(&files, "portfolio", nil, "portfolio file (repeatable; default: the built-in portfolio)")
	f.StringVar(&tier, "tier", portfolio.TierDefault, "tier: smoke (seconds), default (a laptop, about 10 minutes) or scale")
	o.flags(f)
	f.StringVar(&outDir, "output-dir", "", "run directory (default: $XDG_DATA_HOME/benchctl/runs/<time>-<tier>)")
	f.BoolVar(&resume, "resume", false, "continue the interrupted run in --output-dir")
	f.StringArrayVar(&fail, "fail-on", nil, "with several configs: exit 1 on a significant regression beyond this threshold, e.g. 'wall>+5%' (see 'benchctl diff --help')")
	f.Float64Var(&alpha, "alpha", 0.05, "significance level of the comparisons")
	_ = cmd.RegisterFlagCompletionFunc("config", completeConfigs)
	return cmd
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

// diffConfigs compares every config's report with the first one's and
// writes the diffs next to the reports.
func diffConfigs(cmd *cobra.Command, outs []aggregate.Output, dir string, thresholds []reports.Threshold, alpha float64) error {
	if len(outs) < 2 {
		return nil
	}
	base := outs[0]
	var regressions []string
	for _, o := range outs[1:] {
		opts := reports.DefaultDiffOptions
		opts.Alpha, opts.FileA, opts.FileB = alpha, base.YAML, o.YAML
		d, err := reports.Compare(base.Report, o.Report, opts)
		if err != nil {
			return err
		}
		if len(thresholds) > 0 {
			if err := d.ApplyGate(thresholds); err != nil {
				return usageError(err)
			}
		}
		stem := filepath.Join(dir, "diff-"+base.Config+"-"+o.Config)
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
		if d.Gate != nil && !d.Gate.Passed() {
			regressions = append(regressions, o.Config)
		}
	}
	if len(regressions) > 0 {
		return withCode(exitFailure, fmt.Errorf("significant regression beyond a --fail-on threshold in config(s) %v", regressions))
	}
	return nil
}
