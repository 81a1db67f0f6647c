package bench

import (
	"context"
	"errors"
	"io"

	"github.com/benchctl/benchctl/deploy"
	"github.com/benchctl/benchctl/provision"
)

// Deploy deploys controllers on a cluster without running anything:
// 'benchctl deploy'. Every target is prepared (checked, built) before the
// cluster is touched.
type Deploy struct {
	Cluster  ClusterRequest
	Targets  []TargetSpec
	Deploy   deploy.Options
	Progress io.Writer
	Clusters Clusters
	Deployer Deployer
}

// DeployResult is the cluster and what was deployed on it.
type DeployResult struct {
	Cluster     *provision.Cluster
	Deployments []*deploy.Deployment
}

// Run prepares every target, then applies them in order.
func (d *Deploy) Run(ctx context.Context) (*DeployResult, error) {
	b := &Benchmark{Targets: d.Targets, Deploy: d.Deploy, Progress: d.Progress, Clusters: d.Clusters, Deployer: d.Deployer}
	if b.Progress == nil {
		b.Progress = io.Discard
	}
	ts, err := b.prepare(ctx)
	if err != nil {
		return nil, err
	}
	c, _, err := d.Clusters.Ensure(ctx, d.Cluster)
	if err != nil {
		return nil, err
	}
	res := &DeployResult{Cluster: c}
	if err := b.deploy(ctx, c, ts); err != nil {
		return res, err
	}
	for _, t := range ts {
		res.Deployments = append(res.Deployments, t.deployed)
	}
	return res, nil
}

// Undeploy stops deployed controllers and uninstalls their releases.
type Undeploy struct {
	Cluster  ClusterRequest
	Names    []string
	Clusters Clusters
}

// Run undeploys every name; it goes on past a failure and reports all.
func (u *Undeploy) Run(ctx context.Context) (*provision.Cluster, []string, error) {
	c, _, err := u.Clusters.Ensure(ctx, u.Cluster)
	if err != nil {
		return nil, nil, err
	}
	var done []string
	var errs []error
	for _, name := range u.Names {
		if err := deploy.Undeploy(ctx, c, u.Clusters.Store(), name); err != nil {
			errs = append(errs, err)
			continue
		}
		done = append(done, name)
	}
	return c, done, errors.Join(errs...)
}
