package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"github.com/benchctl/benchctl/aggregate"
	"github.com/benchctl/benchctl/controller/chart"
	"github.com/benchctl/benchctl/deploy"
	"github.com/benchctl/benchctl/portfolio"
	"github.com/benchctl/benchctl/provision"
	"github.com/benchctl/benchctl/provision/local"
	"github.com/benchctl/benchctl/reports"
)

// This file wires the stages together for the commands that span more
// than one (portfolio run, run, compare).

// defaultCluster is the cluster name commands use when --cluster is unset.
const defaultCluster = "benchctl"

// loadCluster reads a cluster record, as a usage error when it is absent.
func (g *globals) loadCluster(name string) (*provision.Cluster, error) {
	c, err := g.store().Load(name)
	if errors.Is(err, provision.ErrNotFound) {
		return nil, usageError(fmt.Errorf("%w; create it with 'benchctl provision --name %s'", err, name))
	}
	return c, err
}

// controllerSource describes where deploy finds the controller: the one
// built into this binary unless spec names a tree or a git ref.
func controllerSource(spec string) (deploy.Source, error) {
	exe, err := os.Executable()
	if err != nil {
		return deploy.Source{}, fmt.Errorf("locate benchctl: %w", err)
	}
	return deploy.Source{
		Spec:           spec,
		Bundled:        []string{exe, controllerCmdName},
		BundledChart:   chart.FS(),
		BundledVersion: version,
		BundledCommit:  commit,
		CacheDir:       local.DefaultCacheDir(),
	}, nil
}

// environment is what a report records about where a config ran.
func environment(c *provision.Cluster, d *deploy.Deployment) (reports.Environment, error) {
	values := map[string]any{}
	if err := yaml.Unmarshal([]byte(d.EffectiveConfig), &values); err != nil {
		return reports.Environment{}, fmt.Errorf("effective config of %s: %w", d.Config, err)
	}
	cfg, err := reports.NewConfig(d.Config, values)
	if err != nil {
		return reports.Environment{}, err
	}
	return reports.Environment{
		Provider: reports.Provider{Name: c.Finger.Provider, KubernetesVersion: c.Finger.KubernetesVersion,
			Nodes: c.Finger.Nodes, Options: c.Finger.Options},
		Benchctl:   reports.Build{Version: version, Commit: commit},
		Controller: reports.Controller{Version: d.Controller.Version, Commit: d.Controller.Commit, Source: d.Controller.Source},
		Config:     cfg,
		Host:       reports.CurrentHost(),
	}, nil
}

// targets connects to each config's deployed controller and returns the
// portfolio targets with collectors, and each config's environment.
// close ends port-forwards.
func targets(ctx context.Context, c *provision.Cluster, configs []string) ([]portfolio.Target, map[string]reports.Environment, func(), error) {
	raw, err := clientcmd.LoadFromFile(c.Kubeconfig)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("kubeconfig of cluster %s: %w", c.Name, err)
	}
	rc, err := clientcmd.NewDefaultClientConfig(*raw, &clientcmd.ConfigOverrides{CurrentContext: c.Context}).ClientConfig()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("kubeconfig of cluster %s: %w", c.Name, err)
	}
	rc.QPS, rc.Burst = 100, 200
	kube, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, nil, nil, err
	}
	cl, err := portfolio.NewClient(rc)
	if err != nil {
		return nil, nil, nil, err
	}
	var stops []func()
	closeAll := func() {
		for _, s := range stops {
			s()
		}
	}
	var out []portfolio.Target
	envs := map[string]reports.Environment{}
	for _, name := range configs {
		d, err := deploy.LoadDeployment(c, name)
		if err != nil {
			closeAll()
			return nil, nil, nil, usageError(err)
		}
		endpoint, stop, err := deploy.Connect(ctx, c, d)
		if err != nil {
			closeAll()
			return nil, nil, nil, err
		}
		stops = append(stops, stop)
		if envs[name], err = environment(c, d); err != nil {
			closeAll()
			return nil, nil, nil, err
		}
		out = append(out, portfolio.Target{Config: name, Namespace: d.Namespace, Client: cl,
			Hooks: &aggregate.Collector{Endpoint: endpoint, Kube: kube}})
	}
	return out, envs, closeAll, nil
}

// defaultRunDir is where a run's records and reports go unless
// --output-dir says otherwise: <data-dir>/runs/<time>-<tier>, outside any
// source tree.
func defaultRunDir(stamp, tier string) string {
	base := os.Getenv("XDG_DATA_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			home = os.TempDir()
		}
		base = filepath.Join(home, ".local", "share")
	}
	return filepath.Join(base, "benchctl", "runs", stamp+"-"+tier)
}
