package main

import (
	"os"

	"github.com/benchctl/benchctl/provision"
	"github.com/benchctl/benchctl/provision/local"
)

// providerRegistry wires every provider implementation.
func providerRegistry(store *provision.Store) provision.Registry {
	return provision.Registry{
		provision.ProviderLocal: local.New(store, local.DefaultCacheDir(), os.Stderr),
	}
}
