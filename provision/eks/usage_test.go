package eks

import (
	"io"
	"testing"

	"github.com/benchctl/benchctl/provision"
	"github.com/benchctl/benchctl/provision/internal/provider/providertest"
)

// TestBadFlagsAreUsageErrors checks the CLI can map flag mistakes to exit
// code 2, and that other failures are not marked so.
func TestBadFlagsAreUsageErrors(t *testing.T) {
	providertest.CheckUsageErrors(t, func() providertest.Provider {
		return &Provider{Runner: &fakeRunner{Path: allTools()}, Log: io.Discard, Out: io.Discard}
	}, []providertest.UsageCase{
		{Name: "no region", Spec: provision.Spec{Name: "a", Nodes: 1}, Usage: true},
		{Name: "patch version", Spec: provision.Spec{Name: "a", Nodes: 1, Region: "us-west-2", KubernetesVersion: "1.33.1"}, Usage: true},
		{Name: "fine", Spec: provision.Spec{Name: "a", Nodes: 1, Region: "us-west-2"}, Usage: false},
	})
}
