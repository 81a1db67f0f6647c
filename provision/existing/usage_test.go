package existing

import (
	"testing"

	"github.com/benchctl/benchctl/provision"
	"github.com/benchctl/benchctl/provision/internal/provider/providertest"
)

// TestBadFlagsAreUsageErrors checks the CLI can map flag mistakes to exit
// code 2, and that other failures are not marked so.
func TestBadFlagsAreUsageErrors(t *testing.T) {
	providertest.CheckUsageErrors(t, func() providertest.Provider { return New() }, []providertest.UsageCase{
		{Name: "no context", Spec: provision.Spec{Name: "a", Kubeconfig: "/dev/null"}, Usage: true},
		{Name: "no kubeconfig", Spec: provision.Spec{Name: "a", Context: "x"}, Usage: true},
		{Name: "missing file", Spec: provision.Spec{Name: "a", Kubeconfig: "/nonexistent/kubeconfig", Context: "x"}, Usage: true},
	})
}
