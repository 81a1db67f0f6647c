package main

import (
	"io"

	"github.com/benchctl/benchctl/provision"
	"github.com/benchctl/benchctl/provision/eks"
	"github.com/benchctl/benchctl/provision/existing"
	"github.com/benchctl/benchctl/provision/gke"
	"github.com/benchctl/benchctl/provision/kind"
	"github.com/benchctl/benchctl/provision/local"
)

// providerRegistry wires every provider implementation.
func providerRegistry(store *provision.Store, progress io.Writer) provision.Registry {
	return provision.Registry{
		provision.ProviderLocal:    local.New(store, local.DefaultCacheDir(), progress),
		provision.ProviderKind:     kind.New(),
		provision.ProviderEKS:      eks.New(),
		provision.ProviderGKE:      gke.New(),
		provision.ProviderExisting: existing.New(),
	}
}
