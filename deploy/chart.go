package deploy

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/registry"

	"github.com/benchctl/benchctl/provision"
	"github.com/benchctl/benchctl/reports"
	"github.com/benchctl/benchctl/reports/redact"
)

// prepareChart prepares a deployment of any chart (deploy --chart), such
// as flyte-binary or flyte-core, so that configs of a Flyte deployment
// are compared as the bundled controller's are: a config is a values file
// for the chart, merged with -f and --set, checked against the chart's
// keys and values.schema.json and rendered, all before a cluster is
// touched. Nothing of the bundled controller is built or run.
func prepareChart(ctx context.Context, opts Options) (*Prepared, error) {
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	chrt, ref, err := loadChart(ctx, opts.Chart)
	if err != nil {
		return nil, configErr(err)
	}
	// Without a values file the chart runs on its own values, under its
	// name (not "default", the bundled controller's).
	named := NamedConfig{Name: chrt.Name(), Source: "the chart's values", Values: map[string]any{}}
	if opts.Config != "" {
		if !isValuesFile(opts.Config) {
			return nil, configErr(fmt.Errorf("--config %s: with --chart, --config names a values file for chart %s (the named configs are the bundled controller's)", opts.Config, chrt.Name()))
		}
		if named, err = LoadConfig(opts.Config); err != nil {
			return nil, configErr(err)
		}
	}
	if opts.Release == "" {
		opts.Release = chrt.Name()
	}
	if err := opts.names(named); err != nil {
		return nil, err
	}
	vals, full, err := opts.values(named, chrt)
	if err != nil {
		return nil, err
	}
	md := chrt.Metadata
	p := &Prepared{Options: opts, Named: named, Values: vals, chart: chrt,
		Chart: &ChartInfo{Ref: redact.String(ref), Name: md.Name, Version: md.Version, AppVersion: md.AppVersion}}
	// Every value can change how the deployment behaves: the inputs are
	// the whole of them, less credentials.
	p.Inputs = redactValues(full)
	if p.InputsHash, err = reports.HashValues(p.Inputs); err != nil {
		return nil, err
	}
	if err := p.render(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

// isValuesFile says whether a --config names a file rather than one of
// the named configs (LoadConfig's rule).
func isValuesFile(config string) bool {
	return strings.Contains(config, "/") || strings.HasSuffix(config, ".yaml") || strings.HasSuffix(config, ".yml")
}

// pullTimeout bounds fetching a chart from a registry.
const pullTimeout = 2 * time.Minute

// loadChart loads a chart directory, a packaged chart, or a chart from an
// OCI registry (oci://host/repo/name:version, with docker's credentials;
// plain HTTP only to a loopback registry).
func loadChart(ctx context.Context, ref string) (*chart.Chart, string, error) {
	if !registry.IsOCI(ref) {
		c, err := loader.Load(ref)
		if err != nil {
			return nil, ref, fmt.Errorf("--chart %s: %w", ref, err)
		}
		return c, ref, nil
	}
	name := strings.TrimPrefix(ref, registry.OCIScheme+"://")
	host, _, _ := strings.Cut(name, "/")
	var opts []registry.ClientOption
	if h, _, err := net.SplitHostPort(host); err == nil && isLoopbackHost(h) || isLoopbackHost(host) {
		opts = append(opts, registry.ClientOptPlainHTTP())
	}
	client, err := registry.NewClient(opts...)
	if err != nil {
		return nil, ref, fmt.Errorf("--chart %s: %w", ref, err)
	}
	type pulled struct {
		res *registry.PullResult
		err error
	}
	// The registry client takes no context: bound it here.
	done := make(chan pulled, 1)
	go func() {
		res, err := client.Pull(name, registry.PullOptWithChart(true))
		done <- pulled{res, err}
	}()
	var got pulled
	select {
	case got = <-done:
	case <-ctx.Done():
		return nil, ref, fmt.Errorf("--chart %s: %w", ref, ctx.Err())
	case <-time.After(pullTimeout):
		return nil, ref, fmt.Errorf("--chart %s: no chart within %v", ref, pullTimeout)
	}
	if got.err != nil {
		return nil, ref, fmt.Errorf("--chart %s: %w", ref, got.err)
	}
	c, err := loader.LoadArchive(strings.NewReader(string(got.res.Chart.Data)))
	if err != nil {
		return nil, ref, fmt.Errorf("--chart %s: %w", ref, err)
	}
	return c, ref, nil
}

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// applyChart installs or upgrades the chart's release and records the
// deployment with the config's values; it waits for the release's
// resources to be ready.
func (p *Prepared) applyChart(ctx context.Context, c *provision.Cluster) (*Deployment, error) {
	opts := p.Options
	rel, err := helmApply(ctx, c, opts, p.chart, copyValues(p.Values), true)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(opts.Progress, "  helm release %s (revision %d) of chart %s %s in namespace %s with config %s\n",
		rel.Name, rel.Version, p.Chart.Name, p.Chart.Version, rel.Namespace, p.Named.Name)
	d := &Deployment{
		Name: opts.Name, Release: opts.Release, Namespace: opts.Namespace, Config: p.Named.Name, Revision: rel.Version,
		Values: redactValues(p.Values), Controller: p.Controller(), Chart: p.Chart, DeployedAt: time.Now().UTC(),
		ConfigHash: p.InputsHash,
	}
	if err := saveDeployment(c, d); err != nil {
		return nil, err
	}
	return d, nil
}
