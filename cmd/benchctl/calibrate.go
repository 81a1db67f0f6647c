package main

import (
	"github.com/spf13/cobra"

	"github.com/benchctl/benchctl/cmd/internal/bench"
	"github.com/benchctl/benchctl/controller/config"
	"github.com/benchctl/benchctl/provision/calibrate"
	"github.com/benchctl/benchctl/reports"
)

func init() { register(newCalibrateCmd) }

func newCalibrateCmd(g *globals) *cobra.Command {
	var (
		cluster clusterFlags
		pf      portfolioFlags
		output  *outputFlag
		timeout = config.Defaults().KubeClient.Timeout.D()
	)
	defaults := config.Defaults().KubeClient
	act := &bench.Calibrate{Client: calibrate.Client{QPS: defaults.QPS, Burst: defaults.Burst}}
	cmd := &cobra.Command{
		Use:   "calibrate",
		Short: "Measure the floor of a cluster: the API work a serial node cannot avoid",
		Long: `Measure, on an existing cluster and with the controller's client settings
(a client-side token bucket of --qps and --burst), the latency of the API
operations a workflow controller cannot avoid, at least 50 of each, in a
namespace of its own that is deleted afterwards:

  workflow.create/update.small   the portfolio's smallest Workflow
  workflow.create/update.large   its longest chain, with half its nodes' status
  pod.create                     a 0 s pod
  pod.running/succeeded.observed that pod's phases reaching a watch
  watch.delivery                 a write's start to the watch event carrying it

and, where the provider exposes etcd's metrics (local does), etcd's WAL fsync
and backend commit latencies over the same time.

From these it derives the floor per serial node: one pod create, one write
observed through a watch and one update of the large Workflow. Every run
calibrates after deploying (cached per cluster; see run --calibration), its
reports record the floor, and each workflow's controller time per node is
shown as a multiple of it. 'benchctl diff' warns when two reports' floors
differ beyond their noise.

The cluster must serve the Workflow CRD: deploy a config to it first. The
result is cached for later runs on the same cluster.`,
		Example: `  # The floor of the cluster 'benchctl' (as run uses it):
  benchctl calibrate

  # A dev cluster, sized by the smoke tier's workflows, as JSON:
  benchctl calibrate --cluster dev --tier smoke -o json

  # With a controller config's client limits:
  benchctl calibrate --qps 50 --burst 100 --samples 100`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			req, err := cluster.request(cmd)
			if err != nil {
				return err
			}
			if err := output.check(); err != nil {
				return err
			}
			act.Cluster, act.Portfolio, act.Progress = req, pf.portfolioSpec(), cmd.ErrOrStderr()
			act.Client.Timeout = timeout
			act.Clusters, act.Calibrator = g.clusters(), bench.LiveCalibrator{}
			f, err := act.Run(cmd.Context())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			switch output.format {
			case formatYAML:
				return reports.EncodeFloor(out, f)
			case formatJSON:
				return reports.EncodeFloorJSON(out, f)
			}
			return reports.WriteFloorText(out, f)
		},
	}
	cluster.flags(cmd, g, false)
	f := cmd.Flags()
	f.StringArrayVar(&pf.spec.Files, "portfolio", nil, "portfolio file whose workflows size the Workflow objects (repeatable; default: builtin)")
	f.StringVar(&pf.spec.Tier, "tier", "default", "tier whose workflows size the Workflow objects")
	pf.changed = f.Changed
	f.IntVar(&act.Samples, "samples", calibrate.DefaultSamples, "operations of each kind (at least 50)")
	f.Float32Var(&act.Client.QPS, "qps", act.Client.QPS, "client-side rate limit, as the controller's kubeClient.qps")
	f.IntVar(&act.Client.Burst, "burst", act.Client.Burst, "client-side burst, as the controller's kubeClient.burst")
	f.DurationVar(&timeout, "request-timeout", timeout, "bound on each request, as the controller's kubeClient.timeout")
	output = addOutputFlag(cmd, formatText, formatYAML, formatJSON)
	return cmd
}
