// Package existing provides the "existing" provider: a cluster the user
// already has and names explicitly with a kubeconfig file and a context.
//
// benchctl only reads from such a cluster here (server version, nodes). It
// never deletes it: the record says CreatedBy = provision.CreatedByUser, the
// lifecycle only forgets it, and Delete refuses outright as a second guard.
//
// The package also exports Probe, which the kind, eks and gke providers use
// to fingerprint the clusters they create.
package existing

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/benchctl/benchctl/provision"
	"github.com/benchctl/benchctl/provision/internal/provider"
)

// DefaultProbeTimeout bounds one Probe: a cluster that does not answer
// within it is reported as unreachable rather than hanging the command.
const DefaultProbeTimeout = 20 * time.Second

// instanceTypeLabel is the well-known node label carrying the machine type
// on cloud clusters (kind and KWOK nodes do not set it).
const instanceTypeLabel = "node.kubernetes.io/instance-type"

// ClusterInfo is what Probe learns about a cluster.
type ClusterInfo struct {
	// Server is the API server URL the kubeconfig context points at.
	Server string
	// Version is the server's gitVersion, e.g. v1.33.5-eks-1a2b3c.
	Version string
	// NodesKnown is false when the credentials may not list nodes (a
	// namespace-scoped user); Nodes and ReadyNodes are then zero.
	NodesKnown bool
	Nodes      int
	ReadyNodes int
	// InstanceTypes are the distinct node.kubernetes.io/instance-type
	// labels, sorted; empty when nodes do not carry the label.
	InstanceTypes []string
	// SimulatedNodes counts the nodes KWOK simulates (annotation
	// kwok.x-k8s.io/node: fake): no kubelet runs their pods.
	SimulatedNodes int
}

// kwokNodeAnnotation marks a node that KWOK simulates.
const kwokNodeAnnotation = "kwok.x-k8s.io/node"

// Probe connects to the cluster named by kubeconfig and kubeContext and
// reads its server version and nodes. It only reads.
func Probe(ctx context.Context, kubeconfig, kubeContext string) (ClusterInfo, error) {
	cfg, err := provision.RESTConfig(kubeconfig, kubeContext)
	if err != nil {
		return ClusterInfo{}, err
	}
	return ProbeREST(ctx, cfg)
}

// ProbeREST is Probe for an already built client config. Without a
// deadline on ctx it applies DefaultProbeTimeout.
func ProbeREST(ctx context.Context, cfg *rest.Config) (ClusterInfo, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultProbeTimeout)
		defer cancel()
	}
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = "benchctl"
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return ClusterInfo{}, fmt.Errorf("client for %s: %w", cfg.Host, err)
	}
	info := ClusterInfo{Server: cfg.Host}
	v, err := cs.Discovery().ServerVersionWithContext(ctx)
	if err != nil {
		return info, fmt.Errorf("cannot reach the Kubernetes API server at %s: %w", cfg.Host, err)
	}
	info.Version = v.GitVersion

	types := map[string]bool{}
	opts := metav1.ListOptions{Limit: 500}
	for {
		list, err := cs.CoreV1().Nodes().List(ctx, opts)
		if apierrors.IsForbidden(err) {
			// A namespace-scoped user is a legitimate way to use an
			// existing cluster; the node count is then unknown, not zero.
			slog.WarnContext(ctx, "cannot list nodes; the node count will be recorded as unknown", "server", cfg.Host, "err", err)
			return ClusterInfo{Server: info.Server, Version: info.Version}, nil
		}
		if err != nil {
			return info, fmt.Errorf("list nodes at %s: %w", cfg.Host, err)
		}
		for i := range list.Items {
			n := &list.Items[i]
			info.Nodes++
			if nodeReady(n) {
				info.ReadyNodes++
			}
			if t := n.Labels[instanceTypeLabel]; t != "" {
				types[t] = true
			}
			if n.Annotations[kwokNodeAnnotation] == "fake" {
				info.SimulatedNodes++
			}
		}
		if list.Continue == "" {
			break
		}
		opts.Continue = list.Continue
	}
	info.NodesKnown = true
	for t := range types {
		info.InstanceTypes = append(info.InstanceTypes, t)
	}
	sort.Strings(info.InstanceTypes)
	return info, nil
}

func nodeReady(n *corev1.Node) bool {
	return slices.ContainsFunc(n.Status.Conditions, func(c corev1.NodeCondition) bool {
		return c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue
	})
}

// Fingerprint turns probe results into a report fingerprint. extra options
// (node type, region, ...) are copied in; observed values are added under
// keys that say where they came from.
func (ci ClusterInfo) Fingerprint(providerName string, extra map[string]string) provision.Fingerprint {
	fp := provision.Fingerprint{
		Provider:          providerName,
		KubernetesVersion: ci.Version,
		Nodes:             ci.Nodes,
		Options:           map[string]string{},
	}
	for k, v := range extra {
		if v != "" {
			fp.Options[k] = v
		}
	}
	if ci.NodesKnown {
		fp.Options["readyNodes"] = fmt.Sprint(ci.ReadyNodes)
	} else {
		fp.Options["nodes"] = "unknown (listing nodes is forbidden)"
	}
	if len(ci.InstanceTypes) > 0 {
		fp.Options["observedInstanceTypes"] = strings.Join(ci.InstanceTypes, ",")
	}
	if ci.SimulatedNodes > 0 {
		fp.Options["simulatedNodes"] = fmt.Sprint(ci.SimulatedNodes)
	}
	if len(fp.Options) == 0 {
		fp.Options = nil
	}
	return fp
}

// Provider is the "existing" provider.
type Provider struct {
	// ProbeTimeout bounds the reachability check (DefaultProbeTimeout if 0).
	ProbeTimeout time.Duration
}

var _ provision.Provider = (*Provider)(nil)

// New returns the existing-cluster provider.
func New() *Provider { return &Provider{} }

// ErrNeverDeleted is returned by Delete: benchctl never deletes a cluster
// the user brought.
var ErrNeverDeleted = errors.New("benchctl never deletes a cluster it did not create")

// validate checks that the user named both the file and the context:
// benchctl must never guess which cluster to benchmark on.
func validate(spec provision.Spec) (string, error) {
	var missing []string
	if spec.Kubeconfig == "" {
		missing = append(missing, "--kubeconfig")
	}
	if spec.Context == "" {
		missing = append(missing, "--context")
	}
	if len(missing) > 0 {
		return "", fmt.Errorf("--provider existing needs both --kubeconfig and --context, so benchctl only ever uses a cluster you name explicitly; missing: %s", strings.Join(missing, " and "))
	}
	path, err := filepath.Abs(spec.Kubeconfig)
	if err != nil {
		return "", fmt.Errorf("--kubeconfig %s: %w", spec.Kubeconfig, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("--kubeconfig: %w", err)
	}
	if st.IsDir() {
		return "", fmt.Errorf("--kubeconfig %s is a directory, not a kubeconfig file", path)
	}
	return path, nil
}

func (p *Provider) probe(ctx context.Context, kubeconfig, kubeContext string) (ClusterInfo, error) {
	timeout := p.ProbeTimeout
	if timeout <= 0 {
		timeout = DefaultProbeTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return Probe(ctx, kubeconfig, kubeContext)
}

// Create checks that the named cluster answers and records it as the
// user's. Nothing in the cluster is changed.
func (p *Provider) Create(ctx context.Context, spec provision.Spec, c *provision.Cluster) error {
	path, err := validate(spec)
	if err != nil {
		return provider.Usage(err)
	}
	info, err := p.probe(ctx, path, spec.Context)
	if err != nil {
		return fmt.Errorf("existing cluster (kubeconfig %s, context %q): %w", path, spec.Context, err)
	}
	c.CreatedBy = provision.CreatedByUser
	c.Kubeconfig = path
	c.Context = spec.Context
	// The user's --nodes means nothing here; record what is there.
	c.Nodes = info.Nodes
	c.Fingerprint = info.Fingerprint(provision.ProviderExisting, nil)
	// A cluster of KWOK nodes only (another benchctl local cluster, say)
	// has no kubelet to run the controller's pod.
	c.SimulatedNodes = info.NodesKnown && info.Nodes > 0 && info.SimulatedNodes == info.Nodes
	slog.InfoContext(ctx, "using existing cluster", "cluster", c.Name, "server", info.Server, "version", info.Version, "nodes", info.Nodes)
	return nil
}

// DryRun says what Create would check, without contacting the cluster.
func (p *Provider) DryRun(_ context.Context, spec provision.Spec, _ string, w io.Writer) error {
	path, err := validate(spec)
	if err != nil {
		return provider.Usage(err)
	}
	_, err = fmt.Fprintf(w, "# existing: would read the server version and the node list through context %q of %s; nothing in the cluster is changed and benchctl never deletes it\n", spec.Context, path)
	return err
}

// Delete always refuses: the cluster belongs to the user.
func (p *Provider) Delete(_ context.Context, c *provision.Cluster) error {
	return fmt.Errorf("cluster %q (context %q in %s) was brought by the user with --provider existing: %w; 'benchctl teardown' only forgets benchctl's record of it", c.Name, c.Context, c.Kubeconfig, ErrNeverDeleted)
}

// Kubeconfig returns the user's own kubeconfig path. Callers must also use
// c.Context: the file's current-context may point at another cluster.
func (p *Provider) Kubeconfig(_ context.Context, c *provision.Cluster) (string, error) {
	return provider.RecordedKubeconfig(c, "cluster", "")
}

// Fingerprint reads the server version and node count now.
func (p *Provider) Fingerprint(ctx context.Context, c *provision.Cluster) (provision.Fingerprint, error) {
	info, err := p.probe(ctx, c.Kubeconfig, c.Context)
	if err != nil {
		return provision.Fingerprint{}, fmt.Errorf("fingerprint cluster %q: %w", c.Name, err)
	}
	return info.Fingerprint(provision.ProviderExisting, nil), nil
}
