package main

import (
	"github.com/spf13/cobra"

	"github.com/benchctl/benchctl/deploy"
)

func init() { register(newCompareCmd) }

func newCompareCmd(g *globals) *cobra.Command {
	var (
		o      benchOptions
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
execution; 2 bad usage or input.`,
		Example: `  benchctl compare main HEAD --tier smoke
  benchctl compare origin/main HEAD --fail-on 'wall>+5%' --markdown diff.md --junit junit.xml
  benchctl compare ../benchctl-old . --config streak-1`,
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := deploy.LoadConfig(config); err != nil {
				return usageError(err)
			}
			o.deployments = []plannedDeployment{
				{name: "base", config: config, source: args[0]},
				{name: "head", config: config, source: args[1]},
			}
			return benchmark(cmd, g, o)
		},
	}
	o.flags(cmd.Flags())
	cmd.Flags().StringVar(&config, "config", deploy.DefaultConfig, "named config or values file both controllers run under")
	cmd.Flags().StringVar(&o.markdown, "markdown", "", "also write the diff as Markdown to this file (for a pull-request comment)")
	cmd.Flags().StringVar(&o.junit, "junit", "", "also write the diff's gate as JUnit XML to this file")
	_ = cmd.RegisterFlagCompletionFunc("config", completeConfigs)
	return cmd
}
