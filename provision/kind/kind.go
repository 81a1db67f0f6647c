// Package kind provides the "kind" provider: Kubernetes in Docker (or
// Podman) through the sigs.k8s.io/kind library.
//
// The cluster is one control-plane node plus Spec.Nodes workers. Its kind
// name is "benchctl-" + the benchctl name, so it never collides with a
// cluster the user made with kind directly. The kubeconfig lives only in
// the cluster's state directory (mode 0600); ~/.kube/config is never
// touched.
package kind

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/kind/pkg/apis/config/defaults"
	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/kind/pkg/cluster/nodes"
	"sigs.k8s.io/kind/pkg/cluster/nodeutils"
	kindversion "sigs.k8s.io/kind/pkg/cmd/kind/version"
	"sigs.k8s.io/yaml"

	"github.com/benchctl/benchctl/provision"
	"github.com/benchctl/benchctl/provision/existing"
	"github.com/benchctl/benchctl/provision/internal/provider"
)

// DefaultWaitForReady is how long Create waits for the control plane to
// become Ready after the nodes start.
const DefaultWaitForReady = 5 * time.Minute

// NamePrefix starts every kind cluster name benchctl creates.
const NamePrefix = "benchctl-"

// File names inside the cluster's state directory.
const (
	KubeconfigFile = "kubeconfig"
	ConfigFile     = "kind-config.yaml"
)

// Keys of provision.Cluster.Extra.
const (
	ExtraKindName  = "kindCluster"
	ExtraEngine    = "engine"
	ExtraNodeImage = "nodeImage"
)

// ClusterName is the kind cluster name for a benchctl cluster name.
func ClusterName(name string) string { return NamePrefix + name }

var fullVersionRE = regexp.MustCompile(`^v?(\d+\.\d+\.\d+)$`)

// NodeImage picks the node image: --node-image if given, else the
// kindest/node image of --kubernetes-version, else the image this kind
// release pins by digest.
func NodeImage(spec provision.Spec) (string, error) {
	var want string
	if spec.KubernetesVersion != "" {
		m := fullVersionRE.FindStringSubmatch(spec.KubernetesVersion)
		if m == nil {
			return "", fmt.Errorf("--kubernetes-version %q: kind node images are tagged with a full version such as v1.33.1; give one, or name an image with --node-image", spec.KubernetesVersion)
		}
		want = "v" + m[1]
	}
	if spec.NodeImage != "" {
		if want != "" && imageTag(spec.NodeImage) != want {
			return "", fmt.Errorf("--node-image %s and --kubernetes-version %s disagree: give only one of them", spec.NodeImage, spec.KubernetesVersion)
		}
		return spec.NodeImage, nil
	}
	if want != "" {
		return "kindest/node:" + want, nil
	}
	return defaults.Image, nil
}

// imageTag returns the tag of an image reference ("" if none).
func imageTag(ref string) string {
	ref, _, _ = strings.Cut(ref, "@")
	i := strings.LastIndex(ref, ":")
	if i < 0 || strings.Contains(ref[i:], "/") {
		return ""
	}
	return ref[i+1:]
}

// Config generates the kind cluster configuration for spec: one
// control-plane node and spec.Nodes workers, all on the same image, with
// the API server bound to loopback.
func Config(spec provision.Spec) (*v1alpha4.Cluster, error) {
	if spec.Nodes < 0 {
		return nil, fmt.Errorf("--nodes %d: the number of kind workers cannot be negative", spec.Nodes)
	}
	image, err := NodeImage(spec)
	if err != nil {
		return nil, err
	}
	cfg := &v1alpha4.Cluster{
		TypeMeta: v1alpha4.TypeMeta{Kind: "Cluster", APIVersion: "kind.x-k8s.io/v1alpha4"},
		Name:     ClusterName(spec.Name),
		Nodes:    []v1alpha4.Node{{Role: v1alpha4.ControlPlaneRole, Image: image}},
		// kind's default too; stated so the config file says it.
		Networking: v1alpha4.Networking{APIServerAddress: "127.0.0.1"},
	}
	for range spec.Nodes {
		cfg.Nodes = append(cfg.Nodes, v1alpha4.Node{Role: v1alpha4.WorkerRole, Image: image})
	}
	return cfg, nil
}

// ConfigYAML renders the config as the YAML file `kind create cluster
// --config` would read.
func ConfigYAML(cfg *v1alpha4.Cluster) ([]byte, error) {
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("encode kind config: %w", err)
	}
	return b, nil
}

// configFile is Config and its YAML; a bad spec is a usage error.
func configFile(spec provision.Spec) (*v1alpha4.Cluster, []byte, error) {
	cfg, err := Config(spec)
	if err != nil {
		return nil, nil, provider.Usage(err)
	}
	raw, err := ConfigYAML(cfg)
	if err != nil {
		return nil, nil, err
	}
	return cfg, raw, nil
}

// kindAPI is the part of *cluster.Provider benchctl uses.
type kindAPI interface {
	Create(name string, options ...cluster.CreateOption) error
	Delete(name, explicitKubeconfigPath string) error
	KubeConfig(name string, internal bool) (string, error)
	ListInternalNodes(name string) ([]nodes.Node, error)
}

// Provider is the kind provider.
type Provider struct {
	// Runner runs the engine preflight (ExecRunner if nil).
	Runner Runner
	// PreflightTimeout bounds each engine's `info` call.
	PreflightTimeout time.Duration
	// WaitForReady bounds the wait for a Ready control plane.
	WaitForReady time.Duration

	// seams for tests
	newKind func(engine string) kindAPI
	probe   func(ctx context.Context, kubeconfig, kubeContext string) (existing.ClusterInfo, error)
}

var _ provision.Provider = (*Provider)(nil)

// New returns the kind provider with default settings.
func New() *Provider { return &Provider{} }

func (p *Provider) runner() Runner {
	if p.Runner == nil {
		return ExecRunner{}
	}
	return p.Runner
}

// Preflight finds a running container engine.
func (p *Provider) Preflight(ctx context.Context) (Engine, error) {
	return Preflight(ctx, p.runner(), p.PreflightTimeout)
}

func (p *Provider) kind(engine string) kindAPI {
	if p.newKind != nil {
		return p.newKind(engine)
	}
	opt := cluster.ProviderWithDocker()
	if engine == "podman" {
		opt = cluster.ProviderWithPodman()
	}
	return cluster.NewProvider(opt, cluster.ProviderWithLogger(slogLogger{slog.Default()}))
}

func (p *Provider) probeCluster(ctx context.Context, kubeconfig string) (provider.Info, error) {
	if p.probe != nil {
		return p.probe(ctx, kubeconfig, "")
	}
	return existing.Probe(ctx, kubeconfig, "")
}

func (p *Provider) clusters() provider.Clusters {
	return provider.Clusters{Provider: provision.ProviderKind, Noun: "kind cluster", Options: fingerprintOptions, Probe: p.probeCluster}
}

func (p *Provider) wait() time.Duration {
	if p.WaitForReady <= 0 {
		return DefaultWaitForReady
	}
	return p.WaitForReady
}

// Create checks for a container engine first, then creates the kind
// cluster, waits for it to be Ready and writes its kubeconfig (0600) into
// the state directory c.Dir.
func (p *Provider) Create(ctx context.Context, spec provision.Spec, c *provision.Cluster) error {
	engine, err := p.Preflight(ctx)
	if err != nil {
		return err
	}
	slog.InfoContext(ctx, "container engine answered", "engine", engine.String())
	cfg, raw, err := configFile(spec)
	if err != nil {
		return err
	}
	// Keep the exact config next to the record, for reproducing by hand.
	if err := provider.WriteFile0600(filepath.Join(c.Dir, ConfigFile), raw); err != nil {
		return err
	}
	kubeconfig := filepath.Join(c.Dir, KubeconfigFile)
	name := cfg.Name
	c.Extra = map[string]string{ExtraKindName: name, ExtraEngine: engine.String(), ExtraNodeImage: cfg.Nodes[0].Image}
	if err := ctx.Err(); err != nil {
		return err
	}
	kp := p.kind(engine.Name)
	slog.InfoContext(ctx, "creating kind cluster", "kind", name, "workers", spec.Nodes, "image", cfg.Nodes[0].Image)
	// kind's Create takes no context; its own wait bounds it, and on
	// failure it removes the nodes it started.
	err = kp.Create(name,
		cluster.CreateWithV1Alpha4Config(cfg),
		cluster.CreateWithWaitForReady(p.wait()),
		// An explicit path keeps kind away from ~/.kube/config.
		cluster.CreateWithKubeconfigPath(kubeconfig),
		cluster.CreateWithDisplayUsage(false),
		cluster.CreateWithDisplaySalutation(false),
	)
	if err != nil {
		return fmt.Errorf("kind create cluster %s (%s): %w", name, engine, err)
	}
	// From here the cluster exists and is ours: undo it on any failure.
	if err := p.finishCreate(ctx, kp, name, kubeconfig, c); err != nil {
		if derr := kp.Delete(name, kubeconfig); derr != nil {
			err = errors.Join(err, fmt.Errorf("removing the half-made kind cluster %s also failed: %w; remove it with: kind delete cluster --name %s", name, derr, name))
		}
		return err
	}
	return nil
}

func (p *Provider) finishCreate(ctx context.Context, kp kindAPI, name, kubeconfig string, c *provision.Cluster) error {
	// Rewrite the file with only this cluster in it, at 0600, whatever
	// kind's export left there.
	kc, err := kp.KubeConfig(name, false)
	if err != nil {
		return fmt.Errorf("read kubeconfig of kind cluster %s: %w", name, err)
	}
	if err := provider.WriteFile0600(kubeconfig, []byte(kc)); err != nil {
		return err
	}
	return p.clusters().Adopt(ctx, c, name, kubeconfig)
}

func fingerprintOptions(c *provision.Cluster) map[string]string {
	return map[string]string{
		"nodeImage":   c.Extra[ExtraNodeImage],
		"engine":      c.Extra[ExtraEngine],
		"kindVersion": kindversion.Version(),
		"workers":     strconv.Itoa(c.Nodes),
	}
}

// DryRun prints the kind config Create would use. It runs nothing.
func (p *Provider) DryRun(_ context.Context, spec provision.Spec, dir string, w io.Writer) error {
	cfg, raw, err := configFile(spec)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "# kind dry run: nothing is run.\n# 1. check that Docker or Podman answers: docker info --format '{{.ServerVersion}}' (else podman info)\n# 2. write %s (mode 0600):\n%s# 3. create kind cluster %s with that config through the kind %s library, wait up to %s for Ready,\n#    and write its kubeconfig to %s (mode 0600)\n",
		filepath.Join(dir, ConfigFile), raw, cfg.Name, kindversion.Version(), p.wait(), filepath.Join(dir, KubeconfigFile))
	return err
}

func kindName(c *provision.Cluster) string {
	if n := c.Extra[ExtraKindName]; n != "" {
		return n
	}
	return ClusterName(c.Name)
}

// Delete removes the kind cluster benchctl created. Deleting a cluster
// whose nodes are already gone succeeds.
func (p *Provider) Delete(ctx context.Context, c *provision.Cluster) error {
	if err := p.clusters().CheckOwned(c, kindName(c)); err != nil {
		return err
	}
	engine, err := p.Preflight(ctx)
	if err != nil {
		return fmt.Errorf("cannot delete kind cluster %s: %w", kindName(c), err)
	}
	kubeconfig := c.Kubeconfig
	if kubeconfig == "" {
		if c.Dir == "" {
			// kind would otherwise edit $KUBECONFIG or ~/.kube/config.
			return fmt.Errorf("kind cluster %s: record has neither a kubeconfig nor a state directory", kindName(c))
		}
		kubeconfig = filepath.Join(c.Dir, KubeconfigFile)
	}
	if err := p.kind(engine.Name).Delete(kindName(c), kubeconfig); err != nil {
		return fmt.Errorf("kind delete cluster %s: %w", kindName(c), err)
	}
	return nil
}

// Kubeconfig returns the path of the kubeconfig in the state directory.
func (p *Provider) Kubeconfig(_ context.Context, c *provision.Cluster) (string, error) {
	return p.clusters().Kubeconfig(c)
}

// Fingerprint reads the server version and nodes from the live cluster.
func (p *Provider) Fingerprint(ctx context.Context, c *provision.Cluster) (provision.Fingerprint, error) {
	return p.clusters().Fingerprint(ctx, c)
}

// LoadImages loads an image archive into every node of c.
func (p *Provider) LoadImages(ctx context.Context, c *provision.Cluster, archive string) error {
	if _, err := os.Stat(archive); err != nil {
		return fmt.Errorf("image archive: %w", err)
	}
	engine, err := p.Preflight(ctx)
	if err != nil {
		return fmt.Errorf("load images into kind cluster %s: %w", kindName(c), err)
	}
	name := kindName(c)
	ns, err := p.kind(engine.Name).ListInternalNodes(name)
	if err != nil {
		return fmt.Errorf("list nodes of kind cluster %s: %w", name, err)
	}
	if len(ns) == 0 {
		return fmt.Errorf("kind cluster %s has no nodes; is it running? (benchctl clusters)", name)
	}
	for _, n := range ns {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := loadInto(n, archive); err != nil {
			return fmt.Errorf("load %s into kind node %s: %w", archive, n, err)
		}
		slog.InfoContext(ctx, "loaded image archive", "node", n.String(), "archive", archive)
	}
	return nil
}

// loadInto streams a fresh read of the archive into one node.
func loadInto(n nodes.Node, archive string) error {
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	return nodeutils.LoadImageArchive(n, f)
}
