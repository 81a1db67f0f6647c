package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/benchctl/benchctl/deploy"
	"github.com/benchctl/benchctl/portfolio"
	"github.com/benchctl/benchctl/portfolio/flyte"
	"github.com/benchctl/benchctl/provision"
	"github.com/benchctl/benchctl/reports/redact"
)

// clusterPlanner prints how a cluster request would be met, without
// meeting it: the provision stage's part of a dry run.
type clusterPlanner interface {
	// PlanCluster prints the steps and returns the provider the run would
	// deploy to and whether it would create the cluster.
	PlanCluster(ctx context.Context, r ClusterRequest, w io.Writer) (provider string, create bool, err error)
}

// DryRun prints every step Run would take, in order, and takes none: the
// cluster it would create (the provider's exact commands) or reuse, the
// images each deployment needs, the Helm release and values of each, the
// executions, and what is removed at the end. Nothing is created, built
// into a cluster, pushed or written; bad input fails as Run would (an
// InputError), so a dry run is also a check of the flags.
func (b *Benchmark) DryRun(ctx context.Context, w io.Writer) error {
	if len(b.Targets) == 0 && b.Flyte == nil {
		return inputErrorf("no targets to run")
	}
	compiled, err := b.Portfolio.Compile()
	if err != nil {
		return err
	}
	if err := b.checkEngine(compiled); err != nil {
		return err
	}
	if err := b.checkAdaptive(compiled); err != nil {
		return err
	}
	if b.Flyte != nil {
		return b.dryRunFlyte(ctx, compiled, w)
	}
	cp, ok := b.Clusters.(clusterPlanner)
	if !ok {
		return errors.New("dry run: this provision stage cannot print a plan")
	}
	var out strings.Builder
	out.WriteString("## 1. cluster\n")
	provider, create, err := cp.PlanCluster(ctx, b.Cluster, &out)
	if err != nil {
		return err
	}
	ts, err := b.prepare(ctx)
	if err != nil {
		return err
	}
	out.WriteString("\n## 2. images\n")
	pushed := map[string]bool{}
	type planned struct {
		t      *target
		images deploy.PlannedImages
		values map[string]any
	}
	var ps []planned
	for _, t := range ts {
		im, vals, err := t.prepared.Plan(provider)
		if err != nil {
			var ce *deploy.ConfigError
			if errors.As(err, &ce) {
				return inputErr(err)
			}
			return err
		}
		ps = append(ps, planned{t, im, vals})
		b := t.prepared.Build
		switch im.Build {
		case "host":
			fmt.Fprintf(&out, "# %s: none; the controller (%s) runs on this host as a process\n", t.name(), b.Source)
		case "kind-load":
			fmt.Fprintf(&out, "# %s: build %s/{benchflow,benchtask,benchadmin}:%s from %s for this host's platform and load them into every kind node\n", t.name(), im.Repo, im.Tag, b.Source)
		case "named":
			fmt.Fprintf(&out, "# %s: the images the values name (see step 3)\n", t.name())
		default:
			fmt.Fprintf(&out, "# %s: the cluster pulls %s/benchflow:%s, %s/benchtask:%s and %s/benchadmin:%s\n", t.name(), im.Repo, im.Tag, im.Repo, im.Tag, im.Repo, im.Tag)
			if key := im.Repo + ":" + im.Tag; !pushed[key] {
				pushed[key] = true
				fmt.Fprintf(&out, "benchctl images push --image-repo %s%s\n", im.Repo, sourceFlag(t.spec.Source.Spec))
			}
		}
	}
	out.WriteString("\n## 3. deploy\n")
	for _, p := range ps {
		o := p.t.prepared.Options
		fmt.Fprintf(&out, "# %s: config %s, controller %s (commit %s), inputs %s\n", o.Name, p.t.prepared.Named.Name, p.t.prepared.Build.Version, p.t.prepared.Build.Commit, p.t.prepared.InputsHash)
		wait := fmt.Sprintf(" --wait --timeout %s", o.Timeout)
		if p.images.Build == "host" {
			wait = "" // the controller starts on this host after the release
		}
		fmt.Fprintf(&out, "helm upgrade --install %s <chart of %s> --namespace %s --create-namespace%s --values -   # values:\n", o.Release, p.t.prepared.Build.Source, o.Namespace, wait)
		y, err := yaml.Marshal(p.values)
		if err != nil {
			return fmt.Errorf("dry run: values of %s: %w", o.Name, err)
		}
		for _, l := range strings.Split(strings.TrimRight(string(y), "\n"), "\n") {
			fmt.Fprintf(&out, "    %s\n", l)
		}
	}
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.name()
	}
	planHeader(&out, compiled, names)
	for _, wf := range compiled.Workflows {
		fmt.Fprintf(&out, "# %s: %d repetitions + %d warm-up per config, timeout %s\n", wf.Name, wf.Repetitions, wf.Warmup, wf.Timeout)
	}
	if b.Adaptive != nil {
		fmt.Fprintf(&out, "# then two more at a time per workflow until ±%s, at most %d repetitions\n", percent(b.Adaptive.TargetPrecision), b.Adaptive.MaxRepetitions)
	}
	fmt.Fprintf(&out, "# calibration: %s\n", b.Calibration)
	out.WriteString("\n## 5. after the run\n")
	switch {
	case create && b.Cluster.Teardown:
		fmt.Fprintf(&out, "benchctl teardown %s   # --teardown: the provider's delete, printed in step 1\n", b.Cluster.Name)
	case b.KeepDeployments:
		out.WriteString("# --keep-deployments: the controllers keep running\n")
	default:
		for _, p := range ps {
			o := p.t.prepared.Options
			fmt.Fprintf(&out, "helm uninstall %s --namespace %s   # undeploy %s\n", o.Release, o.Namespace, o.Name)
		}
	}
	if create && !b.Cluster.Teardown {
		fmt.Fprintf(&out, "# the cluster is left running; remove it with: benchctl teardown %s\n", b.Cluster.Name)
	}
	_, err = io.WriteString(w, out.String())
	return err
}

func sourceFlag(spec string) string {
	if spec == "" {
		return ""
	}
	return " --controller-source " + spec
}

// PlanCluster prints how r would be met: a registered cluster reused, an
// unregistered kubeconfig adopted (never changed outside benchctl's
// namespaces), or a new cluster and the provider's exact commands.
func (l *LiveClusters) PlanCluster(ctx context.Context, r ClusterRequest, w io.Writer) (string, bool, error) {
	if r.Kubeconfig != "" {
		fmt.Fprintf(w, "# use context %q of %s as provider existing: never deleted, nothing changed outside benchctl's namespaces\n", r.Context, r.Kubeconfig)
		return provision.ProviderExisting, false, nil
	}
	c, err := l.Records.Load(r.Name)
	if err == nil {
		fmt.Fprintf(w, "# reuse cluster %s (%s, %d nodes)\n", c.Name, c.Provider, c.Fingerprint.Nodes)
		return c.Provider, false, nil
	}
	if !errors.Is(err, provision.ErrNotFound) {
		return "", false, inputErr(err)
	}
	if r.NoCreate {
		return "", false, inputErrorf("%w; create it with 'benchctl provision --name %s'", err, r.Name)
	}
	spec := r.Spec
	spec.Name = r.Name
	if err := provision.DryRun(ctx, l.Records, l.Registry, spec, w); err != nil {
		if errors.Is(err, provision.ErrDryRunUnsupported) {
			fmt.Fprintf(w, "# create cluster %s: benchctl provision --provider %s --name %s --nodes %d\n", spec.Name, spec.Provider, spec.Name, spec.Nodes)
			return spec.Provider, true, nil
		}
		return "", false, inputErr(err)
	}
	return spec.Provider, true, nil
}

// planHeader heads a plan's step 4: how many executions the portfolio's
// plan over the named targets makes, and how many of them warm up.
func planHeader(out io.Writer, compiled *portfolio.Compiled, names []string) {
	plan := portfolio.Plan(compiled, names)
	warm := 0
	for _, e := range plan {
		if e.Warmup {
			warm++
		}
	}
	fmt.Fprintf(out, "\n## 4. portfolio %s, tier %s: %d executions (%d warm-up), one at a time, configs interleaved\n", compiled.Name, compiled.Tier, len(plan), warm)
}

// dryRunFlyte is DryRun for the flyte engine. It checks what Run checks
// before contacting Admin (flags, credential files, flytectl and the
// package for --register) and prints the registration, the executions
// and what stays behind; it contacts no Admin, so whether each launch
// plan is registered is left to the run, which asks before its first
// execution.
func (b *Benchmark) dryRunFlyte(ctx context.Context, compiled *portfolio.Compiled, w io.Writer) error {
	reg, err := b.checkFlyte(ctx, compiled)
	if err != nil {
		return err
	}
	f := b.Flyte
	project, domain := f.Project, f.Domain
	if project == "" {
		project = flyte.DefaultProject
	}
	if domain == "" {
		domain = flyte.DefaultDomain
	}
	var out strings.Builder
	out.WriteString("## 1. cluster\n# none: --engine flyte runs on the Flyte deployments below, as they are\n")
	for _, t := range f.Targets {
		metrics := "none"
		if t.Propeller != "" {
			metrics = redact.String(t.Propeller)
		}
		fmt.Fprintf(&out, "# %s: Flyte Admin %s, project %s, domain %s, auth %s, flytepropeller metrics %s\n",
			t.Name, redact.String(t.Endpoint), project, domain, describeAuth(f.Auth), metrics)
	}
	out.WriteString("\n## 2. register\n")
	if reg == nil {
		out.WriteString("# nothing: no --register; the launch plans must be registered already\n")
	} else {
		for _, t := range f.Targets {
			r := *reg
			r.Endpoint, r.Project, r.Domain = t.Endpoint, project, domain
			args, err := r.Args()
			if err != nil {
				return inputErr(err)
			}
			fmt.Fprintf(&out, "%s %s   # into %s\n", r.Flytectl, strings.Join(args, " "), t.Name)
		}
	}
	out.WriteString("\n## 3. deploy\n")
	if f.Deployments {
		for _, t := range f.Targets {
			fmt.Fprintf(&out, "# %s: nothing is deployed; the reports record the values 'benchctl deploy --chart' recorded for deployment %s on cluster %s\n", t.Name, t.Name, b.Cluster.Name)
		}
	} else {
		out.WriteString("# nothing: benchctl deploys nothing into a Flyte deployment (see 'benchctl deploy --chart')\n")
	}
	names := make([]string, len(f.Targets))
	for i, t := range f.Targets {
		names[i] = t.Name
	}
	planHeader(&out, compiled, names)
	out.WriteString("# first, Admin's version and every launch plan are looked up on each endpoint\n")
	for _, wf := range compiled.Workflows {
		id := wf.Flyte.LaunchPlanID(project, domain)
		inputs := "none"
		if len(wf.Flyte.Inputs) > 0 {
			j, err := json.Marshal(wf.Flyte.Inputs) // map keys sorted
			if err != nil {
				return fmt.Errorf("dry run: inputs of %s: %w", wf.Name, err)
			}
			inputs = string(j)
		}
		fmt.Fprintf(&out, "# %s: launch plan %s version %s in %s/%s, inputs %s: %d repetitions + %d warm-up per config, timeout %s\n",
			wf.Name, id.Name, id.Version, id.Project, id.Domain, inputs, wf.Repetitions, wf.Warmup, wf.Timeout)
	}
	if b.Adaptive != nil {
		fmt.Fprintf(&out, "# then two more at a time per workflow until ±%s, at most %d repetitions\n", percent(b.Adaptive.TargetPrecision), b.Adaptive.MaxRepetitions)
	}
	out.WriteString("# calibration: none (benchctl creates no objects in a Flyte deployment's cluster)\n")
	out.WriteString("\n## 5. after the run\n# nothing is removed: the executions stay in Flyte Admin; one still running at its timeout or at an interrupt is aborted\n")
	_, err = io.WriteString(w, out.String())
	return err
}

// describeAuth names the auth mode and where its credential comes from
// (a path or a variable's name, never the credential).
func describeAuth(a flyte.AuthConfig) string {
	switch a.Mode {
	case flyte.AuthTokenFile:
		return "token-file " + a.TokenFile
	case flyte.AuthClientCredentials:
		from := "file " + a.ClientSecretFile
		if a.ClientSecretFile == "" {
			from = "$" + a.ClientSecretEnv
		}
		token := "discovered"
		if a.TokenURL != "" {
			token = a.TokenURL
		}
		return fmt.Sprintf("client-credentials (client %s, secret from %s, token endpoint %s)", a.ClientID, from, token)
	}
	return string(flyte.AuthNone)
}
