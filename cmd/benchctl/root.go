package main

import (
	"fmt"
	"github.com/go-logr/logr"
	"io"
	"log/slog"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/spf13/cobra"

	"github.com/benchctl/benchctl/cmd/internal/bench"
	"github.com/benchctl/benchctl/provision"
	"github.com/benchctl/benchctl/reports/redact"
)

// globals are the persistent flags every command sees.
type globals struct {
	stateDir  string
	verbosity int
	// stderr is the command's error stream, for providers' progress.
	stderr io.Writer
}

// store returns the cluster store under --state-dir.
func (g *globals) store() *provision.Store { return provision.NewStore(g.stateDir) }

// registry builds the providers; progress lines go to stderr.
func (g *globals) registry() provision.Registry { return providerRegistry(g.store(), g.stderr) }

// clusters is the provision stage the pipeline uses.
func (g *globals) clusters() *bench.LiveClusters {
	return &bench.LiveClusters{Registry: g.registry(), Records: g.store(), Progress: g.stderr}
}

// subcommands are added to the root by each command's file, so the files
// of different stages do not edit one list.
var subcommands []func(*globals) *cobra.Command

func register(f func(*globals) *cobra.Command) { subcommands = append(subcommands, f) }

func newRootCmd() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "benchctl",
		Short: "Reproducible benchmarks for a Kubernetes workflow controller",
		Long: `benchctl measures the overhead a FlytePropeller-style workflow controller adds
to each workflow and node, and tells whether one config or branch is faster
than another, with statistics you can gate CI on.

A run has four stages, each a command: provision a cluster, deploy the
bundled controller under a named config, run the workflow portfolio, and
aggregate traces and metrics into a YAML report. 'benchctl run' chains them.`,
		Example: `  # Everything, on an embedded local cluster (etcd + kube-apiserver + KWOK):
  benchctl run

  # One stage at a time:
  benchctl provision --provider local --name dev --nodes 3
  kubectl --kubeconfig "$(benchctl kubeconfig dev)" get nodes
  benchctl teardown dev`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			g.stderr = cmd.ErrOrStderr()
			level := slog.LevelWarn
			switch {
			case g.verbosity == 1:
				level = slog.LevelInfo
			case g.verbosity >= 2:
				level = slog.LevelDebug
			}
			slog.SetDefault(slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level, ReplaceAttr: redact.ReplaceAttr})))
			// controller-runtime logs through logr; unset, it prints a stack
			// trace the first time a second client is made (adaptive runs).
			ctrllog.SetLogger(logr.FromSlogHandler(slog.Default().Handler()))
			return nil
		},
	}
	g.stderr = root.ErrOrStderr()
	root.PersistentFlags().StringVar(&g.stateDir, "state-dir", provision.DefaultStateDir(),
		"where cluster records, kubeconfigs and logs live (env BENCHCTL_STATE_DIR; default $XDG_STATE_HOME/benchctl or ~/.local/state/benchctl)")
	root.PersistentFlags().CountVarP(&g.verbosity, "verbose", "v", "log more: -v for progress details, -vv for debug")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	for _, f := range subcommands {
		root.AddCommand(f(g))
	}
	// Unknown subcommands and bad arguments are usage errors everywhere.
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
		if c.Args == nil {
			c.Args = noArgsUnlessSubcommand
		}
		if c.Run == nil && c.RunE == nil && c.HasSubCommands() {
			// A group: help, or a usage error for a mistyped subcommand.
			c.RunE = func(cmd *cobra.Command, args []string) error { return cmd.Help() }
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	return root
}

// noArgsUnlessSubcommand rejects positional arguments of a command that
// takes none (a mistyped subcommand, typically), as a usage error.
func noArgsUnlessSubcommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if cmd.HasSubCommands() {
		return usageError(fmt.Errorf("unknown command %q for %s; see '%s --help'", args[0], cmd.CommandPath(), cmd.CommandPath()))
	}
	return usageError(fmt.Errorf("%s takes no arguments, got %q; see '%s --help'", cmd.CommandPath(), args, cmd.CommandPath()))
}

// exactArgs is cobra.ExactArgs whose error is a usage error.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError(fmt.Errorf("%s takes %d argument(s), got %d; see '%s --help'", cmd.CommandPath(), n, len(args), cmd.CommandPath()))
		}
		return nil
	}
}
