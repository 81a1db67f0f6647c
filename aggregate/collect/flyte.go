package collect

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/benchctl/benchctl/portfolio"
	"github.com/benchctl/benchctl/portfolio/flyte"
	"github.com/benchctl/benchctl/portfolio/rundir"
)

// DefaultMetricsDepth is how many entity levels of GetExecutionMetrics'
// span tree are asked for: a task is three levels below its workflow
// (execution, node, task node, attempt), and each launch plan or
// sub-workflow adds levels. A tree cut by its depth leaves time
// unresolved, which aggregation reports rather than guesses.
const DefaultMetricsDepth = 16

// Flyte implements portfolio.Hooks for the flyte engine: once an
// execution has ended it stores what Flyte Admin recorded of it (the
// execution, its node executions with their task executions, the span
// tree of GetExecutionMetrics), and, when flytepropeller's Prometheus
// endpoint is given, scrapes it before and after, as the bundled
// controller's metrics are.
type Flyte struct {
	Client *flyte.Client
	// Propeller is flytepropeller's metrics URL (e.g.
	// http://127.0.0.1:10254/metrics); empty for none.
	Propeller string
	// HTTP scrapes Propeller (default: a 30 s timeout).
	HTTP *http.Client
	// Depth of the metrics span tree (default DefaultMetricsDepth).
	Depth int
}

var _ portfolio.Hooks = (*Flyte)(nil)

// Before scrapes flytepropeller's metrics.
func (f *Flyte) Before(ctx context.Context, e *portfolio.Execution) error {
	return f.scrape(ctx, e.Dir, rundir.ArtifactPropellerBefore)
}

// After scrapes flytepropeller's metrics, then stores Admin's records of
// the execution.
func (f *Flyte) After(ctx context.Context, e *portfolio.Execution) error {
	if err := f.scrape(ctx, e.Dir, rundir.ArtifactPropellerAfter); err != nil {
		return err
	}
	id, err := parseExecutionID(e.ExecutionID)
	if err != nil {
		return err
	}
	ex, err := f.Client.GetExecution(ctx, id)
	if err != nil {
		return err
	}
	nodes, err := f.Client.NodeTrees(ctx, id)
	if err != nil {
		return err
	}
	depth := f.Depth
	if depth <= 0 {
		depth = DefaultMetricsDepth
	}
	span, err := f.Client.GetExecutionMetrics(ctx, id, depth)
	if err != nil {
		return err
	}
	for _, a := range []struct {
		name string
		v    any
	}{{rundir.ArtifactFlyteExecution, ex}, {rundir.ArtifactFlyteNodes, nodes}, {rundir.ArtifactFlyteMetrics, span}} {
		b, err := json.Marshal(a.v)
		if err != nil {
			return fmt.Errorf("encode %s: %w", a.name, err)
		}
		if err := e.Dir.WriteArtifact(a.name, b); err != nil {
			return fmt.Errorf("write %s: %w", a.name, err)
		}
	}
	return nil
}

// parseExecutionID reads the engine's project/domain/name.
func parseExecutionID(s string) (flyte.ExecutionID, error) {
	p := strings.Split(s, "/")
	if len(p) != 3 || p[0] == "" || p[1] == "" || p[2] == "" {
		return flyte.ExecutionID{}, fmt.Errorf("execution id %q is not project/domain/name", s)
	}
	return flyte.ExecutionID{Project: p[0], Domain: p[1], Name: p[2]}, nil
}

func (f *Flyte) scrape(ctx context.Context, dir *rundir.Execution, artifact string) error {
	if f.Propeller == "" {
		return nil
	}
	hc := f.HTTP
	if hc == nil {
		hc = defaultHTTP
	}
	body, err := get(ctx, hc, f.Propeller)
	if err != nil {
		return fmt.Errorf("scrape flytepropeller metrics: %w", err)
	}
	if err := dir.WriteArtifact(artifact, body); err != nil {
		return fmt.Errorf("write %s: %w", artifact, err)
	}
	return nil
}

// get reads a URL that must answer 200.
func get(ctx context.Context, hc *http.Client, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return body, nil
}
