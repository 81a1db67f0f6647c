// Package eks provides the "eks" provider: an Amazon EKS cluster created
// and deleted by the eksctl CLI from a ClusterConfig benchctl generates.
//
// The kubeconfig is written only into the cluster's state directory
// (eksctl --kubeconfig and KUBECONFIG both point there), so the user's
// ~/.kube/config is never touched. With Spec.DryRun nothing runs: the
// config and the exact commands are printed instead.
package eks

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/benchctl/benchctl/provision"
	"github.com/benchctl/benchctl/provision/existing"
	"github.com/benchctl/benchctl/provision/internal/provider"
)

// DefaultNodeType is the instance type when --node-type is not given
// (eksctl's own default, written out so the config and the fingerprint
// say it).
const DefaultNodeType = "m5.large"

// DefaultDeleteTimeout bounds the automatic removal of a cluster that was
// created but cannot be reached.
const DefaultDeleteTimeout = provider.DefaultDeleteTimeout

// File names inside the cluster's state directory.
const (
	ConfigFile     = "eksctl.yaml"
	KubeconfigFile = "kubeconfig"
)

// Keys of provision.Cluster.Extra, needed to delete the cluster.
const (
	ExtraClusterName = "eksCluster"
	ExtraRegion      = provider.ExtraRegion
	ExtraZone        = provider.ExtraZone
	ExtraNodeType    = provider.ExtraNodeType
	ExtraVersion     = provider.ExtraVersion
)

// NodeGroupName is the name of the one managed node group.
const NodeGroupName = "benchctl-workers"

// ClusterConfig is the subset of eksctl's ClusterConfig
// (apiVersion eksctl.io/v1alpha5) benchctl writes.
type ClusterConfig struct {
	APIVersion        string             `json:"apiVersion"`
	Kind              string             `json:"kind"`
	Metadata          Metadata           `json:"metadata"`
	ManagedNodeGroups []ManagedNodeGroup `json:"managedNodeGroups"`
}

// Metadata is ClusterConfig.metadata.
type Metadata struct {
	Name    string            `json:"name"`
	Region  string            `json:"region"`
	Version string            `json:"version,omitempty"`
	Tags    map[string]string `json:"tags,omitempty"`
}

// ManagedNodeGroup is one entry of ClusterConfig.managedNodeGroups.
type ManagedNodeGroup struct {
	Name              string            `json:"name"`
	InstanceType      string            `json:"instanceType"`
	DesiredCapacity   int               `json:"desiredCapacity"`
	MinSize           int               `json:"minSize"`
	MaxSize           int               `json:"maxSize"`
	AvailabilityZones []string          `json:"availabilityZones,omitempty"`
	Labels            map[string]string `json:"labels,omitempty"`
	Tags              map[string]string `json:"tags,omitempty"`
}

var (
	minorVersionRE = regexp.MustCompile(`^v?(\d+\.\d+)$`)
	regionRE       = regexp.MustCompile(`^[a-z]{2,4}(-[a-z]+)+-\d+$`)
)

// tags mark every AWS resource eksctl creates as benchctl's.
func tags(name string) map[string]string {
	return map[string]string{"created-by": "benchctl", "benchctl.dev/cluster": name}
}

// Config generates the eksctl ClusterConfig for spec, validating the
// flags it needs.
func Config(spec provision.Spec) (*ClusterConfig, error) {
	if spec.Region == "" {
		return nil, errors.New("--provider eks needs --region (the AWS region, e.g. us-west-2)")
	}
	if !regionRE.MatchString(spec.Region) {
		return nil, fmt.Errorf("--region %q does not look like an AWS region (e.g. us-west-2)", spec.Region)
	}
	if spec.Zone != "" && !strings.HasPrefix(spec.Zone, spec.Region) {
		return nil, fmt.Errorf("--zone %q is not in --region %s (AWS zones are named like %sa)", spec.Zone, spec.Region, spec.Region)
	}
	if spec.Nodes < 1 {
		return nil, fmt.Errorf("--nodes %d: an EKS cluster needs at least 1 worker node", spec.Nodes)
	}
	var version string
	if spec.KubernetesVersion != "" {
		m := minorVersionRE.FindStringSubmatch(spec.KubernetesVersion)
		if m == nil {
			return nil, fmt.Errorf("--kubernetes-version %q: EKS runs minor versions such as 1.33 (AWS picks the patch); give one of those", spec.KubernetesVersion)
		}
		version = m[1]
	}
	nodeType := spec.NodeType
	if nodeType == "" {
		nodeType = DefaultNodeType
	}
	ng := ManagedNodeGroup{
		Name:            NodeGroupName,
		InstanceType:    nodeType,
		DesiredCapacity: spec.Nodes,
		// Pinned size: an autoscaler changing the node count mid-run would
		// change what is measured.
		MinSize: spec.Nodes,
		MaxSize: spec.Nodes,
		Labels:  map[string]string{"benchctl.dev/cluster": spec.Name},
		Tags:    tags(spec.Name),
	}
	if spec.Zone != "" {
		ng.AvailabilityZones = []string{spec.Zone}
	}
	return &ClusterConfig{
		APIVersion:        "eksctl.io/v1alpha5",
		Kind:              "ClusterConfig",
		Metadata:          Metadata{Name: spec.Name, Region: spec.Region, Version: version, Tags: tags(spec.Name)},
		ManagedNodeGroups: []ManagedNodeGroup{ng},
	}, nil
}

// Plan is everything Create would do for a spec.
type Plan struct {
	Config     *ClusterConfig
	ConfigYAML []byte
	ConfigPath string
	Kubeconfig string
	Create     Command
	Delete     Command
}

// MakePlan builds the plan for spec with state directory dir.
func MakePlan(spec provision.Spec, dir string) (*Plan, error) {
	cfg, err := Config(spec)
	if err != nil {
		return nil, err
	}
	raw, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("encode eksctl config: %w", err)
	}
	kc := filepath.Join(dir, KubeconfigFile)
	path := filepath.Join(dir, ConfigFile)
	return &Plan{
		Config:     cfg,
		ConfigYAML: raw,
		ConfigPath: path,
		Kubeconfig: kc,
		Create: Command{
			Name: "eksctl",
			Args: []string{"create", "cluster", "--config-file=" + path, "--kubeconfig=" + kc},
			Env:  []string{"KUBECONFIG=" + kc},
		},
		Delete: deleteCommand(cfg.Metadata.Name, cfg.Metadata.Region, kc),
	}, nil
}

func deleteCommand(name, region, kubeconfig string) Command {
	return Command{
		Name: "eksctl",
		Args: []string{"delete", "cluster", "--name=" + name, "--region=" + region, "--wait"},
		// eksctl also removes the context from the kubeconfig: ours.
		Env: []string{"KUBECONFIG=" + kubeconfig},
	}
}

// tools are the CLIs creating and reaching an EKS cluster needs: eksctl,
// and for the kubeconfig's token, the AWS CLI (or aws-iam-authenticator).
var tools = []provider.Tool{
	{Names: []string{"eksctl"}, Purpose: "creates and deletes EKS clusters", Install: "install it from https://eksctl.io/installation/ (a single binary from https://github.com/eksctl-io/eksctl/releases)"},
	{Names: []string{"aws", "aws-iam-authenticator"}, Purpose: "the EKS kubeconfig runs it for a token", Install: "install the AWS CLI v2 from https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html"},
}

// ErrDryRun is returned by Create when Spec.DryRun is set: the plan was
// printed and nothing was created, so nothing must be recorded.
var ErrDryRun = errors.New("dry run: nothing was created")

// Provider is the eks provider.
type Provider struct {
	// Runner runs eksctl (ExecRunner if nil).
	Runner Runner
	// Log receives eksctl's progress output (os.Stderr if nil).
	Log io.Writer
	// Out receives the dry-run plan when Create is called with
	// Spec.DryRun (os.Stdout if nil).
	Out io.Writer
	// DeleteTimeout bounds the removal of a created but unreachable
	// cluster (DefaultDeleteTimeout if 0).
	DeleteTimeout time.Duration

	probe func(ctx context.Context, kubeconfig, kubeContext string) (existing.ClusterInfo, error)
}

var _ provision.Provider = (*Provider)(nil)

// New returns the eks provider with default settings.
func New() *Provider { return &Provider{} }

func (p *Provider) runner() Runner {
	if p.Runner == nil {
		return ExecRunner{}
	}
	return p.Runner
}

func (p *Provider) log() io.Writer {
	if p.Log == nil {
		return os.Stderr
	}
	return p.Log
}

func (p *Provider) probeCluster(ctx context.Context, kubeconfig string) (provider.Info, error) {
	if p.probe != nil {
		return p.probe(ctx, kubeconfig, "")
	}
	return existing.Probe(ctx, kubeconfig, "")
}

func (p *Provider) clusters() provider.Clusters {
	return provider.Clusters{Provider: provision.ProviderEKS, Noun: "EKS cluster", Options: provider.CloudOptions, Probe: p.probeCluster}
}

// DryRun prints the config file and the exact commands Create would run
// for spec with state directory dir. It runs and writes nothing.
func (p *Provider) DryRun(_ context.Context, spec provision.Spec, dir string, w io.Writer) error {
	plan, err := MakePlan(spec, dir)
	if err != nil {
		return provider.Usage(err)
	}
	var b strings.Builder
	provider.WriteDryRunHeader(&b, "eks", spec.Name, p.runner(), tools)
	fmt.Fprintf(&b, "# 1. write %s (mode 0600):\n%s", plan.ConfigPath, plan.ConfigYAML)
	fmt.Fprintf(&b, "# 2. create the cluster; its kubeconfig goes only to the state directory:\n%s\n", plan.Create)
	fmt.Fprintf(&b, "# 3. read the server version and nodes through %s (mode 0600)\n", plan.Kubeconfig)
	fmt.Fprintf(&b, "# teardown would run:\n%s\n", plan.Delete)
	_, err = io.WriteString(w, b.String())
	return err
}

// Create creates the EKS cluster with eksctl, waits for it (eksctl returns
// when the node group is up) and checks it answers.
func (p *Provider) Create(ctx context.Context, spec provision.Spec, c *provision.Cluster) error {
	plan, err := MakePlan(spec, c.Dir)
	if err != nil {
		return provider.Usage(err)
	}
	if spec.DryRun {
		if err := p.DryRun(ctx, spec, c.Dir, cmp.Or[io.Writer](p.Out, os.Stdout)); err != nil {
			return err
		}
		return ErrDryRun
	}
	if err := provider.RequireTools(p.runner(), tools, ErrCLIMissing); err != nil {
		return fmt.Errorf("--provider eks: %w", err)
	}
	if err := provider.WriteFile0600(plan.ConfigPath, plan.ConfigYAML); err != nil {
		return err
	}
	md := plan.Config.Metadata
	c.Extra = map[string]string{
		ExtraClusterName: md.Name,
		ExtraRegion:      md.Region,
		ExtraZone:        spec.Zone,
		ExtraNodeType:    plan.Config.ManagedNodeGroups[0].InstanceType,
		ExtraVersion:     md.Version,
	}
	slog.InfoContext(ctx, "creating EKS cluster (this takes 15-20 minutes)", "cluster", md.Name, "region", md.Region, "command", plan.Create.String())
	if err := p.runner().Run(ctx, plan.Create, p.log()); err != nil {
		// Do not delete: the failure may be that a cluster of this name
		// already existed, and that one is not benchctl's.
		return fmt.Errorf("eksctl create cluster %s in %s failed: %w; eksctl may have left CloudFormation stacks behind: if no cluster %q existed in %s before, remove them with: %s",
			md.Name, md.Region, err, md.Name, md.Region, plan.Delete.Manual())
	}
	// From here the cluster exists and is ours: undo it on any failure.
	if err := p.finishCreate(ctx, plan, c); err != nil {
		return errors.Join(err, provider.DeleteCreated(ctx, p.runner(), p.log(), p.DeleteTimeout, "EKS cluster", plan.Delete))
	}
	return nil
}

func (p *Provider) finishCreate(ctx context.Context, plan *Plan, c *provision.Cluster) error {
	if err := os.Chmod(plan.Kubeconfig, 0o600); err != nil {
		return fmt.Errorf("eksctl did not write the kubeconfig: %w", err)
	}
	return p.clusters().Adopt(ctx, c, plan.Config.Metadata.Name, plan.Kubeconfig)
}

// Delete removes the EKS cluster benchctl created, waiting until it is
// gone.
func (p *Provider) Delete(ctx context.Context, c *provision.Cluster) error {
	if err := p.clusters().CheckOwned(c, c.Name); err != nil {
		return err
	}
	name, region := c.Extra[ExtraClusterName], c.Extra[ExtraRegion]
	if name == "" || region == "" {
		// A create that failed before eksctl ran made nothing in AWS.
		slog.InfoContext(ctx, "no EKS cluster was recorded for this name; nothing to delete in AWS", "cluster", c.Name)
		return nil
	}
	if err := provider.RequireTools(p.runner(), tools[:1], ErrCLIMissing); err != nil {
		return fmt.Errorf("cannot delete EKS cluster %s: %w", name, err)
	}
	kc := c.Kubeconfig
	if kc == "" {
		kc = filepath.Join(c.Dir, KubeconfigFile)
	}
	del := deleteCommand(name, region, kc)
	slog.InfoContext(ctx, "deleting EKS cluster", "command", del.String())
	if err := p.runner().Run(ctx, del, p.log()); err != nil {
		return fmt.Errorf("eksctl delete cluster %s in %s: %w", name, region, err)
	}
	return nil
}

// Kubeconfig returns the kubeconfig path in the state directory.
func (p *Provider) Kubeconfig(_ context.Context, c *provision.Cluster) (string, error) {
	return p.clusters().Kubeconfig(c)
}

// Fingerprint reads the server version and nodes from the live cluster.
func (p *Provider) Fingerprint(ctx context.Context, c *provision.Cluster) (provision.Fingerprint, error) {
	return p.clusters().Fingerprint(ctx, c)
}
