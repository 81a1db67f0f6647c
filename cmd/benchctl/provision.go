package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/benchctl/benchctl/deploy"
	"github.com/benchctl/benchctl/provision"
	"github.com/benchctl/benchctl/provision/local"
)

func init() {
	register(newProvisionCmd)
	register(newTeardownCmd)
	register(newClustersCmd)
	register(newKubeconfigCmd)
}

func newProvisionCmd(g *globals) *cobra.Command {
	spec := provision.Spec{Provider: provision.ProviderLocal, Name: "benchctl", Nodes: 3}
	cmd := &cobra.Command{
		Use:   "provision",
		Short: "Create a cluster to benchmark on",
		Long: `Create a cluster and record it under --state-dir.

Providers:
  local     (default) etcd + kube-apiserver + kube-scheduler + kube-controller-manager
            + KWOK as host processes on loopback; no Docker, no cloud. Needs the
            binaries from 'make setup'. Returns when /readyz answers and every fake
            node is Ready; the processes keep running after benchctl exits.
  kind      Kubernetes in Docker/Podman containers (needs a running engine).
  eks, gke  cloud clusters through eksctl / gcloud; --dry-run prints the commands.
  existing  a cluster you name with --kubeconfig and --context; benchctl never
            deletes it or changes anything outside its own namespace.`,
		Example: `  benchctl provision --provider local --name a --nodes 3
  kubectl --kubeconfig "$(benchctl kubeconfig a)" get nodes
  benchctl provision --provider eks --name perf --region us-west-2 --node-type m6i.xlarge --nodes 5 --dry-run
  benchctl provision --provider existing --name lab --kubeconfig ~/.kube/config --context lab`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if spec.DryRun {
				return asUsage(provision.DryRun(cmd.Context(), g.store(), g.registry(), spec, cmd.OutOrStdout()))
			}
			start := time.Now()
			c, err := provision.Create(cmd.Context(), g.store(), g.registry(), spec)
			if errors.Is(err, provision.ErrExists) || errors.Is(err, local.ErrNotBuilt) {
				return usageError(err)
			}
			if err != nil {
				return asUsage(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "cluster %s (%s, %d nodes, Kubernetes %s) ready in %.1fs\nkubeconfig: %s\n",
				c.Name, c.Provider, c.Fingerprint.Nodes, c.Fingerprint.KubernetesVersion, time.Since(start).Seconds(), c.Kubeconfig)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&spec.Provider, "provider", spec.Provider, "local, kind, eks, gke or existing")
	f.StringVar(&spec.Name, "name", spec.Name, "cluster name (a DNS label, unique under --state-dir)")
	f.IntVar(&spec.Nodes, "nodes", spec.Nodes, "number of worker nodes (fake KWOK nodes for local; kind adds a control-plane node; ignored for existing)")
	f.StringVar(&spec.KubernetesVersion, "kubernetes-version", "", "Kubernetes version: kind v1.33.1, eks 1.33, gke 1.33 or latest (local runs its pinned version)")
	f.BoolVar(&spec.DryRun, "dry-run", false, "print what would run without running or recording anything")
	f.BoolVar(&spec.UnsafeNoFsync, "unsafe-no-fsync", false, "local: run etcd with --unsafe-no-fsync (faster, unlike a real cluster; recorded in the fingerprint)")
	f.StringVar(&spec.NodeImage, "node-image", "", "kind: node image (default: kind's image for --kubernetes-version)")
	f.StringVar(&spec.Region, "region", "", "eks (required), gke: region")
	f.StringVar(&spec.Zone, "zone", "", "gke: zone (a zonal cluster); eks: pins the node group to one zone")
	f.StringVar(&spec.NodeType, "node-type", "", "eks, gke: instance / machine type (default m5.large / e2-standard-2)")
	f.StringVar(&spec.Project, "project", "", "gke: Google Cloud project")
	f.StringVar(&spec.Kubeconfig, "kubeconfig", "", "existing: kubeconfig of the cluster to use")
	f.StringVar(&spec.Context, "context", "", "existing: kubeconfig context to use")
	_ = cmd.RegisterFlagCompletionFunc("provider", cobra.FixedCompletions(provision.Providers, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// asUsage marks provider errors that are the user's to fix as usage
// errors (exit code 2).
func asUsage(err error) error {
	if provision.IsUsageError(err) {
		return usageError(err)
	}
	return err
}

// completeClusters completes cluster names from the store.
func completeClusters(g *globals) cobra.CompletionFunc {
	return func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		list, err := g.store().List()
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		var names []cobra.Completion
		for _, c := range list {
			names = append(names, c.Name)
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}

func newTeardownCmd(g *globals) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "teardown NAME | --all",
		Short: "Delete a cluster benchctl created",
		Long: `Delete a cluster benchctl created and remove its state. For a local cluster
this stops exactly the recorded processes. A cluster registered with
--provider existing is never touched: teardown only forgets benchctl's record
of it. --all deletes every cluster benchctl created and skips the others.`,
		Example: `  benchctl teardown a
  benchctl teardown --all`,
		ValidArgsFunction: completeClusters(g),
		Args:              cobra.ArbitraryArgs, // checked below, with --all
		RunE: func(cmd *cobra.Command, args []string) error {
			if all == (len(args) == 1) || len(args) > 1 {
				return usageError(errors.New("teardown takes one cluster NAME or --all"))
			}
			names := args
			if all {
				list, err := g.store().List()
				if err != nil {
					return err
				}
				names = nil
				for _, c := range list {
					if c.CreatedBy == provision.CreatedByUser {
						fmt.Fprintf(cmd.ErrOrStderr(), "skipping %s: benchctl did not create it\n", c.Name)
						continue
					}
					names = append(names, c.Name)
				}
			}
			var errs []error
			for _, name := range names {
				res, err := provision.Delete(cmd.Context(), g.store(), g.registry(), name)
				switch {
				case errors.Is(err, provision.ErrNotFound):
					errs = append(errs, usageError(err))
				case err != nil:
					errs = append(errs, err)
				case res == provision.Forgotten:
					fmt.Fprintf(cmd.OutOrStdout(), "forgot %s (benchctl did not create it; the cluster was not touched)\n", name)
				default:
					fmt.Fprintf(cmd.OutOrStdout(), "deleted %s\n", name)
				}
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "delete every cluster benchctl created")
	return cmd
}

func newClustersCmd(g *globals) *cobra.Command {
	var output *outputFlag
	cmd := &cobra.Command{
		Use:   "clusters",
		Short: "List the clusters benchctl knows and what is deployed on them",
		Example: `  benchctl clusters
  benchctl clusters -o json`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := output.check(); err != nil {
				return err
			}
			list, err := g.store().List()
			if err != nil {
				return err
			}
			if output.format != formatText {
				type entry struct {
					*provision.Cluster
					Status      string   `json:"status"`
					Deployments []string `json:"deployments"`
				}
				out := []entry{}
				for _, c := range list {
					ds, _ := deploy.Deployments(c)
					out = append(out, entry{c, clusterStatus(c), ds})
				}
				return printData(cmd.OutOrStdout(), output.format, out)
			}
			if len(list) == 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "no clusters under %s\n", g.stateDir)
				return nil
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tPROVIDER\tNODES\tKUBERNETES\tCREATED-BY\tAGE\tSTATUS\tDEPLOYMENTS")
			for _, c := range list {
				ds, _ := deploy.Deployments(c)
				fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", c.Name, dash(c.Provider), c.Nodes, dash(c.Fingerprint.KubernetesVersion),
					dash(c.CreatedBy), age(c.CreatedAt), clusterStatus(c), dash(strings.Join(ds, ",")))
			}
			return w.Flush()
		},
	}
	output = addOutputFlag(cmd, formatText, formatYAML, formatJSON)
	return cmd
}

func newKubeconfigCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:               "kubeconfig NAME",
		Short:             "Print the path of a cluster's kubeconfig",
		Example:           `  kubectl --kubeconfig "$(benchctl kubeconfig a)" get nodes`,
		Args:              exactArgs(1),
		ValidArgsFunction: completeClusters(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.store().Load(args[0])
			if errors.Is(err, provision.ErrNotFound) {
				return usageError(err)
			}
			if err != nil {
				return err
			}
			p, err := g.registry().Get(c.Provider)
			if err != nil {
				return err
			}
			path, err := p.Kubeconfig(cmd.Context(), c)
			if err != nil {
				return err
			}
			if _, err := os.Stat(path); err != nil {
				return fmt.Errorf("kubeconfig of cluster %q: %w", c.Name, err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), path)
			return nil
		},
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func age(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return time.Since(t).Round(time.Second).String()
}

// clusterStatus is what a user needs at a glance: for local clusters,
// whether every recorded process still runs.
func clusterStatus(c *provision.Cluster) string {
	if c.Provider == "" {
		return "incomplete (teardown to clean up)"
	}
	if c.Provider != provision.ProviderLocal {
		return "recorded"
	}
	var down []string
	for name, up := range local.RunningProcesses(c) {
		if !up {
			down = append(down, name)
		}
	}
	if len(down) > 0 {
		return fmt.Sprintf("degraded (%d of %d processes down)", len(down), len(c.Processes))
	}
	return "running"
}
