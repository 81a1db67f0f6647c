// Package deploy installs the bundled controller's Helm chart with the Helm
// v3 SDK under a named config, and starts the controller: on the local
// provider as a host process (no kubelet runs real pods there), elsewhere as
// the chart's Deployment. It records each deployment next to its cluster so
// the portfolio and aggregate stages can reach the controller.
package deploy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/cli/values"
	"helm.sh/helm/v3/pkg/getter"
	"helm.sh/helm/v3/pkg/storage/driver"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"sigs.k8s.io/yaml"

	"github.com/benchctl/benchctl/controller/config"
	"github.com/benchctl/benchctl/provision"
)

// Defaults.
const (
	DefaultNamespace = "benchctl"
	DefaultRelease   = "benchflow"
	DefaultTimeout   = 3 * time.Minute
)

// Options says what to deploy where.
type Options struct {
	// Cluster is the target, from the provision store.
	Cluster *provision.Cluster
	// Store holds the cluster record; the local host process is added to
	// it so that teardown stops it.
	Store *provision.Store
	// Namespace and Release name the Helm release. Namespace defaults to
	// "benchctl-<config>" and Release to "benchflow". A config is deployed
	// at most once per cluster: its name keys the deployment record.
	Namespace string
	Release   string
	// Config is a named config or a values file path (default "default").
	Config string
	// Name names this deployment (default: the config's name): its
	// namespace, its record and its host process. Two deployments of one
	// config under different names and controller sources are how
	// branches are compared.
	Name string
	// ValuesFiles (-f), Set (--set) and SetString (--set-string) override
	// the config, as in helm.
	ValuesFiles []string
	Set         []string
	SetString   []string
	// Source is where the controller comes from; see ResolveSource.
	Source Source
	// ImageRepo is where kind/eks/gke clusters pull benchflow and benchtask
	// images from (REPO/benchflow:TAG, REPO/benchtask:TAG).
	ImageRepo string
	// InstallCRDs allows installing the Workflow CRD on an existing
	// cluster, which is a cluster-scoped change benchctl never makes there
	// unless asked.
	InstallCRDs bool
	Timeout     time.Duration
	// Progress receives one line per step (may be nil).
	Progress io.Writer
}

// Deployment is the record of a deployed controller, kept in
// <cluster-dir>/deployments/<config>.yaml. Each config has its own
// namespace, so several configs can be deployed side by side for A/B runs.
type Deployment struct {
	// Name is the deployment's name (the config's unless given).
	Name      string `json:"name"`
	Release   string `json:"release"`
	Namespace string `json:"namespace"`
	Config    string `json:"config"`
	Revision  int    `json:"revision"`
	// Values are the user-supplied values (config overlay, -f, --set).
	Values map[string]any `json:"values"`
	// EffectiveConfig is the controller's configuration after defaults,
	// as the running controller reports it; ConfigHash is its sha256.
	EffectiveConfig string `json:"effectiveConfig"`
	ConfigHash      string `json:"configHash"`
	// Endpoint is the controller's HTTP base URL (local; for other
	// providers Connect opens a port-forward).
	Endpoint   string             `json:"endpoint,omitempty"`
	Controller ControllerInfo     `json:"controller"`
	Process    *provision.Process `json:"process,omitempty"`
	DeployedAt time.Time          `json:"deployedAt"`
}

// ControllerInfo identifies the controller build under test.
type ControllerInfo struct {
	Version string `json:"version"`
	Commit  string `json:"commit"`
	// Source is "bundled", a directory or a git ref.
	Source string `json:"source"`
}

// Deploy installs or upgrades the release and waits for the controller.
func Deploy(ctx context.Context, opts Options) (*Deployment, error) {
	if opts.Cluster == nil {
		return nil, errors.New("deploy: no cluster")
	}
	if opts.Release == "" {
		opts.Release = DefaultRelease
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	start := time.Now()
	step := func(format string, args ...any) {
		fmt.Fprintf(opts.Progress, "  %5.1fs  %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}

	p, err := prepare(ctx, &opts)
	if err != nil {
		return nil, err
	}
	named, build, chrt, vals := p.named, p.build, p.chart, p.vals

	local := opts.Cluster.Provider == provision.ProviderLocal
	var host *hostController
	if local {
		if host, err = prepareHost(opts, vals); err != nil {
			return nil, err
		}
	} else if err := setImages(opts, build, vals); err != nil {
		return nil, err
	}

	rel, err := helmApply(ctx, opts, chrt, vals, !local)
	if err != nil {
		return nil, err
	}
	step("helm release %s (revision %d) in namespace %s with config %s", rel.Name, rel.Version, rel.Namespace, named.Name)

	d := &Deployment{
		Name: opts.Name, Release: opts.Release, Namespace: opts.Namespace, Config: named.Name, Revision: rel.Version,
		Values: vals, Controller: ControllerInfo{Version: build.Version, Commit: build.Commit, Source: build.Source},
		DeployedAt: time.Now().UTC(),
	}
	if local {
		if err := host.start(ctx, opts, build, rel.Manifest, d); err != nil {
			return nil, err
		}
		step("controller running on the host (pid %d), %s", d.Process.PID, d.Endpoint)
	}
	if err := fetchEffectiveConfig(ctx, opts, d); err != nil {
		return nil, err
	}
	if err := saveDeployment(opts.Cluster, d); err != nil {
		return nil, err
	}
	step("controller ready; effective config sha256:%s", d.ConfigHash[:12])
	return d, nil
}

// prepared is a deployment checked and ready to apply.
type prepared struct {
	named NamedConfig
	build *Build
	chart *chart.Chart
	vals  map[string]any
}

// prepare resolves the config, the controller build and its chart, merges
// the values and checks them against the chart's schema and the
// controller's own config rules, so that a bad input fails before any
// cluster is touched. It fills in opts' defaults.
func prepare(ctx context.Context, opts *Options) (*prepared, error) {
	if opts.Config == "" {
		opts.Config = DefaultConfig
	}
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	named, err := LoadConfig(opts.Config)
	if err != nil {
		return nil, configErr(err)
	}
	if opts.Name == "" {
		opts.Name = named.Name
	}
	if err := provision.ValidateName(opts.Name); err != nil {
		return nil, configErr(fmt.Errorf("deployment name: %w", err))
	}
	if opts.Namespace == "" {
		opts.Namespace = DefaultNamespace + "-" + opts.Name
	}
	build, err := opts.Source.Resolve(ctx, opts.Progress)
	if err != nil {
		return nil, err
	}
	chrt, err := build.LoadChart()
	if err != nil {
		return nil, err
	}
	if err := named.CheckKeys(chrt.Values); err != nil {
		return nil, configErr(err)
	}
	user, err := (&values.Options{ValueFiles: opts.ValuesFiles, Values: opts.Set, StringValues: opts.SetString}).MergeValues(getter.Providers{})
	if err != nil {
		return nil, configErr(fmt.Errorf("values: %w", err))
	}
	// -f and --set win over the named config, as later -f files do in helm.
	vals := chartutil.CoalesceTables(user, copyValues(named.Values))
	full, err := chartutil.CoalesceValues(chrt, copyValues(vals))
	if err != nil {
		return nil, configErr(fmt.Errorf("config %s: %w", named.Name, err))
	}
	if err := chartutil.ValidateAgainstSchema(chrt, full); err != nil {
		return nil, configErr(named.schemaError(err))
	}
	// The controller loads its config strictly; check it the same way now
	// rather than when the controller process starts.
	if c, ok := full["config"].(map[string]any); ok {
		b, err := yaml.Marshal(c)
		if err != nil {
			return nil, err
		}
		if _, err := config.Parse("config "+named.Name+" (values under config:)", b); err != nil {
			return nil, configErr(err)
		}
	}
	return &prepared{named: named, build: build, chart: chrt, vals: vals}, nil
}

// Check validates a deployment's config and values without a cluster.
func Check(ctx context.Context, opts Options) error {
	_, err := prepare(ctx, &opts)
	return err
}

// Undeploy stops the controller and uninstalls the release. The CRD stays,
// as Helm never deletes CRDs (they would take every Workflow with them).
func Undeploy(ctx context.Context, opts Options) error {
	if opts.Name == "" {
		opts.Name = DefaultConfig
	}
	d, err := LoadDeployment(opts.Cluster, opts.Name)
	if err != nil {
		return err
	}
	opts.Namespace, opts.Release = d.Namespace, d.Release
	var errs []error
	if d.Process != nil {
		errs = append(errs, stopHost(ctx, opts, *d.Process))
	}
	cfg, err := actionConfig(opts)
	if err != nil {
		return err
	}
	un := action.NewUninstall(cfg)
	un.Wait = opts.Cluster.Provider != provision.ProviderLocal
	un.Timeout = DefaultTimeout
	if _, err := un.Run(opts.Release); err != nil && !errors.Is(err, driver.ErrReleaseNotFound) {
		errs = append(errs, fmt.Errorf("helm uninstall %s: %w", opts.Release, err))
	}
	errs = append(errs, os.Remove(deploymentPath(opts.Cluster, d.Name)))
	return errors.Join(errs...)
}

// actionConfig builds a Helm action configuration for the cluster and
// namespace, storing releases as Secrets like the helm CLI.
func actionConfig(opts Options) (*action.Configuration, error) {
	flags := genericclioptions.NewConfigFlags(false)
	kc, ns := opts.Cluster.Kubeconfig, opts.Namespace
	flags.KubeConfig, flags.Namespace = &kc, &ns
	if opts.Cluster.Context != "" {
		ctxName := opts.Cluster.Context
		flags.Context = &ctxName
	}
	cfg := new(action.Configuration)
	if err := cfg.Init(flags, ns, "secret", func(format string, v ...any) { slog.Debug(fmt.Sprintf(format, v...), "component", "helm") }); err != nil {
		return nil, fmt.Errorf("helm: %w", err)
	}
	return cfg, nil
}

// helmApply installs the release, or upgrades it when it exists.
func helmApply(ctx context.Context, opts Options, chrt *chart.Chart, vals map[string]any, wait bool) (*releaseInfo, error) {
	cfg, err := actionConfig(opts)
	if err != nil {
		return nil, err
	}
	skipCRDs := opts.Cluster.Provider == provision.ProviderExisting && !opts.InstallCRDs
	_, getErr := action.NewGet(cfg).Run(opts.Release)
	switch {
	case errors.Is(getErr, driver.ErrReleaseNotFound):
		in := action.NewInstall(cfg)
		in.ReleaseName, in.Namespace = opts.Release, opts.Namespace
		in.CreateNamespace = true
		in.Wait, in.Timeout = wait, opts.Timeout
		in.SkipCRDs = skipCRDs
		rel, err := in.RunWithContext(ctx, chrt, vals)
		if err != nil {
			return nil, helmError("install", opts, err)
		}
		return &releaseInfo{Name: rel.Name, Namespace: rel.Namespace, Version: rel.Version, Manifest: rel.Manifest}, nil
	case getErr != nil:
		return nil, fmt.Errorf("helm: read release %s: %w", opts.Release, getErr)
	default:
		up := action.NewUpgrade(cfg)
		up.Namespace = opts.Namespace
		up.Wait, up.Timeout = wait, opts.Timeout
		up.SkipCRDs = skipCRDs
		up.ResetValues = true
		rel, err := up.RunWithContext(ctx, opts.Release, chrt, vals)
		if err != nil {
			return nil, helmError("upgrade", opts, err)
		}
		return &releaseInfo{Name: rel.Name, Namespace: rel.Namespace, Version: rel.Version, Manifest: rel.Manifest}, nil
	}
}

type releaseInfo struct {
	Name, Namespace string
	Version         int
	Manifest        string
}

// helmError adds what a user needs to act on a failed helm call.
func helmError(verb string, opts Options, err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "values don't meet the specifications of the schema"):
		return configErr(fmt.Errorf("config %s: the values do not match the chart's values.schema.json:\n%w", opts.Config, err))
	case strings.Contains(msg, "no matches for kind \"Workflow\""):
		return fmt.Errorf("the Workflow CRD is not installed on cluster %s; pass --install-crds to let benchctl install it (a cluster-scoped change): %w", opts.Cluster.Name, err)
	}
	return fmt.Errorf("helm %s %s: %w", verb, opts.Release, err)
}

// copyValues deep-copies a values tree, since Helm's coalescing mutates.
func copyValues(v map[string]any) map[string]any {
	b, err := yaml.Marshal(v)
	if err != nil {
		return map[string]any{}
	}
	out := map[string]any{}
	_ = yaml.Unmarshal(b, &out)
	return out
}

// setValue sets a dotted path in a values tree.
func setValue(vals map[string]any, path string, v any) {
	parts := strings.Split(path, ".")
	m := vals
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[parts[len(parts)-1]] = v
}

// loadChartFS loads a chart from a file system rooted at the chart.
func loadChartFS(fsys fs.FS) (*chart.Chart, error) {
	var files []*loader.BufferedFile
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, ".go") {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		files = append(files, &loader.BufferedFile{Name: filepath.ToSlash(p), Data: b})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read chart: %w", err)
	}
	c, err := loader.LoadFiles(files)
	if err != nil {
		return nil, fmt.Errorf("load chart: %w", err)
	}
	return c, nil
}

func hashConfig(b []byte) string {
	sum := sha256.Sum256(bytes.TrimSpace(b))
	return hex.EncodeToString(sum[:])
}
