package main

import (
	"os"

	"github.com/benchctl/benchctl/provision"
	"github.com/benchctl/benchctl/provision/eks"
	"github.com/benchctl/benchctl/provision/existing"
	"github.com/benchctl/benchctl/provision/gke"
	"github.com/benchctl/benchctl/provision/kind"
	"github.com/benchctl/benchctl/provision/local"
)

// providerRegistry wires every provider implementation.
func providerRegistry(store *provision.Store) provision.Registry {
	return provision.Registry{
		provision.ProviderLocal:    local.New(store, local.DefaultCacheDir(), os.Stderr),
		provision.ProviderKind:     kind.New(),
		provision.ProviderEKS:      eks.New(),
		provision.ProviderGKE:      gke.New(),
		provision.ProviderExisting: existing.New(),
	}
}
