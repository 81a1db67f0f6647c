package bench

import (
	"context"
	"fmt"
	"net/http"

	"github.com/benchctl/benchctl/controller/api/telemetry"
	"github.com/benchctl/benchctl/deploy"
	"github.com/benchctl/benchctl/provision"
	"github.com/benchctl/benchctl/provision/local"
)

// controllerLiveness is portfolio.Liveness for a deployment: a host
// controller's process must still exist (kill -9 shows at once), and any
// controller must answer /healthz on the endpoint the collector uses (for
// an in-cluster one, through its port-forward, which fails once the pod
// is gone). /healthz, not /readyz: liveness is the HTTP server answering,
// which does not depend on the API server being reachable, so an API
// server restart is not mistaken for a controller exit.
type controllerLiveness struct {
	endpoint string
	proc     *provision.Process
	http     *http.Client
}

func newControllerLiveness(d *deploy.Deployment, endpoint string) *controllerLiveness {
	return &controllerLiveness{endpoint: endpoint, proc: d.Process, http: &http.Client{}}
}

// Alive implements portfolio.Liveness; ctx bounds the request.
func (l *controllerLiveness) Alive(ctx context.Context) error {
	if l.proc != nil && !local.Alive(*l.proc) {
		return fmt.Errorf("process %d (%s) is gone; its log is %s", l.proc.PID, l.proc.Name, l.proc.Log)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.endpoint+telemetry.PathHealthz, nil)
	if err != nil {
		return fmt.Errorf("liveness request: %w", err)
	}
	resp, err := l.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s%s: %w", l.endpoint, telemetry.PathHealthz, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s%s: %s", l.endpoint, telemetry.PathHealthz, resp.Status)
	}
	return nil
}
