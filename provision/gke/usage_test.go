package gke

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
		return &Provider{Runner: &fakeRunner{Path: bothTools()}, Log: io.Discard, Out: io.Discard}
	}, []providertest.UsageCase{
		{Name: "no project", Spec: provision.Spec{Name: "a", Nodes: 1, Zone: "us-central1-a"}, Usage: true},
		{Name: "no location", Spec: provision.Spec{Name: "a", Nodes: 1, Project: "my-proj-123"}, Usage: true},
		{Name: "fine", Spec: provision.Spec{Name: "a", Nodes: 1, Project: "my-proj-123", Zone: "us-central1-a"}, Usage: false},
	})
}
