package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/benchctl/benchctl/aggregate"
	"github.com/benchctl/benchctl/portfolio"
	"github.com/benchctl/benchctl/provision"
)

func init() { register(newPortfolioCmd) }

func newPortfolioCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "portfolio",
		Short: "List, check and run the workflow portfolio",
		Long: `The portfolio is the set of workflows a benchmark runs: chains, fan-outs,
large DAGs, maps, nested dynamics, launch plans, sub-workflows and large
outputs, each with a one-line description of what it measures. It is a YAML
file (apiVersion: benchctl/v1, kind: Portfolio); the built-in one is embedded
in benchctl ('benchctl portfolio show' prints it).

Tiers choose the sizes: smoke (seconds; what tests run), default (a laptop in
10 minutes or less, everything included) and scale. A workflow can set its own
sizes, repetitions, warm-ups and timeout per tier.

--portfolio FILE replaces the built-in portfolio; repeat it to merge several
files in order (workflows are concatenated, names must be unique; later files'
defaults and tier settings win). Name 'builtin' to include the embedded one:
  --portfolio builtin --portfolio mine.yaml`,
		Example: `  benchctl portfolio list
  benchctl portfolio list --tier smoke
  benchctl portfolio show > mine.yaml && $EDITOR mine.yaml
  benchctl portfolio validate mine.yaml
  benchctl portfolio run --kubeconfig "$(benchctl kubeconfig dev)" --namespace bench --tier smoke`,
		Args: exactArgs(0),
	}
	cmd.AddCommand(newPortfolioListCmd(), newPortfolioValidateCmd(), newPortfolioShowCmd(), newPortfolioRunCmd(g))
	return cmd
}

// loadPortfolio loads the files (the built-in portfolio if none) and
// compiles tier; bad input is a usage error.
func loadPortfolio(files []string, tier string) (*portfolio.Compiled, error) {
	p, err := portfolio.Load(files...)
	if err != nil {
		return nil, usageError(err)
	}
	c, err := p.Compile(tier)
	if err != nil {
		return nil, usageError(err)
	}
	return c, nil
}

func newPortfolioListCmd() *cobra.Command {
	var files []string
	var tier string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "Show the workflows of a tier with their sizes and expected counts",
		Long: `List the workflows of a tier: shape and size, the nodes, pods and serial steps
one execution implies (derived from the compiled Workflow, as the aggregate
derives them), warm-ups + repetitions, timeout and what each one measures.`,
		Example: `  benchctl portfolio list
  benchctl portfolio list --tier scale
  benchctl portfolio list --portfolio builtin --portfolio mine.yaml`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := loadPortfolio(files, tier)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "portfolio %s, tier %s, %d workflows, hash %s\n\n", c.Name, c.Tier, len(c.Workflows), c.Hash)
			w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tSHAPE\tNODES\tPODS\tSERIAL\tRUNS\tTIMEOUT\tMEASURES")
			var execs, pods int
			for _, wf := range c.Workflows {
				podCol := fmt.Sprint(wf.Counts.Pods)
				if wf.Inputs == portfolio.InputsFixed && wf.Counts.CacheablePods > 0 {
					podCol = fmt.Sprintf("%d (warm %d)", wf.Counts.Pods, wf.Counts.Pods-wf.Counts.CacheablePods)
				}
				fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%d\t%d+%d\t%s\t%s\n", wf.Name, wf.Shape, wf.Counts.Nodes, podCol,
					wf.Counts.Depth, wf.Warmup, wf.Repetitions, wf.Timeout, wf.Description)
				n := wf.Warmup + wf.Repetitions
				execs += n
				pods += n * wf.Counts.Pods
			}
			if err := w.Flush(); err != nil {
				return err
			}
			_, err = fmt.Fprintf(out, "\nRUNS is warm-ups+repetitions; SERIAL the longest chain of nodes. Per config: %d executions, %d pods at most.\n", execs, pods)
			return err
		},
	}
	cmd.Flags().StringArrayVar(&files, "portfolio", nil, "portfolio file (repeatable, merged in order; 'builtin' = the embedded one; default: builtin)")
	cmd.Flags().StringVar(&tier, "tier", portfolio.TierDefault, "tier: smoke, default, scale or one the files declare")
	return cmd
}

func newPortfolioValidateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check portfolio files; errors name the file, line and field",
		Long: `Validate portfolio files as one merged portfolio, in every tier. Each problem
is reported on one line as FILE:LINE: FIELD: message, and the exit code is 2.`,
		Example: `  benchctl portfolio validate mine.yaml
  benchctl portfolio validate builtin mine.yaml   # also checks names against the built-in ones`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError(fmt.Errorf("%s needs at least one file; see '%s --help'", cmd.CommandPath(), cmd.CommandPath()))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := portfolio.Load(args...)
			if err != nil {
				return usageError(err)
			}
			var sizes []string
			for _, t := range p.Tiers() {
				c, err := p.Compile(t)
				if err != nil {
					return usageError(err)
				}
				sizes = append(sizes, fmt.Sprintf("%s: %d", t, len(c.Workflows)))
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s: valid (workflows per tier: %s)\n", strings.Join(args, ", "), strings.Join(sizes, ", "))
			return err
		},
	}
}

func newPortfolioShowCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "show",
		Short:   "Print the built-in portfolio file, a starting point for your own",
		Example: `  benchctl portfolio show > mine.yaml`,
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := cmd.OutOrStdout().Write(portfolio.BuiltinYAML())
			return err
		},
	}
}

func newPortfolioRunCmd(g *globals) *cobra.Command {
	var (
		files          []string
		tier, cluster  string
		configs        []string
		outDir         string
		o              runOverrides
		resume, keepWF bool
	)
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the portfolio against deployed controllers",
		Long: `Run every workflow of a tier against the controller(s) deployed on a
cluster, strictly one execution at a time: the warm-ups (recorded, flagged,
never counted), then the repetitions, each with a timeout. With several
--config, executions alternate between them repetition by repetition
(A B, B A, A B, ...), so drift and position effects hit every config alike.

Around each execution it scrapes the controller's and the kube-apiserver's
metrics and afterwards fetches the execution's spans and pods. Each
execution's record is written to the run directory before the next one
starts, and its Workflow and pods are deleted. 'benchctl aggregate RUN_DIR'
turns the records into reports; 'benchctl run' does all of it.

Ctrl-C stops cleanly: the running Workflow is deleted and nothing is
recorded for it. --resume continues the run in --output-dir: recorded
executions are kept and never repeated; a half-done one is run again.`,
		Example: `  benchctl portfolio run --tier smoke
  benchctl portfolio run --config default --config streak-1 --output-dir /tmp/ab
  benchctl portfolio run --output-dir /tmp/ab --config default --config streak-1 --resume   # after Ctrl-C`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if resume && outDir == "" {
				return usageError(errors.New("--resume needs --output-dir: the directory of the run to continue"))
			}
			c, err := loadPortfolio(files, tier)
			if err != nil {
				return err
			}
			if err := o.apply(cmd, c); err != nil {
				return err
			}
			cl, err := g.loadCluster(cluster)
			if err != nil {
				return err
			}
			if len(configs) == 0 {
				configs = []string{"default"}
			}
			if outDir == "" {
				outDir = defaultRunDir(time.Now().Format("20060102-150405"), c.Tier)
			}
			run, err := executePortfolio(cmd, cl, c, configs, outDir, resume, keepWF)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d executions recorded in %s; next: benchctl aggregate %s\n", len(run.Records), outDir, outDir)
			return failedExecutions(run)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&files, "portfolio", nil, "portfolio file (repeatable, merged in order; 'builtin' = the embedded one; default: builtin)")
	f.StringVar(&tier, "tier", portfolio.TierDefault, "tier: smoke, default, scale or one the files declare")
	f.StringVar(&cluster, "cluster", defaultCluster, "cluster the controllers are deployed on")
	f.StringArrayVar(&configs, "config", nil, "deployed config to run against (repeatable, interleaved; default: default)")
	f.StringVar(&outDir, "output-dir", "", "run directory (default: $XDG_DATA_HOME/benchctl/runs/<time>-<tier>)")
	o.flags(f)
	f.BoolVar(&resume, "resume", false, "continue the interrupted run in --output-dir")
	f.BoolVar(&keepWF, "keep-workflows", false, "leave finished Workflows and their pods in the cluster")
	return cmd
}

// runOverrides are the portfolio settings the command line can override.
type runOverrides struct {
	reps, warmup int
	timeout      time.Duration
}

func (o *runOverrides) flags(f *pflag.FlagSet) {
	f.IntVar(&o.reps, "repetitions", 0, "measured repetitions per workflow (default: the portfolio's, 5 or more)")
	f.IntVar(&o.warmup, "warmup", 0, "warm-up executions per workflow, not counted (default: the portfolio's, 1)")
	f.DurationVar(&o.timeout, "timeout", 0, "timeout of each execution (default: the portfolio's per workflow)")
}

func (o *runOverrides) apply(cmd *cobra.Command, c *portfolio.Compiled) error {
	var ov portfolio.Overrides
	if cmd.Flags().Changed("repetitions") {
		ov.Repetitions = &o.reps
	}
	if cmd.Flags().Changed("warmup") {
		ov.Warmup = &o.warmup
	}
	if cmd.Flags().Changed("timeout") {
		ov.Timeout = &o.timeout
	}
	if err := c.Override(ov); err != nil {
		return usageError(err)
	}
	return nil
}

// executePortfolio runs a compiled tier against the deployed configs.
func executePortfolio(cmd *cobra.Command, cl *provision.Cluster, c *portfolio.Compiled, configs []string, outDir string, resume, keep bool) (*portfolio.Run, error) {
	ts, envs, closeTargets, err := targets(cmd.Context(), cl, configs)
	if err != nil {
		return nil, err
	}
	defer closeTargets()
	fmt.Fprintf(cmd.ErrOrStderr(), "running portfolio %s, tier %s, on cluster %s with config(s) %v; records in %s\n", c.Name, c.Tier, cl.Name, configs, outDir)
	run, err := portfolio.Execute(cmd.Context(), c, ts, portfolio.Options{Dir: outDir, Resume: resume, Progress: os.Stderr, KeepWorkflows: keep})
	// Snapshot each config's environment even after an interrupt, so the
	// run can be aggregated later, when the cluster may be gone.
	if run != nil {
		for name, env := range envs {
			if serr := aggregate.SaveEnvironment(outDir, name, env); serr != nil {
				return run, errors.Join(err, serr)
			}
		}
	}
	if err != nil {
		if run != nil && !run.Complete() {
			fmt.Fprintf(cmd.ErrOrStderr(), "%d of %d executions recorded; continue with the same command plus --output-dir %s --resume\n",
				len(run.Records), len(run.Manifest.Plan), outDir)
		}
		return run, err
	}
	return run, nil
}

// failedExecutions is exit code 1 when an execution failed or timed out.
func failedExecutions(run *portfolio.Run) error {
	var failed int
	for _, r := range run.Records {
		if !r.Succeeded() {
			failed++
		}
	}
	if failed > 0 {
		return withCode(exitFailure, fmt.Errorf("%d of %d executions failed or timed out; see the records in %s", failed, len(run.Records), run.Dir))
	}
	return nil
}
