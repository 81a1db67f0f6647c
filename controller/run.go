package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/google/uuid"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"

	"github.com/benchctl/benchctl/controller/blobstore"
	"github.com/benchctl/benchctl/controller/catalog"
	"github.com/benchctl/benchctl/controller/config"
	"github.com/benchctl/benchctl/controller/engine"
	"github.com/benchctl/benchctl/controller/events"
	"github.com/benchctl/benchctl/controller/obs"
)

// Version and Commit identify the build; set with -ldflags -X.
var (
	Version = "dev"
	Commit  = ""
)

// VersionInfo is what GET /v1/version serves.
type VersionInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit,omitempty"`
	GoVersion string `json:"goVersion"`
}

// Controller is one bundled-controller process: the engine for one
// namespace plus its HTTP server, telemetry and data plane.
type Controller struct {
	cfg      config.Config
	ns       string
	kube     kubernetes.Interface
	engine   *engine.Engine
	server   *obs.Server
	tracing  *obs.Tracing
	metrics  *obs.Metrics
	blobs    *blobstore.Store
	recorder *events.Recorder
}

// Run runs the controller until ctx is done.
func Run(ctx context.Context, cfg config.Config, restConfig *rest.Config, namespace string) error {
	c, err := New(ctx, cfg, restConfig, namespace)
	if err != nil {
		return err
	}
	return c.Run(ctx)
}

// New builds a controller and binds its HTTP address; Run starts it.
func New(ctx context.Context, cfg config.Config, restConfig *rest.Config, namespace string) (*Controller, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if namespace == "" {
		return nil, errors.New("namespace is required")
	}
	cfgYAML, err := cfg.YAML()
	if err != nil {
		return nil, err
	}
	c := &Controller{cfg: cfg, ns: namespace, metrics: obs.NewMetrics()}
	c.tracing, err = obs.NewTracing(ctx, obs.TracingOptions{
		ServiceName: cfg.Telemetry.ServiceName, ServiceVersion: Version,
		OTLPEndpoint: cfg.Telemetry.OTLPEndpoint, StoreSize: cfg.Telemetry.SpanStoreSize, Metrics: c.metrics,
		Disabled: cfg.Telemetry.DisableTracing,
	})
	if err != nil {
		return nil, err
	}
	tel := obs.NewTelemetry(c.tracing.Provider, c.metrics)

	write, watchCfg := engine.ClientConfigs(restConfig, cfg.KubeClient.QPS, cfg.KubeClient.Burst, cfg.KubeClient.Timeout.D(), "benchflow/"+Version)

	if c.kube, err = kubernetes.NewForConfig(write); err != nil {
		return nil, fmt.Errorf("kube client: %w", err)
	}
	watchKube, err := kubernetes.NewForConfig(watchCfg)
	if err != nil {
		return nil, fmt.Errorf("kube client: %w", err)
	}
	wfc, err := engine.NewWorkflowClient(write, namespace)
	if err != nil {
		return nil, err
	}
	wfWatch, err := engine.NewWorkflowClient(watchCfg, namespace)
	if err != nil {
		return nil, err
	}

	if c.blobs, err = blobstore.Open(ctx, cfg.Blobstore.URL, int64(cfg.Blobstore.CacheSizeBytes), tel); err != nil {
		return nil, err
	}
	var sink events.Sink
	switch cfg.Events.Sink {
	case config.EventSinkAdmin:
		a := cfg.Events.Admin
		sink = events.NewAdminSink(a.URL, time.Duration(a.Timeout), a.Retries, time.Duration(a.Backoff))
	case config.EventSinkKube:
		host, _ := os.Hostname()
		sink = events.NewKubeSink(c.kube, host)
	case config.EventSinkFile:
		if sink, err = events.NewFileSink(cfg.Events.File); err != nil {
			return nil, err
		}
	case config.EventSinkLog:
		sink = events.LogSink{Logger: slog.Default()}
	default:
		sink = events.NoneSink{}
	}
	c.recorder = events.NewRecorder(sink, cfg.Events.QPS, cfg.Events.Burst, tel)

	c.engine, err = engine.New(engine.Options{
		Config: cfg, Namespace: namespace, Kube: c.kube, InformerKube: watchKube,
		Workflows: wfc, WorkflowWatch: wfWatch, Blobs: c.blobs, Catalog: catalog.New(c.blobs, tel),
		Events: c.recorder, Telemetry: tel,
	})
	if err != nil {
		return nil, err
	}
	c.server, err = obs.Listen(obs.ServerOptions{
		Address: cfg.HTTP.Address, Metrics: c.metrics, Tracing: c.tracing, Config: cfgYAML,
		Version: VersionInfo{Version: Version, Commit: Commit, GoVersion: runtime.Version()},
		Ready:   c.engine.Ready, Inflight: tel.Inflight,
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Addr is the HTTP server's bound address.
func (c *Controller) Addr() string { return c.server.Addr() }

// Run serves HTTP and runs the engine (as leader, if leader election is
// on) until ctx is done, then flushes spans and closes the blobstore.
func (c *Controller) Run(ctx context.Context) error {
	slog.Info("benchflow starting", "version", Version, "namespace", c.ns, "http", c.Addr())
	sctx, stopServer := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	var serveErr error
	wg.Go(func() { serveErr = c.server.Serve(sctx) })

	var runErr error
	if c.cfg.LeaderElection.Enabled {
		runErr = c.runElected(ctx)
	} else {
		runErr = c.engine.Run(ctx)
	}

	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	errs := []error{runErr}
	errs = append(errs, c.tracing.Shutdown(shutdownCtx), c.recorder.Close(), c.blobs.Close())
	stopServer()
	wg.Wait()
	errs = append(errs, serveErr)
	return errors.Join(errs...)
}

// runElected runs the engine while this process holds the lease.
func (c *Controller) runElected(ctx context.Context) error {
	host, _ := os.Hostname()
	le := c.cfg.LeaderElection
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: c.ns, Name: le.LeaseName},
		Client:     c.kube.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: host + "_" + uuid.NewString()},
	}
	// The engine runs here, not in the callback: client-go starts
	// OnStartedLeading in a goroutine it does not wait for.
	leading := make(chan context.Context, 1)
	elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock: lock, ReleaseOnCancel: true, Name: "benchflow",
		LeaseDuration: le.LeaseDuration.D(), RenewDeadline: le.RenewDeadline.D(), RetryPeriod: le.RetryPeriod.D(),
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(lctx context.Context) { leading <- lctx },
			OnStoppedLeading: func() {},
		},
	})
	if err != nil {
		return fmt.Errorf("leader election: %w", err)
	}
	electorDone := make(chan struct{})
	go func() {
		defer close(electorDone)
		elector.Run(ctx) // returns when ctx is done or the lease is lost
	}()
	select {
	case lctx := <-leading:
		runErr := c.engine.Run(lctx) // lctx ends with the lease
		<-electorDone
		if ctx.Err() == nil {
			return errors.Join(runErr, errors.New("lost the leader lease"))
		}
		return runErr
	case <-electorDone:
		return nil // never led before ctx ended
	}
}
