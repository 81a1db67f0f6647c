package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/benchctl/benchctl/deploy"
	"github.com/benchctl/benchctl/portfolio"
	"github.com/benchctl/benchctl/provision"
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
	if len(b.Targets) == 0 {
		return inputErrorf("no targets to run")
	}
	compiled, err := b.Portfolio.Compile()
	if err != nil {
		return err
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
	plan := portfolio.Plan(compiled, names)
	warm := 0
	for _, e := range plan {
		if e.Warmup {
			warm++
		}
	}
	fmt.Fprintf(&out, "\n## 4. portfolio %s, tier %s: %d executions (%d warm-up), one at a time, configs interleaved\n", compiled.Name, compiled.Tier, len(plan), warm)
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
