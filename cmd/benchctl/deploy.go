package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/benchctl/benchctl/deploy"
)

func init() {
	register(newDeployCmd)
	register(newUndeployCmd)
}

func newDeployCmd(g *globals) *cobra.Command {
	var (
		cluster, source string
		configs         []string
		opts            deploy.Options
	)
	cmd := &cobra.Command{
		Use:   "deploy",
		Short: "Deploy the bundled controller under a named config",
		Long: `Install (or upgrade) the controller's Helm chart with the Helm SDK, with a
named config's values overlay, then wait until the controller is ready.

Each config gets its own namespace (benchctl-<config>) and release, so
several configs can be deployed at once for A/B runs. On the local
provider the chart's Deployment runs no replica (no kubelet runs real pods
there): benchctl runs the controller on the host with the chart's rendered
config and a token of the chart's service account, so it has exactly the
chart's RBAC. Teardown of the cluster stops it too.

--controller-source builds the controller (and takes its chart) from a
source tree or a git ref of the current repository, through a cached git
worktree: the basis of branch comparisons. kind, eks, gke and existing
clusters pull images from --image-repo.`,
		Example: `  benchctl deploy --config default
  benchctl deploy --config streak-1 --set config.workers=16
  benchctl deploy --config mine.yaml -f more-values.yaml
  benchctl deploy --config default --controller-source main    # a git ref
  benchctl configs                                             # the named configs`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			src, err := controllerSource(source)
			if err != nil {
				return err
			}
			if len(configs) == 0 {
				configs = []string{deploy.DefaultConfig}
			}
			for _, name := range configs {
				o := opts
				o.Config, o.Source = name, src
				if err := deploy.Check(cmd.Context(), o); err != nil {
					return deployError(err)
				}
			}
			c, err := g.loadCluster(cluster)
			if err != nil {
				return err
			}
			for _, name := range configs {
				o := opts
				o.Cluster, o.Store, o.Config, o.Source, o.Progress = c, g.store(), name, src, os.Stderr
				d, err := deploy.Deploy(cmd.Context(), o)
				if err != nil {
					return deployError(err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "deployed config %s to cluster %s (namespace %s, release %s revision %d, controller %s, config sha256:%s)\n",
					d.Config, c.Name, d.Namespace, d.Release, d.Revision, d.Controller.Commit, d.ConfigHash[:12])
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cluster, "cluster", defaultCluster, "cluster to deploy to (see 'benchctl clusters')")
	f.StringArrayVar(&configs, "config", nil, "named config or values file (repeatable; default: default)")
	f.StringArrayVarP(&opts.ValuesFiles, "values", "f", nil, "extra values file, as in helm (repeatable)")
	f.StringArrayVar(&opts.Set, "set", nil, "set a value, as in helm: --set config.workers=16 (repeatable)")
	f.StringArrayVar(&opts.SetString, "set-string", nil, "set a string value, as in helm (repeatable)")
	f.StringVar(&source, "controller-source", "", "build the controller from a source tree DIR or a git REF (default: the one built into benchctl)")
	f.StringVar(&opts.ImageRepo, "image-repo", "", "registry the cluster pulls benchflow and benchtask images from (kind, eks, gke, existing)")
	f.BoolVar(&opts.InstallCRDs, "install-crds", false, "existing clusters: allow installing the Workflow CRD (a cluster-scoped change)")
	f.DurationVar(&opts.Timeout, "timeout", deploy.DefaultTimeout, "how long to wait for the controller to be ready")
	_ = cmd.RegisterFlagCompletionFunc("cluster", completeClusters(g))
	_ = cmd.RegisterFlagCompletionFunc("config", completeConfigs)
	return cmd
}

func newUndeployCmd(g *globals) *cobra.Command {
	var (
		cluster string
		configs []string
	)
	cmd := &cobra.Command{
		Use:   "undeploy",
		Short: "Stop a deployed controller and uninstall its release",
		Long: `Stop the controller of a config and uninstall its Helm release. The
Workflow CRD stays (Helm never deletes CRDs).`,
		Example: `  benchctl undeploy --config default`,
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.loadCluster(cluster)
			if err != nil {
				return err
			}
			if len(configs) == 0 {
				configs = []string{deploy.DefaultConfig}
			}
			var errs []error
			for _, name := range configs {
				if err := deploy.Undeploy(cmd.Context(), deploy.Options{Cluster: c, Store: g.store(), Name: name}); err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "undeployed config %s from cluster %s\n", name, c.Name)
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().StringVar(&cluster, "cluster", defaultCluster, "cluster (see 'benchctl clusters')")
	cmd.Flags().StringArrayVar(&configs, "config", nil, "config to undeploy (repeatable; default: default)")
	_ = cmd.RegisterFlagCompletionFunc("config", completeConfigs)
	return cmd
}

// deployError marks bad configs and values as usage errors.
func deployError(err error) error {
	var ce *deploy.ConfigError
	if errors.As(err, &ce) {
		return usageError(err)
	}
	return err
}

func completeConfigs(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
	all, err := deploy.Configs()
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	var out []cobra.Completion
	for _, c := range all {
		out = append(out, cobra.CompletionWithDesc(c.Name, c.Description))
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}
