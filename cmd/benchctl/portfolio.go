package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/benchctl/benchctl/cmd/internal/bench"
	"github.com/benchctl/benchctl/deploy"
	"github.com/benchctl/benchctl/portfolio"
	"github.com/benchctl/benchctl/reports"
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
  benchctl portfolio run --cluster dev --config default --tier smoke`,
	}
	cmd.AddCommand(newPortfolioListCmd(), newPortfolioValidateCmd(), newPortfolioShowCmd(), newPortfolioRunCmd(g))
	return cmd
}

// loadPortfolio loads the files (the built-in portfolio if none) and
// compiles tier; bad input is a usage error.
func loadPortfolio(files []string, tier string) (*portfolio.Compiled, error) {
	return bench.PortfolioSpec{Files: files, Tier: tier}.Compile()
}

func newPortfolioListCmd() *cobra.Command {
	var files []string
	var tier string
	var output *outputFlag
	cmd := &cobra.Command{
		Use:   "list",
		Short: "Show the workflows of a tier with their sizes and expected counts",
		Long: `List the workflows of a tier: shape and size, the nodes, pods and serial steps
one execution implies (derived from the compiled Workflow, as the aggregate
derives them), warm-ups + repetitions, timeout and what each one measures.`,
		Example: `  benchctl portfolio list
  benchctl portfolio list --tier scale
  benchctl portfolio list --portfolio builtin --portfolio mine.yaml
  benchctl portfolio list --tier smoke -o json`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := output.check(); err != nil {
				return err
			}
			c, err := loadPortfolio(files, tier)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if output.format != formatText {
				return printData(out, output.format, portfolioListing(c))
			}
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
	output = addOutputFlag(cmd, formatText, formatYAML, formatJSON)
	return cmd
}

// listing is a tier as 'portfolio list -o json|yaml' prints it.
type listing struct {
	Name       string            `json:"name"`
	Tier       string            `json:"tier"`
	Hash       string            `json:"hash"`
	Workflows  []listingWorkflow `json:"workflows"`
	Executions int               `json:"executions"`
	Pods       int               `json:"pods"`
}

type listingWorkflow struct {
	Name        string           `json:"name"`
	Shape       string           `json:"shape"`
	Description string           `json:"description"`
	Inputs      string           `json:"inputs"`
	Counts      portfolio.Counts `json:"counts"`
	Warmup      int              `json:"warmup"`
	Repetitions int              `json:"repetitions"`
	Timeout     string           `json:"timeout"`
}

func portfolioListing(c *portfolio.Compiled) listing {
	l := listing{Name: c.Name, Tier: c.Tier, Hash: c.Hash}
	for _, w := range c.Workflows {
		l.Workflows = append(l.Workflows, listingWorkflow{Name: w.Name, Shape: w.Shape, Description: w.Description, Inputs: w.Inputs,
			Counts: w.Counts, Warmup: w.Warmup, Repetitions: w.Repetitions, Timeout: w.Timeout.String()})
		n := w.Warmup + w.Repetitions
		l.Executions += n
		l.Pods += n * w.Counts.Pods
	}
	return l
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
		cluster clusterFlags
		pf      portfolioFlags
		configs []string
	)
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the portfolio against deployed controllers",
		Long: `Run every workflow of a tier against the controller(s) deployed on a
cluster with 'benchctl deploy', strictly one execution at a time: the
warm-ups (recorded, flagged, never counted), then the repetitions, each with
a timeout. With several --config, executions alternate between them
repetition by repetition (A B, B A, A B, ...), so drift and position effects
hit every config alike.

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
  benchctl portfolio run --output-dir /tmp/ab --config default --config streak-1 --resume   # after Ctrl-C
  benchctl portfolio run --kubeconfig "$(benchctl kubeconfig dev)" --tier smoke`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			req, err := cluster.request(cmd)
			if err != nil {
				return err
			}
			if err := pf.checkCalibration(); err != nil {
				return err
			}
			if len(configs) == 0 {
				configs = []string{deploy.DefaultConfig}
			}
			var targets []bench.TargetSpec
			for _, c := range configs {
				targets = append(targets, bench.TargetSpec{Name: c, Config: c})
			}
			bm := &bench.Benchmark{
				Cluster: req, Targets: targets, Deployed: true, NoReports: true, Portfolio: pf.portfolioSpec(),
				OutputDir: pf.outDir, Resume: pf.resume, Force: pf.force, KeepWorkflows: pf.keepWfls,
				Benchctl: reports.BuildInfo{Version: version, Commit: commit}, Progress: cmd.ErrOrStderr(),
				Clusters: g.clusters(), Deployer: bench.LiveDeployer{}, Executor: bench.LiveExecutor{KeepWorkflows: pf.keepWfls, Profile: pf.profile},
				Calibration: pf.calibration, Calibrator: bench.LiveCalibrator{},
			}
			res, err := bm.Run(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d executions recorded in %s; next: benchctl aggregate %s\n", len(res.Run.Records), res.Dir, res.Dir)
			return withCode(exitFailure, res.Err())
		},
	}
	cluster.flags(cmd, g, false)
	pf.flags(cmd.Flags())
	cmd.Flags().StringArrayVar(&configs, "config", nil, "deployed config to run against (repeatable, interleaved; default: default)")
	_ = cmd.RegisterFlagCompletionFunc("config", completeConfigs)
	return cmd
}
