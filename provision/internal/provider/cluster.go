package provider

import (
	"context"
	"fmt"
	"os"

	"github.com/benchctl/benchctl/provision"
)

// Info is what a probe learned about a live cluster
// (existing.ClusterInfo).
type Info interface {
	Fingerprint(providerName string, options map[string]string) provision.Fingerprint
}

// Clusters describes the clusters one provider creates (kind, eks, gke)
// to the steps they share once a cluster exists.
type Clusters struct {
	// Provider is the provider's name, for fingerprints.
	Provider string
	// Noun names a cluster in messages, e.g. "EKS cluster".
	Noun string
	// Options are the provider's fingerprint options for c.
	Options func(c *provision.Cluster) map[string]string
	// Probe reads the server version and nodes through kubeconfig.
	Probe func(ctx context.Context, kubeconfig string) (Info, error)
}

// Adopt is the last step of a create: the new cluster, called name by its
// provider, must answer through kubeconfig, which is then recorded in c
// with the fingerprint. On error the caller deletes the cluster again.
func (cs Clusters) Adopt(ctx context.Context, c *provision.Cluster, name, kubeconfig string) error {
	info, err := cs.Probe(ctx, kubeconfig)
	if err != nil {
		return fmt.Errorf("%s %s was created but does not answer: %w", cs.Noun, name, err)
	}
	c.Kubeconfig = kubeconfig
	c.Fingerprint = info.Fingerprint(cs.Provider, cs.Options(c))
	return nil
}

// Fingerprint reads the server version and nodes from the live cluster.
func (cs Clusters) Fingerprint(ctx context.Context, c *provision.Cluster) (provision.Fingerprint, error) {
	info, err := cs.Probe(ctx, c.Kubeconfig)
	if err != nil {
		return provision.Fingerprint{}, fmt.Errorf("fingerprint %s %q: %w", cs.Noun, c.Name, err)
	}
	return info.Fingerprint(cs.Provider, cs.Options(c)), nil
}

// Kubeconfig returns the path of the kubeconfig in the state directory.
func (cs Clusters) Kubeconfig(c *provision.Cluster) (string, error) {
	return RecordedKubeconfig(c, cs.Noun, "; was its creation finished?")
}

// CheckOwned refuses to delete a cluster, called name by its provider,
// that benchctl did not create.
func (cs Clusters) CheckOwned(c *provision.Cluster, name string) error {
	if c.CreatedBy != provision.CreatedByBenchctl {
		return fmt.Errorf("%s %q was not created by benchctl (created by %q); refusing to delete it", cs.Noun, name, c.CreatedBy)
	}
	return nil
}

// RecordedKubeconfig returns the kubeconfig path recorded for c, after
// checking that the file is still there. noun names the cluster in errors;
// hint follows the error for a record without a path.
func RecordedKubeconfig(c *provision.Cluster, noun, hint string) (string, error) {
	if c.Kubeconfig == "" {
		return "", fmt.Errorf("%s %q has no kubeconfig recorded%s", noun, c.Name, hint)
	}
	if _, err := os.Stat(c.Kubeconfig); err != nil {
		return "", fmt.Errorf("%s %q: kubeconfig: %w", noun, c.Name, err)
	}
	return c.Kubeconfig, nil
}
