// Package provision creates, records and deletes the clusters benchctl
// benchmarks on. Each provider (local, kind, eks, gke, existing) implements
// Provider; the Store records every cluster under the state directory,
// including who created it, so benchctl only ever deletes its own.
package provision

import (
	"context"
	"time"
)

// Provider names.
const (
	ProviderLocal    = "local"
	ProviderKind     = "kind"
	ProviderEKS      = "eks"
	ProviderGKE      = "gke"
	ProviderExisting = "existing"
)

// Providers lists the provider names in the order help text shows them.
var Providers = []string{ProviderLocal, ProviderKind, ProviderEKS, ProviderGKE, ProviderExisting}

// Provider creates and deletes one kind of cluster. Create fills in the
// Cluster record (kubeconfig path, fingerprint, provider state); the caller
// persists it.
type Provider interface {
	// Create brings a cluster up and returns only when it is ready.
	Create(ctx context.Context, spec Spec, c *Cluster) error
	// Delete removes a cluster this provider created.
	Delete(ctx context.Context, c *Cluster) error
	// Kubeconfig returns the path of the cluster's kubeconfig file.
	Kubeconfig(ctx context.Context, c *Cluster) (string, error)
	// Fingerprint describes the cluster for reports.
	Fingerprint(ctx context.Context, c *Cluster) (Fingerprint, error)
}

// Spec is what the user asked for. Providers ignore fields that do not
// apply to them.
type Spec struct {
	Name              string
	Provider          string
	Nodes             int
	KubernetesVersion string
	// DryRun prints what would run (eks, gke) without running it.
	DryRun bool

	// local
	UnsafeNoFsync bool

	// kind
	NodeImage string

	// eks, gke
	Region   string
	Zone     string
	NodeType string
	Project  string

	// existing
	Kubeconfig string
	Context    string
}

// Fingerprint identifies the environment of a benchmark run.
type Fingerprint struct {
	Provider          string            `json:"provider" yaml:"provider"`
	KubernetesVersion string            `json:"kubernetesVersion" yaml:"kubernetesVersion"`
	Nodes             int               `json:"nodes" yaml:"nodes"`
	Options           map[string]string `json:"options,omitempty" yaml:"options,omitempty"`
}

// Creator values for Cluster.CreatedBy.
const (
	CreatedByBenchctl = "benchctl"
	// CreatedByUser marks a cluster the user brought (existing): benchctl
	// never deletes it.
	CreatedByUser = "user"
)

// Cluster is the persisted record of one cluster.
type Cluster struct {
	Name        string      `json:"name"`
	Provider    string      `json:"provider"`
	CreatedBy   string      `json:"createdBy"`
	CreatedAt   time.Time   `json:"createdAt"`
	Kubeconfig  string      `json:"kubeconfig"`
	Context     string      `json:"context,omitempty"`
	Nodes       int         `json:"nodes"`
	Fingerprint Fingerprint `json:"fingerprint"`
	// Dir is the cluster's state directory (not persisted; set on load).
	Dir string `json:"-"`
	// Processes are the host processes of a local cluster.
	Processes []Process `json:"processes,omitempty"`
	// Ports are the loopback ports a local cluster listens on, by name.
	Ports map[string]int `json:"ports,omitempty"`
	// Extra holds provider-specific settings needed to delete the cluster
	// (region, project, kind cluster name).
	Extra map[string]string `json:"extra,omitempty"`
	// SimulatedNodes is true when every node is simulated by KWOK: no
	// kubelet runs pods there, so benchctl runs the controller on this
	// host instead of as the chart's Deployment.
	SimulatedNodes bool `json:"simulatedNodes,omitempty"`
}

// ControllerOnHost reports whether a controller deployed to c runs as a
// process on this host (no kubelet runs its pod there).
func (c *Cluster) ControllerOnHost() bool {
	return c.Provider == ProviderLocal || c.SimulatedNodes
}

// Owned reports whether benchctl created c, and so may delete it.
func (c *Cluster) Owned() bool { return c.CreatedBy != CreatedByUser }

// Process is a host process of a local cluster.
type Process struct {
	Name string   `json:"name"`
	PID  int      `json:"pid"`
	Args []string `json:"args"`
	Log  string   `json:"log"`
	// StartTime is the process start time in clock ticks since boot, from
	// /proc/PID/stat, so a recycled PID is never mistaken for ours.
	StartTime uint64 `json:"startTime"`
}
