package bench

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/benchctl/benchctl/controller/config"
	"github.com/benchctl/benchctl/deploy"
	"github.com/benchctl/benchctl/portfolio"
	"github.com/benchctl/benchctl/provision"
	"github.com/benchctl/benchctl/provision/calibrate"
	"github.com/benchctl/benchctl/reports"

	"go.yaml.in/yaml/v3"
)

// Calibration modes of a run (run --calibration).
const (
	// CalibrateCached uses the cluster's cached floor when it was measured
	// for the same portfolio and client settings, else measures it.
	CalibrateCached = "cached"
	// CalibrateFresh always measures.
	CalibrateFresh = "fresh"
	// CalibrateOff leaves the floor out of the reports.
	CalibrateOff = "off"
)

// CalibrationModes lists the modes for help and validation.
var CalibrationModes = []string{CalibrateCached, CalibrateFresh, CalibrateOff}

// Calibrator measures (or recalls) a cluster's floor.
type Calibrator interface {
	Floor(ctx context.Context, r CalibrationRequest) (*reports.Floor, bool, error)
}

// CalibrationRequest says what to calibrate and with which settings.
type CalibrationRequest struct {
	Cluster *provision.Cluster
	// Compiled gives the small and large Workflows (its fewest-node
	// workflow and its longest chain).
	Compiled *portfolio.Compiled
	// Client is the controller's kubeClient setting.
	Client calibrate.Client
	// Samples per operation (0: calibrate.DefaultSamples).
	Samples int
	// Fresh ignores the cache.
	Fresh    bool
	Progress io.Writer
}

// CalibrationFile is the cached floor in a cluster's state directory.
const CalibrationFile = "calibration.yaml"

// LiveCalibrator calibrates real clusters, caching the floor in each
// cluster's state directory.
type LiveCalibrator struct{}

// cachedFloor is the cache file: the floor and what it was measured for.
type cachedFloor struct {
	Key   string         `yaml:"key"`
	Floor *reports.Floor `yaml:"floor"`
}

// Floor returns the cluster's floor and whether it came from the cache.
func (LiveCalibrator) Floor(ctx context.Context, r CalibrationRequest) (*reports.Floor, bool, error) {
	o, err := CalibrationOptions(r)
	if err != nil {
		return nil, false, err
	}
	key, err := cacheKey(r, o)
	if err != nil {
		return nil, false, err
	}
	path := ""
	if r.Cluster.Dir != "" {
		path = filepath.Join(r.Cluster.Dir, CalibrationFile)
	}
	if path != "" && !r.Fresh {
		if f := readCache(path, key); f != nil {
			return f, true, nil
		}
	}
	rc, err := r.Cluster.RESTConfig()
	if err != nil {
		return nil, false, fmt.Errorf("calibrate cluster %s: %w", r.Cluster.Name, err)
	}
	f, err := calibrate.Run(ctx, rc, o)
	if err != nil {
		return nil, false, err
	}
	if path != "" {
		var err error
		if err = f.Validate(); err == nil {
			var b []byte
			if b, err = yaml.Marshal(cachedFloor{Key: key, Floor: f}); err == nil {
				err = reports.WriteFile(path, b)
			}
		}
		if err != nil {
			return f, false, fmt.Errorf("cache the floor of cluster %s: %w", r.Cluster.Name, err)
		}
	}
	return f, false, nil
}

// readCache is the cached floor when its key matches; a missing, stale or
// unreadable cache is simply measured again.
func readCache(path, key string) *reports.Floor {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var c cachedFloor
	if yaml.Unmarshal(b, &c) != nil || c.Key != key || c.Floor == nil || c.Floor.Validate() != nil {
		return nil
	}
	return c.Floor
}

// cacheKey covers what changes a floor: the cluster's identity (a
// re-created cluster of the same name is another cluster), the Workflows,
// the client settings and the sample count.
func cacheKey(r CalibrationRequest, o calibrate.Options) (string, error) {
	tpl, err := json.Marshal([]any{o.Small.Template, o.Large.Template})
	if err != nil {
		return "", fmt.Errorf("calibration key: %w", err)
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00%d\x00%s\x00", r.Cluster.Name, r.Cluster.CreatedAt.UTC().Format(time.RFC3339Nano),
		o.Client, o.Client.Timeout, o.Samples, o.PodImage)
	h.Write(tpl)
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// SimulatedPodImage is the pod image on clusters of KWOK nodes, where no
// image is pulled.
const SimulatedPodImage = "benchctl.dev/calibrate:simulated"

// CalibrationOptions picks the Workflows from the compiled portfolio and
// the pods for the cluster.
func CalibrationOptions(r CalibrationRequest) (calibrate.Options, error) {
	if r.Compiled == nil || len(r.Compiled.Workflows) == 0 {
		return calibrate.Options{}, errors.New("calibrate: no portfolio workflows to size the Workflow objects")
	}
	var small, large *portfolio.Workflow
	for _, w := range r.Compiled.Workflows {
		if small == nil || w.Counts.Nodes < small.Counts.Nodes {
			small = w
		}
		// The longest chain: the most serial steps, then the most nodes.
		if large == nil || w.Counts.Depth > large.Counts.Depth ||
			(w.Counts.Depth == large.Counts.Depth && w.Counts.Nodes > large.Counts.Nodes) {
			large = w
		}
	}
	workload := func(w *portfolio.Workflow) calibrate.Workload {
		return calibrate.Workload{Name: fmt.Sprintf("%s (%d nodes)", w.Name, w.Counts.Nodes), Template: w.Template}
	}
	o := calibrate.Options{
		Small: workload(small), Large: workload(large), Samples: r.Samples, Client: r.Client,
		PodImage: SimulatedPodImage, Progress: r.Progress,
	}
	if c := r.Cluster; c.Provider == provision.ProviderLocal {
		if port := c.Ports["etcd-client"]; port > 0 {
			o.EtcdMetricsURL = fmt.Sprintf("http://127.0.0.1:%d/metrics", port)
		}
	}
	if !r.Cluster.ControllerOnHost() {
		// A real kubelet runs the pod: benchtask exits at once.
		o.PodImage = config.Defaults().TaskPod.Image
		o.PodArgs = []string{"--duration=0s", "--no-outputs", "--termination-log=/dev/termination-log"}
	}
	return o, nil
}

// ClientOf is the kubeClient setting of a deployment's effective config
// (the controller's defaults when it cannot be read).
func ClientOf(d *deploy.Deployment) calibrate.Client {
	cfg := config.Defaults()
	if d != nil && strings.TrimSpace(d.EffectiveConfig) != "" {
		if c, err := config.Parse("effective config of "+d.Name, []byte(d.EffectiveConfig)); err == nil {
			cfg = c
		}
	}
	return calibrate.Client{QPS: cfg.KubeClient.QPS, Burst: cfg.KubeClient.Burst, Timeout: cfg.KubeClient.Timeout.D()}
}

// floor calibrates the cluster for a new run, unless off. A calibration
// that fails costs the reports their floor, never the run: the failure is
// printed and the run goes on.
func (b *Benchmark) floor(ctx context.Context, c *provision.Cluster, compiled *portfolio.Compiled, first *deploy.Deployment) *reports.Floor {
	if b.Calibrator == nil || b.Calibration == CalibrateOff {
		return nil
	}
	f, cached, err := b.Calibrator.Floor(ctx, CalibrationRequest{
		Cluster: c, Compiled: compiled, Client: ClientOf(first), Fresh: b.Calibration == CalibrateFresh, Progress: b.Progress,
	})
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return nil
		}
		fmt.Fprintf(b.Progress, "calibration failed, the reports will carry no floor: %v\n", err)
		if f == nil {
			return nil
		}
	}
	how := "measured"
	if cached {
		how = "cached, from " + f.Measured.Format(time.RFC3339) + "; --calibration fresh measures again"
	}
	fmt.Fprintf(b.Progress, "%s (%s)\n", reports.FloorLine(f), how)
	return f
}

// Calibrate is 'benchctl calibrate': it always measures the floor of an
// existing cluster, and caches it for the runs that follow.
type Calibrate struct {
	Cluster   ClusterRequest
	Portfolio PortfolioSpec
	Samples   int
	Client    calibrate.Client
	Progress  io.Writer

	Clusters   Clusters
	Calibrator Calibrator
}

// Run measures the floor.
func (a *Calibrate) Run(ctx context.Context) (*reports.Floor, error) {
	if a.Progress == nil {
		a.Progress = io.Discard
	}
	if a.Samples != 0 && a.Samples < calibrate.MinSamples {
		return nil, inputErrorf("--samples %d: want at least %d, enough for the interval of a median", a.Samples, calibrate.MinSamples)
	}
	compiled, err := a.Portfolio.Compile()
	if err != nil {
		return nil, err
	}
	req := a.Cluster
	req.NoCreate = true
	c, _, err := a.Clusters.Ensure(ctx, req)
	if err != nil {
		return nil, err
	}
	f, _, err := a.Calibrator.Floor(ctx, CalibrationRequest{
		Cluster: c, Compiled: compiled, Client: a.Client, Samples: a.Samples, Fresh: true, Progress: a.Progress,
	})
	if err != nil && isMissingCRD(err) {
		return nil, fmt.Errorf("%w; the cluster serves no Workflow CRD yet: deploy a config first ('benchctl deploy --cluster %s')", err, c.Name)
	}
	return f, err
}

// isMissingCRD says whether err is the API server not knowing Workflows.
func isMissingCRD(err error) bool {
	return apierrors.IsNotFound(err) || strings.Contains(err.Error(), "the server could not find the requested resource")
}
