// Package collect gathers an execution's artifacts while a run goes: it
// implements the portfolio runner's hooks, scraping the controller's and
// the kube-apiserver's metrics around each execution and fetching its
// spans and pods afterwards, into the execution's directory. Everything
// after that is the aggregate package's pure transform.
package collect

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/benchctl/benchctl/aggregate"
	"github.com/benchctl/benchctl/controller/api/telemetry"
	"github.com/benchctl/benchctl/controller/api/v1alpha1"
	"github.com/benchctl/benchctl/portfolio"
	"github.com/benchctl/benchctl/portfolio/rundir"
)

// Collector implements portfolio.Hooks: around each execution it scrapes
// the controller's and the kube-apiserver's metrics, and after it fetches
// the execution's spans and pods. Serial execution makes the metric deltas
// attributable to the one execution in flight.
type Collector struct {
	// Endpoint is the controller's HTTP base URL.
	Endpoint string
	// AdminEndpoint is the admin service's base URL, when the controller
	// reports its events there.
	AdminEndpoint string
	// Kube reads the kube-apiserver's /metrics and the execution's pods.
	Kube kubernetes.Interface
	// HTTP is the client for the controller (default: 30 s timeout).
	HTTP *http.Client
	// SettleTimeout bounds the wait for the controller to finish an
	// execution's spans (default 10 s).
	SettleTimeout time.Duration
	// Profile captures the controller's CPU profile over each execution
	// and its allocation profile before and after (run --profile).
	Profile bool
}

var _ portfolio.Hooks = (*Collector)(nil)

// defaultHTTP bounds every request to a controller or its metrics.
var defaultHTTP = &http.Client{Timeout: 30 * time.Second}

func (c *Collector) client() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return defaultHTTP
}

// Before scrapes metrics before the Workflow is created.
func (c *Collector) Before(ctx context.Context, e *portfolio.Execution) error {
	if err := c.scrape(ctx, e.Dir, rundir.ArtifactMetricsBefore, rundir.ArtifactAPIServerBefore); err != nil {
		return err
	}
	if !c.Profile {
		return nil
	}
	if err := c.saveProfile(ctx, e, http.MethodGet, telemetry.PathPprof+"allocs", rundir.ArtifactAllocsBefore); err != nil {
		return err
	}
	return c.startCPUProfile(ctx)
}

// startCPUProfile starts the execution's CPU profile; one left running by
// an interrupted execution is stopped and discarded first.
func (c *Collector) startCPUProfile(ctx context.Context) error {
	for try := 0; ; try++ {
		code, body, err := c.do(ctx, http.MethodPost, telemetry.PathCPUProfile)
		switch {
		case err != nil:
			return fmt.Errorf("start CPU profile: %w", err)
		case code == http.StatusNoContent:
			return nil
		case code == http.StatusConflict && try == 0:
			if _, _, err := c.do(ctx, http.MethodDelete, telemetry.PathCPUProfile); err != nil {
				return fmt.Errorf("stop a stale CPU profile: %w", err)
			}
		case code == http.StatusNotFound || code == http.StatusMethodNotAllowed:
			return fmt.Errorf("start CPU profile: the controller serves no %s (it predates run --profile)", telemetry.PathCPUProfile)
		default:
			return fmt.Errorf("start CPU profile: %d %s", code, body)
		}
	}
}

// saveProfile requests a profile and stores it as it comes (gzipped).
func (c *Collector) saveProfile(ctx context.Context, e *portfolio.Execution, method, path, artifact string) error {
	code, body, err := c.do(ctx, method, path)
	if err == nil && code != http.StatusOK {
		err = fmt.Errorf("%d %s", code, body)
	}
	if err != nil {
		return fmt.Errorf("profile %s %s: %w", method, path, err)
	}
	if err := e.Dir.WriteRawArtifact(artifact, body); err != nil {
		return fmt.Errorf("write %s: %w", artifact, err)
	}
	return nil
}

// do makes one request to the controller and reads the answer.
func (c *Collector) do(ctx context.Context, method, path string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.Endpoint+path, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := c.client().Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

// After waits until the controller has finished the execution's spans,
// scrapes metrics, then fetches spans and pods. Spans are fetched after
// the scrape, so every operation the scrape counted has its span.
func (c *Collector) After(ctx context.Context, e *portfolio.Execution) error {
	quiet := c.settle(ctx, e)
	if c.Profile {
		if err := c.saveProfile(ctx, e, http.MethodDelete, telemetry.PathCPUProfile, rundir.ArtifactCPUProfile); err != nil {
			return err
		}
		if err := c.saveProfile(ctx, e, http.MethodGet, telemetry.PathPprof+"allocs", rundir.ArtifactAllocsAfter); err != nil {
			return err
		}
	}
	if err := c.scrape(ctx, e.Dir, rundir.ArtifactMetricsAfter, rundir.ArtifactAPIServerAfter); err != nil {
		return err
	}
	body, dropped, err := c.spans(ctx, e.ExecutionID)
	if err != nil {
		return err
	}
	if err := e.Dir.WriteArtifact(rundir.ArtifactSpans, body); err != nil {
		return fmt.Errorf("write spans: %w", err)
	}
	meta, _ := json.Marshal(aggregate.SpansMeta{Dropped: dropped, Quiescent: quiet})
	if err := e.Dir.WriteArtifact(rundir.ArtifactSpansMeta, meta); err != nil {
		return fmt.Errorf("write spans meta: %w", err)
	}
	if c.Kube != nil {
		pods, err := c.Kube.CoreV1().Pods(e.Namespace).List(ctx, metav1.ListOptions{LabelSelector: v1alpha1.LabelExecution + "=" + e.ExecutionID})
		if err != nil {
			return fmt.Errorf("list pods of %s: %w", e.ExecutionID, err)
		}
		for i := range pods.Items {
			pods.Items[i].ManagedFields = nil // server bookkeeping, half of each pod
		}
		b, err := json.Marshal(pods)
		if err != nil {
			return err
		}
		if err := e.Dir.WriteArtifact(rundir.ArtifactPods, b); err != nil {
			return fmt.Errorf("write pods: %w", err)
		}
	}
	if c.AdminEndpoint != "" {
		// The execution ran either way: a service that cannot answer now
		// leaves no admin artifact, which aggregation reports (and the
		// controller's dropped-event count says what it lost).
		if err := c.admin(ctx, e); err != nil {
			slog.WarnContext(ctx, "no admin events collected", "execution", e.ExecutionID, "err", err)
		}
	}
	// Free the controller's memory: the spans are on disk now.
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, c.spansURL(e.ExecutionID), nil)
	if err == nil {
		if resp, err := c.client().Do(req); err == nil {
			resp.Body.Close()
		}
	}
	return nil
}

// settle waits until the spans show the workflow's terminal update inside
// a finished work item and their number stops changing.
func (c *Collector) settle(ctx context.Context, e *portfolio.Execution) bool {
	timeout := c.SettleTimeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	deadline := time.Now().Add(timeout)
	last := -1
	for time.Now().Before(deadline) {
		body, _, err := c.spans(ctx, e.ExecutionID)
		if err == nil {
			if spans, err := aggregate.DecodeOTLPProto(body); err == nil {
				if terminalHandled(spans) && len(spans) == last {
					return true
				}
				last = len(spans)
			}
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(50 * time.Millisecond):
		}
	}
	return false
}

// terminalHandled reports whether a successful update persisted a
// terminal workflow phase and the work item holding it has ended.
func terminalHandled(spans []*aggregate.Span) bool {
	byID := map[string]*aggregate.Span{}
	for _, s := range spans {
		byID[s.ID] = s
	}
	for _, s := range spans {
		if s.Name != telemetry.SpanWorkflowUpdate || s.Str(telemetry.AttrUpdateResult) != telemetry.UpdateOK {
			continue
		}
		if !v1alpha1.WorkflowPhase(s.Str(telemetry.AttrWorkflowPhase)).IsTerminal() {
			continue
		}
		for p := byID[s.ParentID]; p != nil; p = byID[p.ParentID] {
			if p.Name == telemetry.SpanStreak {
				return true
			}
		}
	}
	return false
}

func (c *Collector) spansURL(id string) string {
	return c.Endpoint + telemetry.PathSpans + "?execution=" + url.QueryEscape(id)
}

func (c *Collector) spans(ctx context.Context, id string) ([]byte, int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.spansURL(id), nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Accept", telemetry.ContentTypeProtobuf)
	resp, err := c.client().Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("fetch spans of %s: %w", id, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, 0, fmt.Errorf("fetch spans of %s: %w", id, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("fetch spans of %s: %s: %s", id, resp.Status, body)
	}
	dropped, _ := strconv.ParseInt(resp.Header.Get(telemetry.HeaderSpansDropped), 10, 64)
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), telemetry.ContentTypeProtobuf) {
		// A controller built before protobuf was offered (an old ref in
		// a branch comparison) answers in JSON.
		if body, err = aggregate.OTLPProto(body); err != nil {
			return nil, 0, fmt.Errorf("spans of %s: %w", id, err)
		}
	}
	return body, dropped, nil
}

// scrape saves the controller's and the kube-apiserver's metrics.
func (c *Collector) scrape(ctx context.Context, dir *rundir.Execution, controllerFile, apiserverFile string) error {
	body, err := get(ctx, c.client(), c.Endpoint+telemetry.PathMetrics)
	if err != nil {
		return fmt.Errorf("scrape controller metrics: %w", err)
	}
	if err := dir.WriteArtifact(controllerFile, body); err != nil {
		return fmt.Errorf("write metrics: %w", err)
	}
	if c.Kube == nil {
		return nil
	}
	api, err := c.Kube.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return fmt.Errorf("scrape kube-apiserver metrics: %w", err)
	}
	if err := dir.WriteArtifact(apiserverFile, api); err != nil {
		return fmt.Errorf("write apiserver metrics: %w", err)
	}
	return nil
}

// admin saves what the admin service persisted for the execution and the
// execution metrics it derives from those events. Events are recorded
// synchronously, so once the controller's spans have settled every event
// the execution produced has been answered.
func (c *Collector) admin(ctx context.Context, e *portfolio.Execution) error {
	id := url.PathEscape(e.ExecutionID)
	for _, a := range []struct{ path, artifact string }{
		{"/api/v1/executions/" + id + "/events", rundir.ArtifactAdminEvents},
		{"/api/v1/executions/" + id + "/metrics", rundir.ArtifactAdminMetrics},
	} {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.AdminEndpoint+a.path, nil)
		if err != nil {
			return err
		}
		resp, err := c.client().Do(req)
		if err != nil {
			return fmt.Errorf("admin service: %w", err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case err != nil:
			return fmt.Errorf("admin service: GET %s: %w", a.path, err)
		case resp.StatusCode == http.StatusNotFound:
			// No event reached the service; aggregation says so.
			continue
		case resp.StatusCode != http.StatusOK:
			return fmt.Errorf("admin service: GET %s: %s: %s", a.path, resp.Status, body)
		}
		if err := e.Dir.WriteArtifact(a.artifact, body); err != nil {
			return fmt.Errorf("write %s: %w", a.artifact, err)
		}
	}
	return nil
}
