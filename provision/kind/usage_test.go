package kind

import (
	"testing"

	"github.com/benchctl/benchctl/provision"
	"github.com/benchctl/benchctl/provision/internal/provider/providertest"
)

// TestBadFlagsAreUsageErrors checks the CLI can map flag mistakes to exit
// code 2, and that other failures are not marked so.
func TestBadFlagsAreUsageErrors(t *testing.T) {
	// A running engine, so Create gets past the preflight to the flags.
	providertest.CheckUsageErrors(t, func() providertest.Provider {
		p, _ := newTestProvider(upRunner(), &fakeKind{}, nil)
		return p
	}, []providertest.UsageCase{
		{Name: "negative nodes", Spec: provision.Spec{Name: "a", Nodes: -1}, Usage: true},
		{Name: "bad version", Spec: provision.Spec{Name: "a", KubernetesVersion: "1.33"}, Usage: true},
		{Name: "fine", Spec: provision.Spec{Name: "a", Nodes: 1}, Usage: false},
	})
}
