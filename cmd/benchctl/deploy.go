package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/benchctl/benchctl/cmd/internal/bench"
	"github.com/benchctl/benchctl/deploy"
)

func init() {
	register(newDeployCmd)
	register(newUndeployCmd)
}

func newDeployCmd(g *globals) *cobra.Command {
	var (
		cluster clusterFlags
		source  string
		configs []string
		d       deployFlags
		timeout time.Duration
		chart   string
	)
	cmd := &cobra.Command{
		Use:   "deploy",
		Short: "Deploy the bundled controller under a named config",
		Long: `Install (or upgrade) the controller's Helm chart with the Helm SDK, with a
named config's values overlay, then wait until the controller is ready.
Every config is checked (and a controller source built) before the cluster
is touched.

Each config gets its own namespace (benchctl-<config>) and release, so
several configs can be deployed at once for A/B runs. On a cluster whose
nodes are all simulated by KWOK (the local provider) the chart's Deployment
runs no replica, since no kubelet runs real pods there: benchctl runs the
controller on the host with the chart's rendered config and a token of the
chart's service account, so it has exactly the chart's RBAC. Teardown of
the cluster stops it too.

--controller-source builds the controller (and takes its chart) from a
source tree or a git ref of the current repository, through a cached git
worktree: the basis of branch comparisons. kind, eks, gke and existing
clusters pull images from --image-repo.

--chart installs any chart instead, such as flyte-binary or flyte-core: a
chart directory, a packaged chart or an OCI reference. Its configs are
values files (--config FILE, named by the file), checked against the
chart's keys and values.schema.json and rendered before the cluster is
touched, and recorded with the deployment; 'benchctl run --engine flyte
--cluster C --config NAME' then records them in the reports.`,
		Example: `  benchctl deploy --config default
  benchctl deploy --config streak-1 --set config.workers=16
  benchctl deploy --config mine.yaml -f more-values.yaml
  benchctl deploy --config default --controller-source main    # a git ref
  benchctl deploy --kubeconfig ~/.kube/config --context lab --image-repo registry.example/bench --install-crds
  benchctl configs                                             # the named configs
  benchctl deploy --chart oci://ghcr.io/flyteorg/helm-charts/flyte-binary:v1.16.1 --config propeller-a.yaml`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			req, err := cluster.request(cmd)
			if err != nil {
				return err
			}
			src, err := controllerSource(source)
			if err != nil {
				return err
			}
			switch {
			case chart != "" && source != "":
				return usageError(errors.New("--chart and --controller-source name two things to deploy; give one"))
			case len(configs) == 0 && chart != "":
				configs = []string{""} // the chart's own values
			case len(configs) == 0:
				configs = []string{deploy.DefaultConfig}
			}
			var targets []bench.TargetSpec
			for _, c := range configs {
				targets = append(targets, bench.TargetSpec{Config: c, Source: src})
			}
			opts := d.opts
			opts.Timeout, opts.Chart = timeout, chart
			act := &bench.Deploy{Cluster: req, Targets: targets, Deploy: opts, Progress: cmd.ErrOrStderr(),
				Clusters: g.clusters(), Deployer: bench.LiveDeployer{}}
			res, err := act.Run(cmd.Context())
			if err != nil {
				return err
			}
			for _, dep := range res.Deployments {
				if c := dep.Chart; c != nil {
					fmt.Fprintf(cmd.OutOrStdout(), "deployed chart %s %s as %s (config %s) to cluster %s (namespace %s, release %s revision %d, values %s)\n",
						c.Name, c.Version, dep.Name, dep.Config, res.Cluster.Name, dep.Namespace, dep.Release, dep.Revision, dep.ConfigHash)
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "deployed config %s to cluster %s (namespace %s, release %s revision %d, controller %s, config %s)\n",
					dep.Config, res.Cluster.Name, dep.Namespace, dep.Release, dep.Revision, dep.Controller.Commit, dep.ConfigHash)
			}
			return nil
		},
	}
	cluster.flags(cmd, g, false)
	d.flags(cmd.Flags())
	f := cmd.Flags()
	f.StringArrayVar(&configs, "config", nil, "named config or values file (repeatable; default: default)")
	f.StringVar(&source, "controller-source", "", "build the controller from a source tree DIR or a git REF (default: the one built into benchctl)")
	f.DurationVar(&timeout, "timeout", deploy.DefaultTimeout, "how long to wait for the controller to be ready")
	f.StringVar(&chart, "chart", "", "install this chart instead of the bundled controller: a chart directory, a .tgz or oci://host/repo/name:version (configs are then values files for it)")
	_ = cmd.RegisterFlagCompletionFunc("config", completeConfigs)
	return cmd
}

func newUndeployCmd(g *globals) *cobra.Command {
	var (
		cluster clusterFlags
		configs []string
	)
	cmd := &cobra.Command{
		Use:   "undeploy",
		Short: "Stop a deployed controller and uninstall its release",
		Long: `Stop the controller of a config and uninstall its Helm release. The
Workflow CRD stays (Helm never deletes CRDs).`,
		Example: `  benchctl undeploy --config default
  benchctl undeploy --config default --config streak-1 --cluster dev`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			req, err := cluster.request(cmd)
			if err != nil {
				return err
			}
			if len(configs) == 0 {
				configs = []string{deploy.DefaultConfig}
			}
			act := &bench.Undeploy{Cluster: req, Names: configs, Clusters: g.clusters()}
			c, done, err := act.Run(cmd.Context())
			for _, name := range done {
				fmt.Fprintf(cmd.OutOrStdout(), "undeployed config %s from cluster %s\n", name, c.Name)
			}
			return err
		},
	}
	cluster.flags(cmd, g, false)
	cmd.Flags().StringArrayVar(&configs, "config", nil, "config to undeploy (repeatable; default: default)")
	_ = cmd.RegisterFlagCompletionFunc("config", completeConfigs)
	return cmd
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
