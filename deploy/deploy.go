// Package deploy installs the bundled controller's Helm chart with the Helm
// v3 SDK under a named config, and starts the controller: on the local
// provider as a host process (no kubelet runs real pods there), elsewhere as
// the chart's Deployment. It records each deployment next to its cluster so
// the portfolio and aggregate stages can reach the controller.
package deploy

import (
	"context"
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
	"github.com/benchctl/benchctl/reports"
)

// Defaults.
const (
	DefaultNamespace = "benchctl"
	DefaultRelease   = "benchflow"
	DefaultTimeout   = 3 * time.Minute
)

// Options say what to deploy. Prepare checks them without a cluster.
type Options struct {
	// Name names this deployment (default: the config's name): its
	// namespace, its record and its host process. Two deployments of one
	// config under different names and controller sources are how
	// branches are compared.
	Name string
	// Namespace and Release name the Helm release. Namespace defaults to
	// "benchctl-<name>" and Release to "benchflow".
	Namespace string
	Release   string
	// Config is a named config or a values file path (default "default").
	Config string
	// ValuesFiles (-f), Set (--set) and SetString (--set-string) override
	// the config, as in helm.
	ValuesFiles []string
	Set         []string
	SetString   []string
	// Source is where the controller comes from; see Source.Resolve.
	Source Source
	// Chart, when set, installs this chart instead of the bundled
	// controller's (deploy --chart): a chart directory, a packaged chart
	// (.tgz) or an OCI reference (oci://host/repo/name:version). Config
	// is then a values file for it (default: none), checked against the
	// chart's values.schema.json; nothing of the bundled controller runs.
	Chart string
	// ImageRepo is where kind/eks/gke clusters pull benchflow and benchtask
	// images from (REPO/benchflow:TAG, REPO/benchtask:TAG). Without it a
	// kind cluster gets images built here (deploy/images) and loaded into
	// its nodes by ImageLoader.
	ImageRepo string
	// ImageLoader loads image archives into a kind cluster's nodes.
	ImageLoader ImageLoader
	// InstallCRDs allows installing the Workflow CRD on an existing
	// cluster, which is a cluster-scoped change benchctl never makes there
	// unless asked.
	InstallCRDs bool
	Timeout     time.Duration
	// Progress receives one line per step (may be nil).
	Progress io.Writer
}

// Deployment is the record of a deployed controller, kept in
// <cluster-dir>/deployments/<name>.yaml. Each deployment has its own
// namespace, so several can run side by side for A/B runs.
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
	// as the running controller reports it.
	EffectiveConfig string `json:"effectiveConfig"`
	// Behaviour is EffectiveConfig without what only locates this
	// deployment (addresses, paths; see Behaviour), and ConfigHash its
	// hash: two deployments that behave alike hash alike, whatever their
	// names.
	Behaviour  map[string]any `json:"behaviour"`
	ConfigHash string         `json:"configHash"`
	// Endpoint is the controller's HTTP base URL (host controllers; for
	// in-cluster ones Connect opens a port-forward).
	Endpoint   string             `json:"endpoint,omitempty"`
	Controller ControllerInfo     `json:"controller"`
	Process    *provision.Process `json:"process,omitempty"`
	// Admin is the admin service the controller reports events to, when
	// its config says events.sink: admin.
	Admin *AdminDeployment `json:"admin,omitempty"`
	// Chart is the chart of a deployment of any chart ('benchctl deploy
	// --chart'); nil for the bundled controller's.
	Chart      *ChartInfo `json:"chart,omitempty"`
	DeployedAt time.Time  `json:"deployedAt"`
}

// ChartInfo names a chart deployed with --chart.
type ChartInfo struct {
	// Ref is where it came from: a directory, an archive or an OCI
	// reference.
	Ref     string `json:"ref"`
	Name    string `json:"name"`
	Version string `json:"version"`
	// AppVersion is the chart's appVersion, the software it deploys.
	AppVersion string `json:"appVersion,omitempty"`
}

// ControllerInfo identifies the controller build under test.
type ControllerInfo struct {
	Version string `json:"version"`
	Commit  string `json:"commit"`
	// Source is "bundled", a directory or a git ref.
	Source string `json:"source"`
}

// Prepared is a deployment that has been checked and is ready to apply:
// its config loaded, its controller resolved (built once), its chart
// rendered and its values validated, all without a cluster.
type Prepared struct {
	// Options with their defaults filled in.
	Options Options
	Named   NamedConfig
	Build   *ControllerBuild
	// Values are the user's values: the named config's overlay, then -f,
	// then --set, as helm merges them.
	Values map[string]any
	// Inputs are the chart's values after Values, less what only locates
	// a deployment; InputsHash is their hash. A resumed run compares them
	// with what it started with.
	Inputs     map[string]any
	InputsHash string
	chart      *chart.Chart
	// admin: the values send events to the chart's admin service.
	admin bool
	// Chart names the chart of a --chart deployment (Build is then nil).
	Chart *ChartInfo
}

// Controller is what the prepared build will report about itself; for a
// --chart deployment, the chart's app version, its version and where it
// came from.
func (p *Prepared) Controller() ControllerInfo {
	if p.Chart != nil {
		return ControllerInfo{Version: p.Chart.AppVersion, Commit: p.Chart.Version, Source: p.Chart.Ref}
	}
	return ControllerInfo{Version: p.Build.Version, Commit: p.Build.Commit, Source: p.Build.Source}
}

// Prepare resolves the config, the controller build and its chart, merges
// the values, renders the chart and checks the values against its schema
// and the controller's own config rules, so that a bad input fails before
// any cluster is touched. A *ConfigError is the user's to fix.
func Prepare(ctx context.Context, opts Options) (*Prepared, error) {
	if opts.Chart != "" {
		return prepareChart(ctx, opts)
	}
	if opts.Config == "" {
		opts.Config = DefaultConfig
	}
	if opts.Release == "" {
		opts.Release = DefaultRelease
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	named, err := LoadConfig(opts.Config)
	if err != nil {
		return nil, configErr(err)
	}
	if err := opts.names(named); err != nil {
		return nil, err
	}
	build, err := opts.Source.Resolve(ctx, opts.Progress)
	if err != nil {
		return nil, err
	}
	chrt, err := build.LoadChart()
	if err != nil {
		return nil, err
	}
	vals, full, err := opts.values(named, chrt)
	if err != nil {
		return nil, err
	}
	// The controller loads its config strictly; check it the same way now
	// rather than when the controller process starts, with the admin URL
	// the chart (or, on local, Apply) fills in.
	admin := wantsAdmin(full)
	if u, _ := lookup(full, valAdminURL).(string); admin && u == "" {
		setValue(full, valAdminURL, adminServiceURL(opts.Release, opts.Namespace, full))
	}
	if c, ok := full["config"].(map[string]any); ok {
		b, err := yaml.Marshal(c)
		if err != nil {
			return nil, err
		}
		if _, err := config.Parse("config "+named.Name+" (values under config:)", b); err != nil {
			return nil, configErr(err)
		}
	}
	p := &Prepared{Options: opts, Named: named, Build: build, Values: vals, chart: chrt, admin: admin}
	if p.Inputs, err = chartInputs(full); err != nil {
		return nil, err
	}
	if p.InputsHash, err = reports.HashValues(p.Inputs); err != nil {
		return nil, err
	}
	if err := p.render(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

// names fills in the deployment's name (the config's) and namespace.
func (o *Options) names(named NamedConfig) error {
	if o.Name == "" {
		o.Name = named.Name
	}
	if err := provision.ValidateName(o.Name); err != nil {
		return configErr(fmt.Errorf("deployment name: %w", err))
	}
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace + "-" + o.Name
	}
	return nil
}

// values merges a chart's values as helm does (the named config, then
// -f, then --set) and checks them: top-level keys the chart has, and its
// values.schema.json, each problem blamed on the input that set it. It
// returns the user's values and the chart's values after them.
func (o Options) values(named NamedConfig, chrt *chart.Chart) (user, full map[string]any, err error) {
	if err := named.CheckKeys(chrt.Values); err != nil {
		return nil, nil, configErr(err)
	}
	for _, f := range o.ValuesFiles {
		if _, err := os.Stat(f); err != nil {
			return nil, nil, configErr(fmt.Errorf("-f %s: %w", f, err))
		}
	}
	set, err := (&values.Options{ValueFiles: o.ValuesFiles, Values: o.Set, StringValues: o.SetString}).MergeValues(getter.Providers{})
	if err != nil {
		return nil, nil, configErr(fmt.Errorf("--set/-f values: %w", err))
	}
	// -f and --set win over the named config, as later -f files do in helm.
	user = chartutil.CoalesceTables(set, copyValues(named.Values))
	full, err = chartutil.CoalesceValues(chrt, copyValues(user))
	if err != nil {
		return nil, nil, configErr(fmt.Errorf("config %s: %w", named.Name, err))
	}
	in := inputs{files: o.ValuesFiles, set: append(append([]string{}, o.Set...), o.SetString...)}
	if err := chartutil.ValidateAgainstSchema(chrt, full); err != nil {
		return nil, nil, configErr(named.schemaError(err, in))
	}
	return user, full, nil
}

// render renders the chart client-side, as helm template does, so that a
// template that cannot render fails before any cluster is touched.
func (p *Prepared) render(ctx context.Context) error {
	if _, err := p.manifest(ctx, p.Values); err != nil {
		return configErr(fmt.Errorf("config %s: the chart does not render: %w", p.Named.Name, err))
	}
	return nil
}

// manifest is the chart rendered client-side with vals, as helm template
// prints it (CRDs included).
func (p *Prepared) manifest(ctx context.Context, vals map[string]any) (string, error) {
	in := action.NewInstall(&action.Configuration{})
	in.DryRun, in.ClientOnly, in.Replace = true, true, true
	in.ReleaseName, in.Namespace = p.Options.Release, p.Options.Namespace
	in.IncludeCRDs = true
	rel, err := in.RunWithContext(ctx, p.chart, copyValues(vals))
	if err != nil {
		return "", err
	}
	return rel.Manifest, nil
}

// Apply installs or upgrades the release on c and waits until the
// controller is ready. A controller for a cluster without kubelets runs on
// this host and is recorded with the cluster in store, so that teardown
// stops it.
func (p *Prepared) Apply(ctx context.Context, c *provision.Cluster, store *provision.Store) (*Deployment, error) {
	if p.Chart != nil {
		return p.applyChart(ctx, c)
	}
	opts := p.Options
	start := time.Now()
	step := func(format string, args ...any) {
		fmt.Fprintf(opts.Progress, "  %5.1fs  %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}
	vals := copyValues(p.Values)
	onHost := c.ControllerOnHost()
	var host *hostController
	var err error
	d := &Deployment{
		Name: opts.Name, Release: opts.Release, Namespace: opts.Namespace, Config: p.Named.Name,
		Values: redactValues(p.Values), Controller: p.Controller(), DeployedAt: time.Now().UTC(),
	}
	if onHost {
		if host, err = prepareHost(c, opts.Name, vals); err != nil {
			return nil, err
		}
		if p.admin {
			// The admin service first: the controller reports to it from
			// its first round.
			if err := host.startHostAdmin(ctx, c, store, opts, p.Build, vals, d); err != nil {
				return nil, err
			}
			step("admin service running on the host (pid %d), %s", d.Admin.Process.PID, d.Admin.Endpoint)
		}
	} else if c.Provider == provision.ProviderKind && opts.ImageRepo == "" {
		repo, err := loadImages(ctx, c, opts, p.Build)
		if err != nil {
			return nil, err
		}
		step("images built and loaded into the nodes of kind cluster %s", c.Name)
		if err := setImages(c, repo, p.Build, vals, p.admin); err != nil {
			return nil, err
		}
	} else if err := setImages(c, opts.ImageRepo, p.Build, vals, p.admin); err != nil {
		return nil, err
	}
	if err := ensureCRD(ctx, c, opts, p.chart, step); err != nil {
		return nil, err
	}
	rel, err := helmApply(ctx, c, opts, p.chart, vals, !onHost)
	if err != nil {
		return nil, err
	}
	d.Revision = rel.Version
	step("helm release %s (revision %d) in namespace %s with config %s", rel.Name, rel.Version, rel.Namespace, p.Named.Name)
	if onHost {
		if err := host.start(ctx, c, store, opts, p.Build, rel.Manifest, d); err != nil {
			return nil, err
		}
		step("controller running on the host (pid %d), %s", d.Process.PID, d.Endpoint)
	}
	if err := fetchEffectiveConfig(ctx, c, d); err != nil {
		return nil, err
	}
	if p.admin {
		if d.Admin == nil {
			d.Admin = &AdminDeployment{}
		}
		endpoint, stop, err := ConnectAdmin(ctx, c, d)
		if err != nil {
			return nil, err
		}
		err = fetchAdminInfo(ctx, endpoint, d.Admin)
		stop()
		if err != nil {
			return nil, err
		}
	}
	if err := saveDeployment(c, d); err != nil {
		return nil, err
	}
	step("controller ready; config sha256:%s", strings.TrimPrefix(d.ConfigHash, "sha256:")[:12])
	return d, nil
}

// Undeploy stops the named deployment's controller and uninstalls its
// release. The CRD stays, as Helm never deletes CRDs (they would take
// every Workflow with them).
func Undeploy(ctx context.Context, c *provision.Cluster, store *provision.Store, name string) error {
	if name == "" {
		name = DefaultConfig
	}
	d, err := LoadDeployment(c, name)
	if err != nil {
		return err
	}
	var errs []error
	if d.Process != nil {
		errs = append(errs, stopRecorded(ctx, c, store, d.Process.Name))
	}
	if d.Admin != nil && d.Admin.Process != nil {
		errs = append(errs, stopRecorded(ctx, c, store, d.Admin.Process.Name))
	}
	cfg, err := actionConfig(c, d.Namespace)
	if err != nil {
		return err
	}
	un := action.NewUninstall(cfg)
	un.Wait = !c.ControllerOnHost()
	un.Timeout = DefaultTimeout
	if _, err := un.Run(d.Release); err != nil && !errors.Is(err, driver.ErrReleaseNotFound) {
		errs = append(errs, fmt.Errorf("helm uninstall %s: %w", d.Release, err))
	}
	errs = append(errs, os.Remove(deploymentPath(c, d.Name)))
	return errors.Join(errs...)
}

// actionConfig builds a Helm action configuration for the cluster and
// namespace, storing releases as Secrets like the helm CLI.
func actionConfig(c *provision.Cluster, namespace string) (*action.Configuration, error) {
	flags := genericclioptions.NewConfigFlags(false)
	kc, ns := c.Kubeconfig, namespace
	flags.KubeConfig, flags.Namespace = &kc, &ns
	if c.Context != "" {
		ctxName := c.Context
		flags.Context = &ctxName
	}
	cfg := new(action.Configuration)
	if err := cfg.Init(flags, ns, "secret", func(format string, v ...any) { slog.Debug(fmt.Sprintf(format, v...), "component", "helm") }); err != nil {
		return nil, fmt.Errorf("helm: %w", err)
	}
	return cfg, nil
}

// helmApply installs the release, or upgrades it when it exists.
func helmApply(ctx context.Context, c *provision.Cluster, opts Options, chrt *chart.Chart, vals map[string]any, wait bool) (*releaseInfo, error) {
	cfg, err := actionConfig(c, opts.Namespace)
	if err != nil {
		return nil, err
	}
	skipCRDs := !c.Owned() && !opts.InstallCRDs
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
			return nil, helmError("install", c, opts, err)
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
			return nil, helmError("upgrade", c, opts, err)
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
func helmError(verb string, c *provision.Cluster, opts Options, err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "values don't meet the specifications of the schema"):
		return configErr(fmt.Errorf("config %s: the values do not match the chart's values.schema.json:\n%w", opts.Config, err))
	case strings.Contains(msg, "no matches for kind \"Workflow\""):
		return fmt.Errorf("the Workflow CRD is not installed on cluster %s; pass --install-crds to let benchctl install it (a cluster-scoped change): %w", c.Name, err)
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
