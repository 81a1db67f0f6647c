package bench

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"

	"k8s.io/client-go/kubernetes"

	"github.com/benchctl/benchctl/aggregate/collect"
	"github.com/benchctl/benchctl/deploy"
	"github.com/benchctl/benchctl/portfolio"
	"github.com/benchctl/benchctl/portfolio/rundir"
	"github.com/benchctl/benchctl/provision"
	"github.com/benchctl/benchctl/provision/local"
)

// ClusterRequest names the cluster a run uses: a registered one by Name,
// one to create from Spec when Name is not registered, or an unregistered
// one by Kubeconfig and Context.
type ClusterRequest struct {
	// Name of a registered cluster, or of the one to create.
	Name string
	// Spec creates the cluster when Name is not registered (its Name is
	// Name).
	Spec provision.Spec
	// Kubeconfig and Context name a cluster benchctl has not registered.
	// It is treated as the user's (provider existing): never deleted, and
	// nothing changed outside benchctl's own namespaces.
	Kubeconfig, Context string
	// NoCreate refuses to create a missing cluster.
	NoCreate bool
	// Teardown deletes the cluster at the end if the run created it.
	Teardown bool
}

// LiveClusters is the provision stage on real providers.
type LiveClusters struct {
	Registry provision.Registry
	Records  *provision.Store
	Progress io.Writer
}

// Store is the cluster store.
func (l *LiveClusters) Store() *provision.Store { return l.Records }

// Ensure returns the requested cluster, creating it if need be.
func (l *LiveClusters) Ensure(ctx context.Context, r ClusterRequest) (*provision.Cluster, bool, error) {
	progress := l.Progress
	if progress == nil {
		progress = io.Discard
	}
	if r.Kubeconfig != "" {
		return l.adopt(ctx, r, progress)
	}
	c, err := l.Records.Load(r.Name)
	if err == nil {
		if c.Provider == "" {
			return nil, false, inputErrorf("cluster %s did not finish provisioning; remove it with 'benchctl teardown %s'", c.Name, c.Name)
		}
		// A local cluster outlives benchctl but not a reboot; fail here, on
		// one line, rather than at the first API call.
		if c.Provider == provision.ProviderLocal {
			if down := local.ControlPlaneDown(c); len(down) > 0 {
				return nil, false, inputErrorf("cluster %s: %s not running (stopped, or the machine restarted); remove it with 'benchctl teardown %s' and run again", c.Name, strings.Join(down, ", "), c.Name)
			}
		}
		fmt.Fprintf(progress, "reusing cluster %s (%s, %d nodes)\n", c.Name, c.Provider, c.Fingerprint.Nodes)
		return c, false, nil
	}
	if !errors.Is(err, provision.ErrNotFound) {
		return nil, false, inputErr(err)
	}
	if r.NoCreate {
		return nil, false, inputErrorf("%w; create it with 'benchctl provision --name %s', or name one with --kubeconfig and --context", err, r.Name)
	}
	spec := r.Spec
	spec.Name = r.Name
	fmt.Fprintf(progress, "provisioning cluster %s (%s, %d nodes)\n", spec.Name, spec.Provider, spec.Nodes)
	c, err = provision.Create(ctx, l.Records, l.Registry, spec)
	if err != nil {
		if provision.IsUsageError(err) || errors.Is(err, provision.ErrExists) {
			return nil, false, inputErr(err)
		}
		return nil, false, err
	}
	return c, true, nil
}

// adopt registers an unregistered cluster as the user's (provider
// existing) under a name derived from its kubeconfig and context, or
// reuses that record. Nothing in the cluster is changed by registering.
func (l *LiveClusters) adopt(ctx context.Context, r ClusterRequest, progress io.Writer) (*provision.Cluster, bool, error) {
	path, err := filepath.Abs(r.Kubeconfig)
	if err != nil {
		return nil, false, inputErrorf("--kubeconfig %s: %w", r.Kubeconfig, err)
	}
	name := KubeconfigClusterName(path, r.Context)
	if c, err := l.Records.Load(name); err == nil && c.Provider != "" {
		fmt.Fprintf(progress, "using cluster %s (context %q of %s, registered as %s)\n", c.Fingerprint.Provider, r.Context, path, name)
		return c, false, nil
	}
	if err := l.Records.Remove(name); err != nil { // a record whose registration did not finish
		return nil, false, err
	}
	c, err := provision.Create(ctx, l.Records, l.Registry, provision.Spec{Name: name, Provider: provision.ProviderExisting, Kubeconfig: path, Context: r.Context})
	if err != nil {
		if provision.IsUsageError(err) {
			return nil, false, inputErr(err)
		}
		return nil, false, err
	}
	fmt.Fprintf(progress, "using the cluster of context %q in %s (%d nodes), registered as %s; benchctl never deletes it\n", r.Context, path, c.Nodes, name)
	return c, false, nil
}

// KubeconfigClusterName is the name under which a cluster named only by
// kubeconfig and context is registered: stable for the same pair.
func KubeconfigClusterName(kubeconfig, kubeContext string) string {
	sum := sha256.Sum256([]byte(kubeconfig + "\x00" + kubeContext))
	return "kc-" + hex.EncodeToString(sum[:])[:10]
}

// Delete deletes a cluster benchctl created.
func (l *LiveClusters) Delete(ctx context.Context, c *provision.Cluster) error {
	_, err := provision.Delete(ctx, l.Records, l.Registry, c.Name)
	return err
}

// LiveDeployer is the deploy stage through the Helm SDK.
type LiveDeployer struct{}

// Prepare checks a deployment without a cluster.
func (LiveDeployer) Prepare(ctx context.Context, o deploy.Options) (*deploy.Prepared, error) {
	return deploy.Prepare(ctx, o)
}

// Apply installs a prepared deployment.
func (LiveDeployer) Apply(ctx context.Context, p *deploy.Prepared, c *provision.Cluster, store *provision.Store) (*deploy.Deployment, error) {
	return p.Apply(ctx, c, store)
}

// Deployed reads a deployment record.
func (LiveDeployer) Deployed(c *provision.Cluster, name string) (*deploy.Deployment, error) {
	return deploy.LoadDeployment(c, name)
}

// Undeploy stops and uninstalls a deployment.
func (LiveDeployer) Undeploy(ctx context.Context, c *provision.Cluster, store *provision.Store, name string) error {
	return deploy.Undeploy(ctx, c, store, name)
}

// LiveExecutor runs executions on the cluster, collecting every
// execution's spans, metrics and pods.
type LiveExecutor struct {
	KeepWorkflows bool
	// Profile captures the controller's CPU and allocation profiles of
	// each execution into its directory.
	Profile bool
}

// Execute connects to every deployment's controller and runs the plan.
func (l LiveExecutor) Execute(ctx context.Context, dir *rundir.Dir, m *rundir.Manifest, c *portfolio.Compiled, cl *provision.Cluster, ds []*deploy.Deployment, progress io.Writer) (*rundir.Run, error) {
	rc, err := cl.RESTConfig()
	if err != nil {
		return nil, err
	}
	rc.QPS, rc.Burst = 100, 200
	kube, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("client for cluster %s: %w", cl.Name, err)
	}
	client, err := portfolio.NewClient(rc)
	if err != nil {
		return nil, fmt.Errorf("client for cluster %s: %w", cl.Name, err)
	}
	var targets []portfolio.Target
	for _, d := range ds {
		endpoint, stop, err := deploy.Connect(ctx, cl, d)
		if err != nil {
			return nil, err
		}
		defer stop()
		col := &collect.Collector{Endpoint: endpoint, Kube: kube, Profile: l.Profile}
		if d.Admin != nil {
			admin, stop, err := deploy.ConnectAdmin(ctx, cl, d)
			if err != nil {
				return nil, err
			}
			defer stop()
			col.AdminEndpoint = admin
		}
		targets = append(targets, portfolio.Target{Name: d.Name, Namespace: d.Namespace, Client: client, Hooks: col,
			Liveness: newControllerLiveness(d, endpoint)})
	}
	return portfolio.Execute(ctx, dir, m, c, targets, portfolio.Options{Progress: progress, KeepWorkflows: l.KeepWorkflows})
}

// valueDiff names the keys whose values differ between two values trees,
// as "key: a -> b" (at most 5).
func valueDiff(a, b map[string]any) string {
	var out []string
	var walk func(path string, a, b any)
	walk = func(path string, a, b any) {
		am, aok := a.(map[string]any)
		bm, bok := b.(map[string]any)
		if aok && bok {
			keys := map[string]bool{}
			for k := range am {
				keys[k] = true
			}
			for k := range bm {
				keys[k] = true
			}
			var names []string
			for k := range keys {
				names = append(names, k)
			}
			sort.Strings(names)
			for _, k := range names {
				p := k
				if path != "" {
					p = path + "." + k
				}
				walk(p, am[k], bm[k])
			}
			return
		}
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		if string(ja) != string(jb) {
			out = append(out, fmt.Sprintf("%s: %s -> %s", path, ja, jb))
		}
	}
	walk("", a, b)
	if len(out) == 0 {
		return "differ"
	}
	if len(out) > 5 {
		out = append(out[:5], fmt.Sprintf("and %d more", len(out)-5))
	}
	return strings.Join(out, ", ")
}

func joinSemi(s []string) string { return strings.Join(s, "; ") }
