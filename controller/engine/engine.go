// Package engine is the bundled controller's evaluation loop, after
// FlytePropeller: a rate-limited work queue of Workflow keys fed by
// informers, a pool of workers, and per work item a streak of evaluation
// rounds on an in-memory copy, each round that changed something ending in
// one update of the Workflow object (spec and status together: there is no
// status subresource).
//
// Rounds. A round first observes every running node (pods, children, at
// every nesting depth), then evaluates every unblocked node in
// breadth-first order, recursing into running sub-DAGs, until the
// execution's maxParallelism is used up. Each node takes at most one step
// of its own per round (launch, observe completion, retry). With
// greedyRounds (the default) a success unblocks its downstream nodes in
// the same pass, so the round's one update persists both and a serial
// chain costs one update per node; a launch then precedes the update that
// persists its upstream's success (the node's "ready" instant). Without
// it, only successes persisted before the round unblock nodes, and no
// launch precedes its ready instant.
//
// Streaks. A work item runs up to maxStreakLength rounds back to back; it
// stops at the first round that changed nothing. With maxStreakLength 1 the
// next round waits for the informer to deliver the controller's own write
// (every Workflow add or update event enqueues the workflow, as in
// FlytePropeller).
//
// Pod changes. A task pod that reaches Succeeded or Failed (or disappears)
// enqueues its workflow after downstreamEvalDuration. Every running workflow
// is re-evaluated workflowReevalDuration after it was last handled.
package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/benchctl/benchctl/controller/api/telemetry"
	"github.com/benchctl/benchctl/controller/api/v1alpha1"
	"github.com/benchctl/benchctl/controller/blobstore"
	"github.com/benchctl/benchctl/controller/catalog"
	"github.com/benchctl/benchctl/controller/config"
	"github.com/benchctl/benchctl/controller/events"
	"github.com/benchctl/benchctl/controller/obs"
)

// Options are the engine's collaborators.
type Options struct {
	Config    config.Config
	Namespace string
	// Kube creates pods and deletes them on abort.
	Kube kubernetes.Interface
	// InformerKube lists and watches pods; defaults to Kube. Separate so
	// that watches are not cut by the write client's request timeout.
	InformerKube kubernetes.Interface
	// Workflows updates Workflow objects.
	Workflows WorkflowClient
	// WorkflowWatch lists and watches Workflows; defaults to Workflows.
	WorkflowWatch cache.ListerWatcher
	Blobs         *blobstore.Store
	Catalog       *catalog.Catalog
	Events        *events.Recorder
	Telemetry     *obs.Telemetry
}

// Engine evaluates the Workflows of one namespace.
type Engine struct {
	cfg    config.Config
	ns     string
	kube   kubernetes.Interface
	wfc    WorkflowClient
	blobs  *blobstore.Store
	cat    *catalog.Catalog
	events *events.Recorder
	tel    *obs.Telemetry

	wfInformer  cache.SharedIndexInformer
	podFactory  informers.SharedInformerFactory
	podInformer cache.SharedIndexInformer
	pods        corelisters.PodLister
	queue       workqueue.TypedRateLimitingInterface[string]
	store       *store

	plans    sync.Map // workflow UID -> *plan (the spec is immutable once running)
	launcher *launcher
	// inputHashes caches node input hashes by "<dataDir>/<node>"; after a
	// restart they are recomputed from the inputs documents.
	inputHashes sync.Map
	sims        simWrites
	// podEnds holds when the pod informer delivered each pod's end (pod
	// name -> unix ns), until a round consumes it (podEndSeen).
	podEnds sync.Map
	// simSem bounds concurrent simulated output writes.
	simSem chan struct{}

	ready atomic.Bool
}

// New builds an engine; Run starts it.
func New(o Options) (*Engine, error) {
	if o.InformerKube == nil {
		o.InformerKube = o.Kube
	}
	if o.WorkflowWatch == nil {
		o.WorkflowWatch = o.Workflows
	}
	e := &Engine{
		cfg: o.Config, ns: o.Namespace, kube: o.Kube, wfc: o.Workflows,
		blobs: o.Blobs, cat: o.Catalog, events: o.Events, tel: o.Telemetry,
		simSem:   make(chan struct{}, 64),
		launcher: newLauncher(o.Config.LaunchPlans),
	}
	e.sims.m = map[string]*simWrite{}
	q := o.Config.Queue
	e.queue = workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.NewTypedMaxOfRateLimiter(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](q.BaseDelay.D(), q.MaxDelay.D()),
			&workqueue.TypedBucketRateLimiter[string]{Limiter: rate.NewLimiter(rate.Limit(q.QPS), q.Burst)},
		),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "workflows", MetricsProvider: queueMetrics{o.Telemetry.Metrics}},
	)

	e.wfInformer = cache.NewSharedIndexInformer(o.WorkflowWatch, &v1alpha1.Workflow{}, 0, cache.Indexers{})
	if err := e.wfInformer.SetTransform(dropManagedFields); err != nil {
		return nil, fmt.Errorf("workflow informer: %w", err)
	}
	e.store = newStore(o.Config.WorkflowStore, e.wfInformer.GetIndexer(), o.Workflows)
	if _, err := e.wfInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { e.enqueue(obj) },
		UpdateFunc: func(old, obj any) {
			e.enqueue(obj)
			e.childUpdated(old, obj)
		},
		DeleteFunc: e.workflowDeleted,
	}); err != nil {
		return nil, fmt.Errorf("workflow informer: %w", err)
	}

	e.podFactory = informers.NewSharedInformerFactoryWithOptions(o.InformerKube, 0,
		informers.WithNamespace(o.Namespace),
		informers.WithTweakListOptions(func(lo *metav1.ListOptions) { lo.LabelSelector = v1alpha1.LabelManaged + "=true" }),
		informers.WithTransform(dropManagedFields))
	podInf := e.podFactory.Core().V1().Pods()
	e.podInformer = podInf.Informer()
	e.pods = podInf.Lister()
	if _, err := e.podInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: e.podUpdated,
		DeleteFunc: e.podDeleted,
	}); err != nil {
		return nil, fmt.Errorf("pod informer: %w", err)
	}
	return e, nil
}

func dropManagedFields(obj any) (any, error) {
	if m, ok := obj.(metav1.Object); ok {
		m.SetManagedFields(nil)
	}
	return obj, nil
}

// Ready reports nil once the informers have synced.
func (e *Engine) Ready() error {
	if !e.ready.Load() {
		return errors.New("informers not synced")
	}
	return nil
}

// Run starts the informers and the workers and blocks until ctx is done.
func (e *Engine) Run(ctx context.Context) error {
	defer e.queue.ShutDown()
	go e.wfInformer.RunWithContext(ctx)
	e.podFactory.Start(ctx.Done())
	defer e.podFactory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), e.wfInformer.HasSynced, e.podInformer.HasSynced) {
		return fmt.Errorf("informers of namespace %s did not sync: %w", e.ns, context.Cause(ctx))
	}
	e.ready.Store(true)
	slog.Info("engine running", "namespace", e.ns, "workers", e.cfg.Workers, "maxStreakLength", e.cfg.MaxStreakLength,
		"workflowStore", e.cfg.WorkflowStore)

	var wg sync.WaitGroup
	e.tel.Metrics.WorkersFree.Set(float64(e.cfg.Workers))
	for range e.cfg.Workers {
		wg.Go(func() {
			for e.processNext(ctx) {
			}
		})
	}
	<-ctx.Done()
	e.queue.ShutDown()
	wg.Wait()
	e.sims.wait()
	return nil
}

func (e *Engine) enqueue(obj any) {
	key, err := cache.MetaNamespaceKeyFunc(obj)
	if err != nil {
		slog.Warn("enqueue workflow", "err", err)
		return
	}
	e.queue.Add(key)
}

func (e *Engine) workflowDeleted(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		return
	}
	e.store.Forget(key)
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	if wf, ok := obj.(*v1alpha1.Workflow); ok {
		e.plans.Delete(wf.UID)
		// A running parent learns that its child is gone.
		if parent := parentOf(wf); parent != "" {
			e.queue.Add(wf.Namespace + "/" + parent)
		}
	}
}

// podUpdated enqueues the pod's workflow when the pod ends; the other
// transitions change nothing the controller acts on.
func (e *Engine) podUpdated(oldObj, newObj any) {
	oldPod, ok1 := oldObj.(*corev1.Pod)
	pod, ok2 := newObj.(*corev1.Pod)
	if !ok1 || !ok2 || oldPod.Status.Phase == pod.Status.Phase {
		return
	}
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		e.podEnds.Store(pod.Name, time.Now().UnixNano())
		e.enqueuePodOwner(pod)
	}
}

// podEndSeen sets, on the span of the round step that observed pod's end,
// when the informer delivered that end, and forgets it.
func (e *Engine) podEndSeen(span trace.Span, pod string) {
	if at, ok := e.podEnds.LoadAndDelete(pod); ok {
		span.SetAttributes(attribute.Int64(telemetry.AttrPodEndSeen, at.(int64)))
	}
}

func (e *Engine) podDeleted(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	if pod, ok := obj.(*corev1.Pod); ok {
		e.podEnds.Delete(pod.Name)
		e.enqueuePodOwner(pod)
	}
}

func (e *Engine) enqueuePodOwner(pod *corev1.Pod) {
	wf := pod.Labels[v1alpha1.LabelWorkflow]
	if wf == "" {
		return
	}
	key := pod.Namespace + "/" + wf
	if d := e.cfg.DownstreamEvalDuration.D(); d > 0 {
		e.queue.AddAfter(key, d)
	} else {
		e.queue.Add(key)
	}
}

func (e *Engine) processNext(ctx context.Context) bool {
	key, shutdown := e.queue.Get()
	if shutdown {
		return false
	}
	e.tel.Metrics.WorkersFree.Dec()
	defer func() {
		e.tel.Metrics.WorkersFree.Inc()
		e.queue.Done(key)
	}()
	switch res, after, err := e.handle(ctx, key); {
	case ctx.Err() != nil:
		// Shutting down: the item is lost with the queue; a restarted
		// controller lists every workflow again.
	case errors.Is(err, errConflict):
		// Expected under PassThrough and InMemory: retried with back-off.
		slog.Debug("handle workflow", "workflow", key, "err", err)
		e.queue.AddRateLimited(key)
	case err != nil:
		slog.Warn("handle workflow", "workflow", key, "err", err)
		e.queue.AddRateLimited(key)
	default:
		e.queue.Forget(key)
		if res == resultRunning {
			d := e.cfg.WorkflowReevalDuration.D()
			if after > 0 && after < d {
				d = after
			}
			e.queue.AddAfter(key, d)
		}
	}
	return true
}

type handleResult int

const (
	resultDone    handleResult = iota // terminal, deleted, or stale (an informer event will follow)
	resultRunning                     // re-evaluate after workflowReevalDuration
)

// errConflict marks a write rejected for a stale resourceVersion.
var errConflict = errors.New("workflow update conflict")

// handle runs one streak on the workflow under key. A running workflow is
// re-evaluated after the returned delay if positive (a launch held back by
// a rate limit), else after workflowReevalDuration.
func (e *Engine) handle(ctx context.Context, key string) (handleResult, time.Duration, error) {
	wf, err := e.store.Get(key)
	if errors.Is(err, errStale) {
		// ResourceVersionCache: the informer event of our own newer write
		// is on its way and will enqueue the workflow again.
		return resultRunning, 0, nil
	}
	if err != nil || wf == nil {
		return resultDone, 0, err
	}
	if wf.Status.Phase.IsTerminal() {
		e.plans.Delete(wf.UID)
		return resultDone, 0, nil
	}
	if why := wf.Annotations[AnnotationDecodeError]; why != "" {
		return resultDone, 0, e.failUndecodable(ctx, wf, why)
	}
	exec := executionID(wf)
	ctx = obs.WithExecution(ctx, exec)
	defer e.tel.Inflight.Begin(exec)() // after span.End below
	ctx, span := e.tel.Start(ctx, telemetry.SpanStreak,
		attribute.String(telemetry.AttrWorkflow, wf.Name), attribute.String(telemetry.AttrNamespace, wf.Namespace))
	rounds := 0
	defer func() {
		span.SetAttributes(attribute.Int("rounds", rounds))
		e.tel.Metrics.StreakLength.Observe(float64(rounds))
		span.End()
	}()
	var after time.Duration
	for rounds < e.cfg.MaxStreakLength {
		next, changed, requeue, err := e.round(ctx, wf, rounds)
		rounds++
		if requeue > 0 {
			after = requeue
		}
		switch {
		case errors.Is(err, errConflict) && e.cfg.WorkflowStore == config.StoreResourceVersionCache,
			errors.Is(err, errStale):
			// Do not retry a write known to be stale: the newer version's
			// informer event enqueues the workflow (and the periodic
			// re-evaluation stays as a safety net).
			return resultRunning, after, nil
		case err != nil:
			obs.End(span, err)
			return resultDone, 0, err
		case !changed:
			return resultRunning, after, nil
		}
		wf = next
		if wf.Status.Phase.IsTerminal() {
			return resultDone, 0, nil
		}
	}
	return resultRunning, after, nil
}

// round evaluates the workflow once and, if anything changed, writes it.
// It returns the object as stored.
func (e *Engine) round(ctx context.Context, wf *v1alpha1.Workflow, idx int) (*v1alpha1.Workflow, bool, time.Duration, error) {
	start := time.Now()
	ctx, span := e.tel.Start(ctx, telemetry.SpanRound,
		attribute.Int(telemetry.AttrRound, idx), attribute.String(telemetry.AttrWorkflow, wf.Name))
	defer func() {
		e.tel.Metrics.Rounds.Inc()
		e.tel.Metrics.RoundDuration.Observe(time.Since(start).Seconds())
	}()
	ev := e.newEvaluator(wf)
	if err := ev.evaluate(ctx); err != nil {
		obs.End(span, err)
		return nil, false, 0, err
	}
	if !ev.changed {
		span.End()
		return wf, false, ev.requeue, nil
	}
	out, err := e.update(ctx, wf)
	obs.End(span, err)
	return out, true, ev.requeue, err
}

// update persists wf, spec and status together, in one request.
func (e *Engine) update(ctx context.Context, wf *v1alpha1.Workflow) (*v1alpha1.Workflow, error) {
	if e.store.Stale(wf) {
		return nil, errStale // not sent, so no workflow.update span
	}
	ctx, span := e.tel.Start(ctx, telemetry.SpanWorkflowUpdate,
		attribute.String(telemetry.AttrWorkflow, wf.Name), attribute.String(telemetry.AttrWorkflowPhase, string(wf.Status.Phase)))
	body, err := EncodeWorkflow(wf)
	if err != nil {
		obs.End(span, err)
		return nil, err
	}
	span.SetAttributes(attribute.Int(telemetry.AttrUpdateBytes, len(body)))
	start := time.Now()
	out, err := e.store.Update(ctx, wf, body)
	result := telemetry.UpdateOK
	switch {
	case err == nil:
	case apierrors.IsConflict(err):
		result = telemetry.UpdateConflict
		e.tel.Metrics.UpdateConflicts.Inc()
		err = fmt.Errorf("%w: %w", errConflict, err)
	case isTooLarge(err):
		result = telemetry.UpdateTooLarge
		e.tel.Metrics.UpdateTooLarge.Inc()
	default:
		result = telemetry.UpdateError
	}
	e.tel.Metrics.WorkflowUpdate.WithLabelValues(result).Observe(time.Since(start).Seconds())
	span.SetAttributes(attribute.String(telemetry.AttrUpdateResult, result))
	if result == telemetry.UpdateTooLarge {
		obs.End(span, err)
		return nil, e.failTooLarge(ctx, wf, len(body), err)
	}
	if err != nil {
		obs.End(span, fmt.Errorf("update workflow %s/%s: %w", wf.Namespace, wf.Name, err))
		return nil, fmt.Errorf("update workflow %s/%s: %w", wf.Namespace, wf.Name, err)
	}
	span.End()
	return out, nil
}

func isTooLarge(err error) bool {
	return apierrors.IsRequestEntityTooLargeError(err) || strings.Contains(err.Error(), "too large")
}

// failTooLarge records, on the last persisted copy, that the workflow's
// object outgrew the API server's limit, and fails the workflow: retrying
// the same write could never succeed.
func (e *Engine) failTooLarge(ctx context.Context, wf *v1alpha1.Workflow, size int, cause error) error {
	cur, err := e.wfc.Get(ctx, wf.Namespace, wf.Name)
	if err != nil {
		return fmt.Errorf("workflow %s/%s too large (%d bytes) and re-read failed: %w", wf.Namespace, wf.Name, size, err)
	}
	cur.Status.Phase = v1alpha1.WorkflowFailed
	cur.Status.FinishedAt = time.Now().UnixNano()
	cur.Status.Message = fmt.Sprintf("workflow object too large to persist (%d bytes): %v", size, cause)
	body, err := EncodeWorkflow(cur)
	if err != nil {
		return err
	}
	if _, err := e.store.Update(ctx, cur, body); err != nil {
		return fmt.Errorf("fail too-large workflow %s/%s: %w", wf.Namespace, wf.Name, err)
	}
	return fmt.Errorf("workflow %s/%s failed: %s", wf.Namespace, wf.Name, cur.Status.Message)
}

// failUndecodable fails a workflow whose spec or status does not decode
// (AnnotationDecodeError) with a merge patch of its status: writing the
// object back whole would replace what did not decode with nothing.
func (e *Engine) failUndecodable(ctx context.Context, wf *v1alpha1.Workflow, why string) error {
	msg := "the workflow does not decode: " + why
	patch, err := json.Marshal(map[string]any{"status": map[string]any{
		"phase": v1alpha1.WorkflowFailed, "message": msg, "finishedAt": time.Now().UnixNano(),
	}})
	if err != nil {
		return err
	}
	slog.Warn("workflow does not decode; failing it", "workflow", wf.Namespace+"/"+wf.Name, "err", why)
	if err := e.wfc.Patch(ctx, wf.Namespace, wf.Name, patch); err != nil {
		return fmt.Errorf("fail undecodable workflow %s/%s: %w", wf.Namespace, wf.Name, err)
	}
	e.events.Record(ctx, events.Event{Kind: events.KindWorkflow, Namespace: wf.Namespace, Workflow: wf.Name, UID: wf.UID,
		Execution: executionID(wf), Phase: string(v1alpha1.WorkflowFailed), Message: msg, MapItem: -1})
	return nil
}

func executionID(wf *v1alpha1.Workflow) string {
	if wf.Spec.ExecutionID != "" {
		return wf.Spec.ExecutionID
	}
	return wf.Name
}

// queueMetrics exports the work queue's depth; the queue's other metrics
// are not part of the contract.
type queueMetrics struct{ m *obs.Metrics }

type noopMetric struct{}

func (noopMetric) Inc()            {}
func (noopMetric) Dec()            {}
func (noopMetric) Set(float64)     {}
func (noopMetric) Observe(float64) {}

func (q queueMetrics) NewDepthMetric(string) workqueue.GaugeMetric { return q.m.QueueDepth }
func (queueMetrics) NewAddsMetric(string) workqueue.CounterMetric  { return noopMetric{} }
func (queueMetrics) NewLatencyMetric(string) workqueue.HistogramMetric {
	return noopMetric{}
}
func (queueMetrics) NewWorkDurationMetric(string) workqueue.HistogramMetric {
	return noopMetric{}
}
func (queueMetrics) NewUnfinishedWorkSecondsMetric(string) workqueue.SettableGaugeMetric {
	return noopMetric{}
}
func (queueMetrics) NewLongestRunningProcessorSecondsMetric(string) workqueue.SettableGaugeMetric {
	return noopMetric{}
}
func (queueMetrics) NewRetriesMetric(string) workqueue.CounterMetric { return noopMetric{} }
