package portfolio

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	"github.com/benchctl/benchctl/controller/api/v1alpha1"
)

// NewScheme returns a scheme with what the runner reads and writes:
// Workflows and (for cleanup) pods.
func NewScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{v1alpha1.AddToScheme, corev1.AddToScheme} {
		if err := add(s); err != nil {
			return nil, fmt.Errorf("build scheme: %w", err)
		}
	}
	return s, nil
}

// discoveryTimeout bounds one discovery request of the REST mapper.
const discoveryTimeout = 30 * time.Second

// NewClient returns a watching client for the runner.
func NewClient(cfg *rest.Config) (client.WithWatch, error) {
	s, err := NewScheme()
	if err != nil {
		return nil, err
	}
	// The REST mapper's discovery requests carry no context, so only an
	// HTTP timeout bounds them against a stalled API server; the client's
	// own requests and watches are bounded by their contexts instead.
	dcfg := rest.CopyConfig(cfg)
	dcfg.Timeout = discoveryTimeout
	hc, err := rest.HTTPClientFor(dcfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client for %s: %w", cfg.Host, err)
	}
	m, err := apiutil.NewDynamicRESTMapper(dcfg, hc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client for %s: %w", cfg.Host, err)
	}
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: s, Mapper: m})
	if err != nil {
		return nil, fmt.Errorf("kubernetes client for %s: %w", cfg.Host, err)
	}
	return c, nil
}
