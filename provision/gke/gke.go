// Package gke provides the "gke" provider: a Google Kubernetes Engine
// cluster created, reached and deleted with the gcloud CLI.
//
// Every gcloud call runs with KUBECONFIG set to the cluster's own file in
// the state directory: `clusters create`, `get-credentials` and `delete`
// all edit the kubeconfig, and the user's ~/.kube/config must stay
// untouched. With Spec.DryRun nothing runs: the exact commands are
// printed instead.
package gke

import (
	"cmp"
	"context"
	"encoding/json"
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

	"github.com/benchctl/benchctl/provision"
	"github.com/benchctl/benchctl/provision/existing"
	"github.com/benchctl/benchctl/provision/internal/provider"
)

// DefaultNodeType is the machine type when --node-type is not given. Not
// gcloud's default (e2-medium, a shared-core burstable machine whose CPU
// credit would skew benchmark numbers).
const DefaultNodeType = "e2-standard-2"

// DefaultDeleteTimeout bounds the automatic removal of a cluster that was
// created but cannot be reached.
const DefaultDeleteTimeout = provider.DefaultDeleteTimeout

// KubeconfigFile is the kubeconfig's name inside the state directory.
const KubeconfigFile = "kubeconfig"

// Labels on the GKE cluster; Delete checks OwnerLabel before deleting.
const (
	OwnerLabel   = "created-by"
	OwnerValue   = "benchctl"
	ClusterLabel = "benchctl-cluster"
)

// Keys of provision.Cluster.Extra, needed to reach and delete the cluster.
const (
	ExtraClusterName = "gkeCluster"
	ExtraProject     = "project"
	ExtraRegion      = provider.ExtraRegion
	ExtraZone        = provider.ExtraZone
	ExtraNodeType    = provider.ExtraNodeType
	ExtraVersion     = provider.ExtraVersion
)

var (
	gkeNameRE  = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$`)
	projectRE  = regexp.MustCompile(`^([a-z0-9.-]+:)?[a-z][-a-z0-9]{4,28}[a-z0-9]$|^\d+$`)
	regionRE   = regexp.MustCompile(`^[a-z]+-[a-z]+\d+$`)
	zoneRE     = regexp.MustCompile(`^([a-z]+-[a-z]+\d+)-[a-z][a-z0-9]*$`)
	versionRE  = regexp.MustCompile(`^v?(\d+\.\d+(\.\d+(-gke\.\d+)?)?)$`)
	notFoundRE = regexp.MustCompile(`code=404|NOT_FOUND|[Nn]ot found`)
)

// Location is where the cluster lives.
type Location struct {
	Region string // set for a regional cluster
	Zone   string // set for a zonal cluster, or the node zone of a regional one
}

// Flags selects the cluster in get-credentials, describe and delete.
func (l Location) Flags() []string {
	if l.Region != "" {
		return []string{"--region=" + l.Region}
	}
	return []string{"--zone=" + l.Zone}
}

// createFlags also pins the nodes of a regional cluster to Zone.
func (l Location) createFlags() []string {
	if l.Region != "" && l.Zone != "" {
		return []string{"--region=" + l.Region, "--node-locations=" + l.Zone}
	}
	return l.Flags()
}

// String is "zone us-central1-a" or "region us-central1".
func (l Location) String() string {
	if l.Region != "" {
		return "region " + l.Region
	}
	return "zone " + l.Zone
}

// Plan is everything Create would run for a spec.
type Plan struct {
	Name       string
	Project    string
	Location   Location
	NodeType   string
	Version    string
	Kubeconfig string
	// PerZoneNodes is true for a regional cluster without --zone: gcloud
	// then creates --num-nodes in each of the region's zones.
	PerZoneNodes   bool
	Create         Command
	GetCredentials Command
	Describe       Command
	Delete         Command
}

// MakePlan validates the flags and builds the gcloud commands for spec
// with state directory dir.
func MakePlan(spec provision.Spec, dir string) (*Plan, error) {
	if !gkeNameRE.MatchString(spec.Name) {
		return nil, fmt.Errorf("--name %q: GKE cluster names start with a lower-case letter and have at most 40 lower-case letters, digits and '-'", spec.Name)
	}
	if spec.Project == "" {
		return nil, errors.New("--provider gke needs --project (the Google Cloud project ID)")
	}
	if !projectRE.MatchString(spec.Project) {
		return nil, fmt.Errorf("--project %q is not a Google Cloud project ID (6-30 lower-case letters, digits and '-', starting with a letter) or project number", spec.Project)
	}
	loc, err := location(spec)
	if err != nil {
		return nil, err
	}
	if spec.Nodes < 1 {
		return nil, fmt.Errorf("--nodes %d: a GKE cluster needs at least 1 node", spec.Nodes)
	}
	var version string
	if spec.KubernetesVersion != "" {
		if spec.KubernetesVersion == "latest" {
			version = "latest"
		} else if m := versionRE.FindStringSubmatch(spec.KubernetesVersion); m != nil {
			version = m[1]
		} else {
			return nil, fmt.Errorf("--kubernetes-version %q: GKE takes a version such as 1.33, 1.33.5 or 1.33.5-gke.1080000, or latest", spec.KubernetesVersion)
		}
	}
	nodeType := spec.NodeType
	if nodeType == "" {
		nodeType = DefaultNodeType
	}
	kc := filepath.Join(dir, KubeconfigFile)
	env := []string{"KUBECONFIG=" + kc}
	common := append([]string{spec.Name, "--project=" + spec.Project}, loc.Flags()...)

	create := []string{"container", "clusters", "create", spec.Name, "--project=" + spec.Project}
	create = append(create, loc.createFlags()...)
	create = append(create, "--num-nodes="+strconv.Itoa(spec.Nodes), "--machine-type="+nodeType)
	if version != "" {
		create = append(create, "--cluster-version="+version)
	}
	create = append(create, "--labels="+OwnerLabel+"="+OwnerValue+","+ClusterLabel+"="+spec.Name, "--quiet")

	return &Plan{
		Name:           spec.Name,
		Project:        spec.Project,
		Location:       loc,
		NodeType:       nodeType,
		Version:        version,
		Kubeconfig:     kc,
		PerZoneNodes:   loc.Region != "" && loc.Zone == "",
		Create:         Command{Name: "gcloud", Args: create, Env: env},
		GetCredentials: Command{Name: "gcloud", Args: append(append([]string{"container", "clusters", "get-credentials"}, common...), "--quiet"), Env: env},
		Describe:       Command{Name: "gcloud", Args: append(append([]string{"container", "clusters", "describe"}, common...), "--format=json(resourceLabels)"), Env: env},
		Delete:         Command{Name: "gcloud", Args: append(append([]string{"container", "clusters", "delete"}, common...), "--quiet"), Env: env},
	}, nil
}

func location(spec provision.Spec) (Location, error) {
	if spec.Zone == "" && spec.Region == "" {
		return Location{}, errors.New("--provider gke needs --zone (a zonal cluster, e.g. us-central1-a) or --region (a regional cluster, e.g. us-central1)")
	}
	if spec.Region != "" && !regionRE.MatchString(spec.Region) {
		return Location{}, fmt.Errorf("--region %q does not look like a Google Cloud region (e.g. us-central1)", spec.Region)
	}
	if spec.Zone == "" {
		return Location{Region: spec.Region}, nil
	}
	m := zoneRE.FindStringSubmatch(spec.Zone)
	if m == nil {
		return Location{}, fmt.Errorf("--zone %q does not look like a Google Cloud zone (e.g. us-central1-a)", spec.Zone)
	}
	if spec.Region != "" && m[1] != spec.Region {
		return Location{}, fmt.Errorf("--zone %s is not in --region %s", spec.Zone, spec.Region)
	}
	return Location{Region: spec.Region, Zone: spec.Zone}, nil
}

// tools are the CLIs creating and reaching a GKE cluster needs.
var tools = []provider.Tool{
	{Names: []string{"gcloud"}, Purpose: "creates and deletes GKE clusters", Install: "install the Google Cloud CLI from https://cloud.google.com/sdk/docs/install"},
	{Names: []string{"gke-gcloud-auth-plugin"}, Purpose: "the GKE kubeconfig runs it for a token", Install: "run `gcloud components install gke-gcloud-auth-plugin` (or install the google-cloud-cli-gke-gcloud-auth-plugin package)"},
}

// ErrDryRun is returned by Create when Spec.DryRun is set: the plan was
// printed and nothing was created, so nothing must be recorded.
var ErrDryRun = errors.New("dry run: nothing was created")

// ErrNotOurs is wrapped when the GKE cluster does not carry benchctl's
// owner label.
var ErrNotOurs = errors.New("the GKE cluster does not carry benchctl's label")

// Provider is the gke provider.
type Provider struct {
	// Runner runs gcloud (ExecRunner if nil).
	Runner Runner
	// Log receives gcloud's progress output (os.Stderr if nil).
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

// New returns the gke provider with default settings.
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
	return provider.Clusters{Provider: provision.ProviderGKE, Noun: "GKE cluster", Options: provider.CloudOptions, Probe: p.probeCluster}
}

const perZoneNote = "a regional cluster gets --num-nodes nodes in each of the region's zones (usually 3); add --zone to put all nodes in one zone"

// DryRun prints the exact commands Create would run for spec with state
// directory dir. It runs and writes nothing.
func (p *Provider) DryRun(_ context.Context, spec provision.Spec, dir string, w io.Writer) error {
	plan, err := MakePlan(spec, dir)
	if err != nil {
		return provider.Usage(err)
	}
	var b strings.Builder
	provider.WriteDryRunHeader(&b, "gke", spec.Name, p.runner(), tools)
	if plan.PerZoneNodes {
		fmt.Fprintf(&b, "# note: %s\n", perZoneNote)
	}
	fmt.Fprintf(&b, "# 1. create the cluster (KUBECONFIG keeps gcloud away from ~/.kube/config):\n%s\n", plan.Create)
	fmt.Fprintf(&b, "# 2. write its credentials to %s (mode 0600):\n%s\n", plan.Kubeconfig, plan.GetCredentials)
	fmt.Fprintf(&b, "# 3. read the server version and nodes through %s\n", plan.Kubeconfig)
	fmt.Fprintf(&b, "# teardown would check the %s=%s label, then delete:\n%s\n%s\n", OwnerLabel, OwnerValue, plan.Describe, plan.Delete)
	_, err = io.WriteString(w, b.String())
	return err
}

// Create creates the GKE cluster, fetches its credentials into the state
// directory and checks it answers.
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
		return fmt.Errorf("--provider gke: %w", err)
	}
	if plan.PerZoneNodes {
		slog.WarnContext(ctx, perZoneNote, "nodes", spec.Nodes, "region", plan.Location.Region)
	}
	c.Extra = map[string]string{
		ExtraClusterName: plan.Name,
		ExtraProject:     plan.Project,
		ExtraRegion:      plan.Location.Region,
		ExtraZone:        plan.Location.Zone,
		ExtraNodeType:    plan.NodeType,
		ExtraVersion:     plan.Version,
	}
	slog.InfoContext(ctx, "creating GKE cluster (this takes 5-10 minutes)", "cluster", plan.Name, "location", plan.Location.String(), "command", plan.Create.String())
	if err := p.runner().Run(ctx, plan.Create, p.log()); err != nil {
		// Do not delete: the failure may be that a cluster of this name
		// already existed, and that one is not benchctl's.
		return fmt.Errorf("gcloud container clusters create %s (%s, project %s) failed: %w; if gcloud left a cluster in ERROR state and it is the one benchctl started, remove it with: %s",
			plan.Name, plan.Location, plan.Project, err, plan.Delete.Manual())
	}
	// From here the cluster exists and is ours: undo it on any failure.
	if err := p.finishCreate(ctx, plan, c); err != nil {
		return errors.Join(err, provider.DeleteCreated(ctx, p.runner(), p.log(), p.DeleteTimeout, "GKE cluster", plan.Delete))
	}
	return nil
}

func (p *Provider) finishCreate(ctx context.Context, plan *Plan, c *provision.Cluster) error {
	if err := p.runner().Run(ctx, plan.GetCredentials, p.log()); err != nil {
		return fmt.Errorf("gcloud container clusters get-credentials %s: %w", plan.Name, err)
	}
	if err := os.Chmod(plan.Kubeconfig, 0o600); err != nil {
		return fmt.Errorf("gcloud did not write the kubeconfig: %w", err)
	}
	return p.clusters().Adopt(ctx, c, plan.Name, plan.Kubeconfig)
}

// planFor rebuilds the commands for a recorded cluster.
func planFor(c *provision.Cluster) (*Plan, error) {
	kc := c.Kubeconfig
	if kc == "" {
		kc = filepath.Join(c.Dir, KubeconfigFile)
	}
	return MakePlan(provision.Spec{
		Name:    c.Extra[ExtraClusterName],
		Project: c.Extra[ExtraProject],
		Region:  c.Extra[ExtraRegion],
		Zone:    c.Extra[ExtraZone],
		// Only the create command depends on these; keep MakePlan happy.
		Nodes: 1,
	}, filepath.Dir(kc))
}

// Delete removes the GKE cluster benchctl created, after checking that the
// cluster of that name still carries benchctl's owner label (a cluster
// someone made later under the same name is not deleted).
func (p *Provider) Delete(ctx context.Context, c *provision.Cluster) error {
	if err := p.clusters().CheckOwned(c, c.Name); err != nil {
		return err
	}
	if c.Extra[ExtraClusterName] == "" {
		// A create that failed before gcloud ran made nothing in GCP.
		slog.InfoContext(ctx, "no GKE cluster was recorded for this name; nothing to delete in Google Cloud", "cluster", c.Name)
		return nil
	}
	plan, err := planFor(c)
	if err != nil {
		return fmt.Errorf("cluster %q: its record is damaged: %w", c.Name, err)
	}
	if err := provider.RequireTools(p.runner(), tools[:1], ErrCLIMissing); err != nil {
		return fmt.Errorf("cannot delete GKE cluster %s: %w", plan.Name, err)
	}
	stdout, stderr, err := p.runner().Output(ctx, plan.Describe)
	if err != nil {
		if notFoundRE.Match(stderr) {
			slog.WarnContext(ctx, "the GKE cluster is already gone", "cluster", plan.Name, "location", plan.Location.String())
			return nil
		}
		return fmt.Errorf("check GKE cluster %s before deleting it: %w: %s", plan.Name, err, provider.OneLine(string(stderr)))
	}
	var described struct {
		ResourceLabels map[string]string `json:"resourceLabels"`
	}
	if err := json.Unmarshal(stdout, &described); err != nil {
		return fmt.Errorf("check GKE cluster %s before deleting it: read %s output: %w", plan.Name, plan.Describe, err)
	}
	if described.ResourceLabels[OwnerLabel] != OwnerValue {
		return fmt.Errorf("refusing to delete GKE cluster %s (%s, project %s): %w (%s=%s), so benchctl did not create this one", plan.Name, plan.Location, plan.Project, ErrNotOurs, OwnerLabel, OwnerValue)
	}
	slog.InfoContext(ctx, "deleting GKE cluster", "command", plan.Delete.String())
	if err := p.runner().Run(ctx, plan.Delete, p.log()); err != nil {
		return fmt.Errorf("gcloud container clusters delete %s (%s): %w", plan.Name, plan.Location, err)
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
