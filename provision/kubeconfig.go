package provision

import (
	"fmt"
	"sort"
	"strings"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// RESTConfig builds a client config from exactly the named kubeconfig file
// and context: the one way benchctl turns a kubeconfig into a client.
// KUBECONFIG and ~/.kube/config are never consulted, so benchctl cannot
// drift onto a cluster the user did not name. An empty kubeContext means
// the file's current-context (used for kubeconfigs benchctl wrote itself).
func RESTConfig(kubeconfig, kubeContext string) (*rest.Config, error) {
	rules := &clientcmd.ClientConfigLoadingRules{ExplicitPath: kubeconfig}
	// Load (not LoadFromFile) resolves relative certificate paths against
	// the file's directory, as kubectl does.
	raw, err := rules.Load()
	if err != nil {
		return nil, fmt.Errorf("read kubeconfig %s: %w", kubeconfig, err)
	}
	name := kubeContext
	if name == "" {
		name = raw.CurrentContext
		if name == "" {
			return nil, fmt.Errorf("kubeconfig %s: no current-context is set; name one with --context", kubeconfig)
		}
	}
	if _, ok := raw.Contexts[name]; !ok {
		have := make([]string, 0, len(raw.Contexts))
		for n := range raw.Contexts {
			have = append(have, n)
		}
		sort.Strings(have)
		list := "(no contexts)"
		if len(have) > 0 {
			list = strings.Join(have, ", ")
		}
		return nil, fmt.Errorf("kubeconfig %s: context %q not found; the file has: %s", kubeconfig, name, list)
	}
	cfg, err := clientcmd.NewNonInteractiveClientConfig(*raw, name, &clientcmd.ConfigOverrides{}, rules).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s, context %q: %w", kubeconfig, name, err)
	}
	return cfg, nil
}

// RESTConfig is the client config of the cluster's recorded kubeconfig
// and context.
func (c *Cluster) RESTConfig() (*rest.Config, error) {
	return RESTConfig(c.Kubeconfig, c.Context)
}
