package bench

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/benchctl/benchctl/aggregate/collect"
	"github.com/benchctl/benchctl/portfolio"
	"github.com/benchctl/benchctl/portfolio/flyte"
	"github.com/benchctl/benchctl/portfolio/flyteengine"
	"github.com/benchctl/benchctl/portfolio/rundir"
	"github.com/benchctl/benchctl/provision"
	"github.com/benchctl/benchctl/reports"
	"github.com/benchctl/benchctl/reports/redact"
)

// Flyte says where the flyte engine runs a portfolio of flyte: entries:
// Flyte deployments benchctl did not deploy itself, one target each,
// reached through Flyte Admin.
type Flyte struct {
	Targets []FlyteTarget
	// Project and Domain are where entries that name none run.
	Project, Domain string
	Auth            flyte.AuthConfig
	// AllowInsecureHTTP permits plain http to a host other than loopback
	// (never with credentials).
	AllowInsecureHTTP bool
	// Register, when set, is a package of workflows that flytectl
	// registers in every target before the run.
	Register string
	// Deployments reads each target's config values from the deployment
	// of its name on Benchmark.Cluster, as 'benchctl deploy --chart'
	// recorded them.
	Deployments bool
	// Poll bounds the wait for each execution (default flyte.DefaultPoll).
	Poll flyte.Poll
	// LockDir holds a run lock per Admin endpoint, so that two runs from
	// this host never interleave executions on one deployment ("" for
	// none).
	LockDir string
}

// lockPath is the run lock file of the Admin at endpoint: one per
// deployment, whatever spelling of its URL names it.
func (f *Flyte) lockPath(endpoint string) string {
	key := strings.TrimRight(endpoint, "/")
	if u, err := url.Parse(key); err == nil {
		u.Host = strings.ToLower(u.Host)
		u.User = nil
		key = u.String()
	}
	sum := sha256.Sum256([]byte(key))
	return filepath.Join(f.LockDir, hex.EncodeToString(sum[:8])+".lock")
}

// lockRuns takes the run lock of every distinct Admin of the run.
func (f *Flyte) lockRuns(what string) (unlock func(), err error) {
	var unlocks []func()
	unlock = func() {
		for _, u := range unlocks {
			u()
		}
	}
	if f.LockDir == "" {
		return unlock, nil
	}
	held := map[string]bool{}
	for _, t := range f.Targets {
		p := f.lockPath(t.Endpoint)
		if held[p] {
			continue
		}
		u, err := provision.LockRunsAt(p, "flyte admin "+redact.String(t.Endpoint), "run on another deployment", what)
		if err != nil {
			unlock()
			return nil, err
		}
		held[p] = true
		unlocks = append(unlocks, u)
	}
	return unlock, nil
}

// FlyteTarget is one Flyte deployment.
type FlyteTarget struct {
	// Name names it in the plan and the reports (a config's name).
	Name string
	// Endpoint is Flyte Admin's URL.
	Endpoint string
	// Propeller is flytepropeller's metrics URL ("" for none): its
	// counts, before and after each execution, become the reports'
	// infrastructure rows.
	Propeller string
}

// dialTimeout bounds connecting to Admin: an endpoint that drops packets
// fails in seconds, not at a request's timeout.
const dialTimeout = 5 * time.Second

// flyteTarget is a target through the flyte engine's stages.
type flyteTarget struct {
	spec       FlyteTarget
	client     *flyte.Client
	engine     *flyteengine.Engine
	version    flyte.Version
	values     map[string]any // the config's values, when deployed by benchctl
	inputs     map[string]any
	inputsHash string
}

// flyteHTTP is the transport of every Admin client.
func flyteHTTP() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = 10 * time.Second
	return &http.Client{Transport: t}
}

// prepareFlyte checks the flyte engine's input, then connects to every
// target's Admin: its version, its launch plans (registered first with
// --register). Bad input is an InputError; an Admin that cannot be
// reached or refuses is an error naming its endpoint.
func (b *Benchmark) prepareFlyte(ctx context.Context, compiled *portfolio.Compiled) ([]*flyteTarget, error) {
	f := b.Flyte
	reg, err := b.checkFlyte(ctx, compiled)
	if err != nil {
		return nil, err
	}
	var ts []*flyteTarget
	for _, spec := range f.Targets {
		ts = append(ts, &flyteTarget{spec: spec})
	}
	for _, t := range ts {
		if t.client, err = flyte.NewClient(ctx, f.options(t.spec.Endpoint)); err != nil {
			return nil, fmt.Errorf("flyte admin %s: %w", redact.String(t.spec.Endpoint), err)
		}
		if reg != nil {
			r := *reg
			r.Endpoint, r.Project, r.Domain = t.spec.Endpoint, t.client.Project(), t.client.Domain()
			fmt.Fprintf(b.Progress, "registering %s in %s through flytectl\n", f.Register, redact.String(t.spec.Endpoint))
			if err := r.Run(ctx, b.Progress); err != nil {
				return nil, err
			}
		}
		if t.engine, err = flyteengine.New(t.client, compiled, flyteengine.Options{Poll: f.Poll}); err != nil {
			return nil, inputErr(err)
		}
		if t.version, err = t.engine.Check(ctx, compiled); err != nil {
			if errors.Is(err, flyte.ErrNotFound) {
				return nil, inputErr(err) // a launch plan the portfolio names is not there
			}
			return nil, err
		}
		fmt.Fprintf(b.Progress, "flyte admin %s: %s (build %s)\n", redact.String(t.spec.Endpoint), t.version.Version, t.version.Build)
	}
	return ts, nil
}

// checkFlyte checks the flyte engine's settings without contacting
// Admin: the targets' names, URLs and credential files, and the
// registration (flytectl on PATH, the package). It returns the
// registration, without endpoint, project and domain, or nil.
func (b *Benchmark) checkFlyte(ctx context.Context, compiled *portfolio.Compiled) (*flyteengine.Registration, error) {
	f := b.Flyte
	if len(f.Targets) == 0 {
		return nil, inputErrorf("--engine flyte needs --flyte-endpoint: the Flyte Admin to run the portfolio on")
	}
	var reg *flyteengine.Registration
	if f.Register != "" {
		exe, err := flyteengine.LookFlytectl()
		if err != nil {
			return nil, inputErr(err)
		}
		version, err := registerVersion(compiled)
		if err != nil {
			return nil, inputErr(err)
		}
		reg = &flyteengine.Registration{Flytectl: exe, Dir: f.Register, Version: version, Auth: f.Auth}
	}
	seen := map[string]bool{}
	for _, spec := range f.Targets {
		if err := provision.ValidateName(spec.Name); err != nil {
			return nil, inputErrorf("flyte target name: %w", err)
		}
		if seen[spec.Name] {
			return nil, inputErrorf("flyte target %q is named twice; give each --flyte-endpoint its own --config name", spec.Name)
		}
		seen[spec.Name] = true
		if spec.Propeller != "" {
			if u, err := url.Parse(spec.Propeller); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
				return nil, inputErrorf("--propeller-metrics %q: want an http(s) URL such as http://127.0.0.1:10254/metrics", spec.Propeller)
			}
		}
		if err := flyte.ValidateOptions(ctx, f.options(spec.Endpoint)); err != nil {
			return nil, inputErr(err)
		}
		if reg != nil {
			// The package and flytectl's flags for this endpoint.
			r := *reg
			r.Endpoint = spec.Endpoint
			if _, err := r.Args(); err != nil {
				return nil, inputErr(err)
			}
		}
	}
	return reg, nil
}

// options are the Admin client's options for one endpoint.
func (f *Flyte) options(endpoint string) flyte.Options {
	return flyte.Options{Endpoint: endpoint, Project: f.Project, Domain: f.Domain, Auth: f.Auth,
		AllowInsecureHTTP: f.AllowInsecureHTTP, HTTPClient: flyteHTTP()}
}

// registerVersion is the version --register registers the package
// under: the one every entry names.
func registerVersion(c *portfolio.Compiled) (string, error) {
	v := ""
	for _, w := range c.Workflows {
		switch {
		case v == "":
			v = w.Flyte.Version
		case w.Flyte.Version != v:
			return "", fmt.Errorf("--register registers one version, but the portfolio's entries name %s and %s", v, w.Flyte.Version)
		}
	}
	return v, nil
}

// setInputs records what configures a Flyte target, for a resumed run to
// find unchanged: where it is, and the config's values.
func (t *flyteTarget) setInputs() error {
	t.inputs = map[string]any{"flyte": map[string]any{"endpoint": redact.String(t.spec.Endpoint), "project": t.client.Project(), "domain": t.client.Domain()}}
	if t.values != nil {
		t.inputs["values"] = t.values
	}
	var err error
	t.inputsHash, err = reports.HashValues(t.inputs)
	return err
}

// environment is what a Flyte target's reports record about it: the
// engine and its version (Admin's), the config (its values when benchctl
// deployed it), and the cluster when benchctl knows it.
func (t *flyteTarget) environment(cl *provision.Cluster, benchctl reports.BuildInfo) (reports.Environment, error) {
	cfg, err := reports.NewConfig(t.spec.Name, redact.Values(t.values))
	if err != nil {
		return reports.Environment{}, err
	}
	endpoint := redact.String(t.spec.Endpoint)
	env := reports.Environment{
		Engine:     &reports.Engine{Name: reports.EngineFlyte, Version: t.version.Version},
		Provider:   reports.Provider{Name: reports.EngineFlyte, Options: map[string]string{"admin": endpoint, "project": t.client.Project(), "domain": t.client.Domain()}},
		Benchctl:   benchctl,
		Controller: reports.Controller{Version: t.version.Version, Commit: t.version.Build, Source: "flyte admin " + endpoint},
		Config:     cfg,
		Host:       reports.CurrentHost(),
	}
	if cl != nil {
		fp := cl.Fingerprint
		env.Provider = reports.Provider{Name: fp.Provider, KubernetesVersion: fp.KubernetesVersion, Nodes: fp.Nodes, Options: redact.Strings(fp.Options)}
	}
	return env, nil
}

// runFlyte is Run for the flyte engine: no cluster is provisioned and
// nothing is deployed (unless Deployments names what 'benchctl deploy
// --chart' deployed), and the floor is not measured (benchctl does not
// create objects in a Flyte deployment's cluster).
func (b *Benchmark) runFlyte(ctx context.Context, compiled *portfolio.Compiled, dir *rundir.Dir) (*Result, error) {
	// One run at a time per deployment, as per cluster for the bundled
	// controller: another run's executions would share the propeller and
	// its metric deltas.
	unlock, err := b.Flyte.lockRuns("benchctl run into " + b.OutputDir)
	if err != nil {
		return nil, lockError(err)
	}
	defer unlock()
	ts, err := b.prepareFlyte(ctx, compiled)
	if err != nil {
		return nil, err
	}
	res := &Result{Dir: b.OutputDir}
	if b.Flyte.Deployments {
		if res.Cluster, _, err = b.Clusters.Ensure(ctx, b.Cluster); err != nil {
			return nil, err
		}
		for _, t := range ts {
			d, err := b.Deployer.Deployed(res.Cluster, t.spec.Name)
			if err != nil {
				return nil, inputErr(err)
			}
			if d.Chart == nil {
				return nil, inputErrorf("deployment %s on cluster %s is the bundled controller's, not a chart deployed with 'benchctl deploy --chart'", d.Name, res.Cluster.Name)
			}
			t.values = d.Values
		}
	}
	var names []string
	var ids []identity
	for _, t := range ts {
		if err := t.setInputs(); err != nil {
			return nil, err
		}
		names = append(names, t.spec.Name)
		ids = append(ids, identity{name: t.spec.Name, inputs: t.inputs, inputsHash: t.inputsHash})
	}
	plan := portfolio.Plan(compiled, names)
	if err := b.checkAdaptive(compiled); err != nil {
		return nil, err
	}
	old, err := b.previous(dir, compiled, plan, ids)
	if err != nil {
		return nil, err
	}
	var targets []rundir.Target
	var run []portfolio.Target
	for _, t := range ts {
		env, err := t.environment(res.Cluster, b.Benchctl)
		if err != nil {
			return nil, err
		}
		targets = append(targets, rundir.Target{Name: t.spec.Name, Namespace: t.client.Project() + "/" + t.client.Domain(), Environment: env,
			Inputs: t.inputs, InputsHash: t.inputsHash})
		run = append(run, portfolio.Target{Name: t.spec.Name, Engine: t.engine, Hooks: &collect.Flyte{Client: t.client, Propeller: t.spec.Propeller}})
	}
	m, err := b.manifest(dir, old, compiled, plan, targets)
	if err != nil {
		return res, err
	}
	fmt.Fprintf(b.Progress, "running portfolio %s, tier %s, on Flyte with %v; records in %s\n", compiled.Name, compiled.Tier, names, b.OutputDir)
	return res, b.executeAndReport(ctx, dir, m, compiled, names, res, func(ctx context.Context, m *rundir.Manifest) (*rundir.Run, error) {
		return portfolio.Execute(ctx, dir, m, compiled, run, portfolio.Options{Progress: b.Progress})
	})
}

// checkEngine refuses a portfolio the chosen engine cannot run.
func (b *Benchmark) checkEngine(c *portfolio.Compiled) error {
	switch e := c.Engine(); {
	case b.Flyte != nil && e != reports.EngineFlyte:
		return inputErrorf("--engine flyte runs flyte: entries (registered launch plans), but tier %s of portfolio %s has the bundled controller's shapes; pass --portfolio FILE with flyte: entries", c.Tier, c.Name)
	case b.Flyte == nil && e == reports.EngineFlyte:
		return inputErrorf("tier %s of portfolio %s has flyte: entries; run them with --engine flyte --flyte-endpoint URL", c.Tier, c.Name)
	}
	return nil
}
