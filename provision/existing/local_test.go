package existing_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/benchctl/benchctl/provision"
	"github.com/benchctl/benchctl/provision/existing"
	"github.com/benchctl/benchctl/provision/local/localtest"
)

// TestAgainstLocalCluster registers a real local cluster (etcd +
// kube-apiserver + KWOK) as an existing one. It skips when the local
// cluster binaries are not built.
func TestAgainstLocalCluster(t *testing.T) {
	lc := localtest.Start(t, 2)
	raw, err := clientcmd.LoadFromFile(lc.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	spec := provision.Spec{Name: "lab", Provider: provision.ProviderExisting, Kubeconfig: lc.Kubeconfig, Context: raw.CurrentContext}
	store := provision.NewStore(t.TempDir())
	reg := provision.Registry{provision.ProviderExisting: existing.New()}
	ctx := context.Background()

	c, err := provision.Create(ctx, store, reg, spec)
	if err != nil {
		t.Fatal(err)
	}
	if c.CreatedBy != provision.CreatedByUser || c.Kubeconfig != lc.Kubeconfig || c.Context != raw.CurrentContext {
		t.Errorf("record = %+v", c)
	}
	v, err := lc.Clientset.Discovery().ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	if c.Fingerprint.KubernetesVersion != v.GitVersion || !strings.HasPrefix(c.Fingerprint.KubernetesVersion, "v1.") {
		t.Errorf("fingerprint version %q, server says %q", c.Fingerprint.KubernetesVersion, v.GitVersion)
	}
	if c.Fingerprint.Nodes != 2 || c.Fingerprint.Options["readyNodes"] != "2" {
		t.Errorf("fingerprint %+v, want 2 nodes, 2 ready", c.Fingerprint)
	}

	// Delete refuses; the lifecycle only forgets the record and the
	// cluster keeps answering.
	if err := existing.New().Delete(ctx, c); !errors.Is(err, existing.ErrNeverDeleted) {
		t.Errorf("Delete = %v", err)
	}
	res, err := provision.Delete(ctx, store, reg, "lab")
	if err != nil || res != provision.Forgotten {
		t.Fatalf("provision.Delete = %v, %v; want Forgotten", res, err)
	}
	if _, err := existing.Probe(ctx, lc.Kubeconfig, raw.CurrentContext); err != nil {
		t.Errorf("the cluster stopped answering after teardown of its record: %v", err)
	}
}
