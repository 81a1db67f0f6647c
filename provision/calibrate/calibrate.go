// Package calibrate measures the floor of a cluster: the latency of the
// API operations a workflow controller cannot avoid, taken with the
// controller's own client settings, and from them the least API work one
// serial node needs (reports.Floor). A controller's overhead per node
// means little until it is set against this: 30 ms is a lot on a cluster
// whose floor is 5 ms and little on one whose floor is 25 ms.
//
// The floor per serial node is one pod create, one write observed through
// a watch (the pod's status change reaching the controller) and one update
// of the portfolio's largest chain Workflow (the persisted decision).
// Everything is measured in a namespace of its own, deleted afterwards;
// no controller watches it, so the Workflows there never run.
package calibrate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	"github.com/benchctl/benchctl/controller/api/v1alpha1"
	"github.com/benchctl/benchctl/controller/engine"
	"github.com/benchctl/benchctl/reports"
)

// MinSamples is the fewest operations of each kind a calibration takes:
// enough for a 95% interval of the median a few percent wide.
const MinSamples = 50

// DefaultSamples is the number of operations of each kind by default.
const DefaultSamples = 60

// warmup operations of each kind run first and are not measured: the
// first requests open connections and fill the API server's caches.
const warmup = 5

// record adds the i-th operation's latency unless it was a warm-up.
func record(ops map[string][]time.Duration, name string, i int, d time.Duration) {
	if i >= warmup {
		ops[name] = append(ops[name], d)
	}
}

// LabelCalibration marks the namespaces calibrations create.
const LabelCalibration = "benchctl.dev/calibration"

// Workload is a Workflow whose create and update are measured.
type Workload struct {
	// Name describes it in the report, e.g. "long-chain (101 nodes)".
	Name string
	// Template is copied for every object; its name and namespace are set.
	Template *v1alpha1.Workflow
}

// Client is the client-side rate limit and request timeout of the
// controller under test (its kubeClient config).
type Client struct {
	QPS     float32
	Burst   int
	Timeout time.Duration
}

func (c Client) String() string {
	if c.QPS <= 0 {
		return "unthrottled"
	}
	return fmt.Sprintf("qps %g burst %d", c.QPS, c.Burst)
}

// Options configure a calibration.
type Options struct {
	// Small and Large are the Workflows created and updated: Large's
	// update is the one in the floor (the portfolio's longest chain).
	Small, Large Workload
	// Samples is the number of operations of each kind (at least
	// MinSamples; default DefaultSamples).
	Samples int
	Client  Client
	// EtcdMetricsURL is etcd's /metrics, when the provider exposes it.
	EtcdMetricsURL string
	// PodImage and PodArgs make the 0 s pods: on a cluster of simulated
	// (KWOK) nodes the image is never pulled; elsewhere it must exit at
	// once (the task image with --duration=0s --no-outputs).
	PodImage string
	PodArgs  []string
	// OpTimeout bounds the wait for one pod to finish or one watch event
	// (default 30s).
	OpTimeout time.Duration
	Progress  io.Writer
}

// ErrBadOptions is wrapped by errors in Options.
var ErrBadOptions = errors.New("bad calibration options")

func (o *Options) check() error {
	if o.Samples == 0 {
		o.Samples = DefaultSamples
	}
	if o.Samples < MinSamples {
		return fmt.Errorf("%w: --samples %d is below %d, too few for the interval of a median", ErrBadOptions, o.Samples, MinSamples)
	}
	if o.Small.Template == nil || o.Large.Template == nil {
		return fmt.Errorf("%w: a small and a large Workflow are needed", ErrBadOptions)
	}
	if o.PodImage == "" {
		return fmt.Errorf("%w: no pod image", ErrBadOptions)
	}
	if o.OpTimeout == 0 {
		o.OpTimeout = 30 * time.Second
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	return nil
}

// Run calibrates the cluster rc points at. The cluster must serve the
// Workflow CRD (deploy installs it).
func Run(ctx context.Context, rc *rest.Config, o Options) (*reports.Floor, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	// The controller's own client configs: one token bucket for every
	// request, writes with its timeout, watches without.
	write, watchCfg := engine.ClientConfigs(rc, o.Client.QPS, o.Client.Burst, o.Client.Timeout, "benchctl-calibrate")
	if write.Timeout <= 0 {
		// A controller without a request timeout still gets a bounded
		// measurement: a stalled API server must not hold the run.
		write.Timeout = o.OpTimeout
	}
	kube, err := kubernetes.NewForConfig(write)
	if err != nil {
		return nil, fmt.Errorf("calibrate: kube client: %w", err)
	}
	watchKube, err := kubernetes.NewForConfig(watchCfg)
	if err != nil {
		return nil, fmt.Errorf("calibrate: kube client: %w", err)
	}
	id := make([]byte, 3)
	if _, err := rand.Read(id); err != nil {
		return nil, fmt.Errorf("calibrate: namespace name: %w", err)
	}
	ns := "benchctl-calibrate-" + hex.EncodeToString(id)
	wfs, err := engine.NewWorkflowClient(write, ns)
	if err != nil {
		return nil, err
	}
	wfWatch, err := engine.NewWorkflowClient(watchCfg, ns)
	if err != nil {
		return nil, err
	}
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: ns, Labels: map[string]string{LabelCalibration: "true"},
	}}, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("calibrate: create namespace %s: %w", ns, err)
	}
	defer func() {
		// The objects go with the namespace. Its deletion is waited for
		// (bounded), so that it does not load the executions that follow.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if err := kube.CoreV1().Namespaces().Delete(dctx, ns, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			slog.Warn("calibrate: delete namespace", "namespace", ns, "err", err)
			return
		}
		err := wait.PollUntilContextCancel(dctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
			_, err := kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
			return apierrors.IsNotFound(err), nil
		})
		if err != nil {
			slog.Warn("calibrate: namespace not deleted yet", "namespace", ns, "err", err)
		}
	}()

	m := &measurer{o: o, ns: ns, kube: kube, watchKube: watchKube, wfs: wfs, wfWatch: wfWatch}
	etcdBefore, etcdErr := scrape(ctx, o.EtcdMetricsURL)
	f := &reports.Floor{Measured: time.Now().UTC(), Client: o.Client.String(), Small: o.Small.Name, Large: o.Large.Name}
	ops := map[string][]time.Duration{}
	steps := []struct {
		what string
		run  func(context.Context, map[string][]time.Duration) error
	}{
		{"Workflow creates and updates", m.workflows},
		{"watch deliveries", m.deliveries},
		{"0 s pod cycles", m.pods},
	}
	for _, s := range steps {
		start := time.Now()
		if err := s.run(ctx, ops); err != nil {
			return nil, fmt.Errorf("calibrate: %s: %w", s.what, err)
		}
		fmt.Fprintf(o.Progress, "calibrate: %d %s in %.1fs\n", o.Samples, s.what, time.Since(start).Seconds())
	}
	for _, name := range []string{
		reports.FloorWorkflowCreateSmall, reports.FloorWorkflowCreateLarge, reports.FloorWorkflowUpdateSmall,
		reports.FloorWorkflowUpdateLarge, reports.FloorPodCreate, reports.FloorPodRunning, reports.FloorPodSucceeded,
		reports.FloorWatchDelivery,
	} {
		f.Operations = append(f.Operations, reports.FloorOperation{Name: name, Latency: reports.DurationStats(ops[name])})
	}
	if err := f.SetPerNode(); err != nil {
		return nil, err
	}
	if o.EtcdMetricsURL != "" {
		etcdAfter, err := scrape(ctx, o.EtcdMetricsURL)
		if err = errors.Join(etcdErr, err); err != nil {
			// etcd's figures explain the floor; without them it still holds.
			slog.Warn("calibrate: etcd metrics", "url", o.EtcdMetricsURL, "err", err)
		} else {
			f.Etcd = etcdHistograms(etcdBefore, etcdAfter)
		}
	}
	return f, nil
}

// measurer runs the operations in one calibration namespace.
type measurer struct {
	o         Options
	ns        string
	kube      kubernetes.Interface
	watchKube kubernetes.Interface
	wfs       engine.WorkflowClient
	wfWatch   engine.WorkflowClient
}

// object is a copy of w's template named name, with a status that holds
// every second node as succeeded: the mean status over a chain's updates.
func (m *measurer) object(w Workload, name string) *v1alpha1.Workflow {
	obj := w.Template.DeepCopy()
	obj.Name, obj.Namespace = name, m.ns
	obj.ResourceVersion, obj.UID = "", ""
	return obj
}

func withStatus(obj *v1alpha1.Workflow, i int) {
	now := time.Now().UnixNano()
	obj.Status.Phase = v1alpha1.WorkflowRunning
	obj.Status.StartedAt = now
	if obj.Status.Nodes == nil {
		obj.Status.Nodes = map[string]v1alpha1.NodeStatus{}
		k := 0
		if c := obj.Spec.Closure; c != nil {
			for id := range c.Primary.Nodes {
				if k%2 == 0 {
					obj.Status.Nodes[id] = v1alpha1.NodeStatus{Phase: v1alpha1.NodeSucceeded, Attempts: 1, Launched: now, Started: now + 1e6, Finished: now + 2e6}
				}
				k++
			}
		}
	}
	// Every update changes the object, so the API server writes it and a
	// watch sees it (an unchanged object is not written).
	obj.Status.FinishedAt = now + int64(i) + 1
}

// update writes obj as the engine does (the whole object, JSON encoded
// once) and returns the stored object.
func (m *measurer) update(ctx context.Context, obj *v1alpha1.Workflow) (*v1alpha1.Workflow, time.Duration, error) {
	body, err := engine.EncodeWorkflow(obj)
	if err != nil {
		return nil, 0, err
	}
	start := time.Now()
	got, err := m.wfs.Update(ctx, obj, body)
	d := time.Since(start)
	if err != nil {
		return nil, 0, fmt.Errorf("update Workflow %s: %w", obj.Name, err)
	}
	got.ManagedFields = nil // the engine never sends them back
	return got, d, nil
}

func (m *measurer) workflows(ctx context.Context, ops map[string][]time.Duration) error {
	for _, w := range []struct {
		load           Workload
		create, update string
	}{
		{m.o.Small, reports.FloorWorkflowCreateSmall, reports.FloorWorkflowUpdateSmall},
		{m.o.Large, reports.FloorWorkflowCreateLarge, reports.FloorWorkflowUpdateLarge},
	} {
		var first *v1alpha1.Workflow
		prefix := strings.SplitN(w.create, ".", 3)[2]
		for i := range m.o.Samples + warmup {
			obj := m.object(w.load, fmt.Sprintf("%s-%d", prefix, i))
			start := time.Now()
			got, err := m.wfs.Create(ctx, obj)
			d := time.Since(start)
			if err != nil {
				return fmt.Errorf("create Workflow %s: %w", obj.Name, err)
			}
			record(ops, w.create, i, d)
			if first == nil {
				first = got
			}
		}
		cur := first
		for i := range m.o.Samples + warmup {
			withStatus(cur, i)
			got, d, err := m.update(ctx, cur)
			if err != nil {
				return err
			}
			record(ops, w.update, i, d)
			cur = got
		}
	}
	return nil
}

// deliveries measures a write's start to the watch event that carries it.
func (m *measurer) deliveries(ctx context.Context, ops map[string][]time.Duration) error {
	cur, err := m.wfs.Create(ctx, m.object(m.o.Small, "delivery"))
	if err != nil {
		return fmt.Errorf("create Workflow delivery: %w", err)
	}
	w, stop, err := m.startWatch(ctx, func(ctx context.Context) (watch.Interface, error) {
		opts := metav1.ListOptions{ResourceVersion: cur.ResourceVersion, FieldSelector: "metadata.name=delivery"}
		if lw, ok := m.wfWatch.(cache.ListerWatcherWithContext); ok {
			return lw.WatchWithContext(ctx, opts)
		}
		return m.wfWatch.Watch(opts)
	})
	if err != nil {
		return fmt.Errorf("watch Workflows: %w", err)
	}
	defer stop()
	for i := range m.o.Samples + warmup {
		withStatus(cur, i)
		start := time.Now()
		got, _, err := m.update(ctx, cur)
		if err != nil {
			return err
		}
		at, err := m.await(ctx, w, func(ev watch.Event) bool {
			wf, ok := ev.Object.(*v1alpha1.Workflow)
			return ok && wf.ResourceVersion == got.ResourceVersion
		})
		if err != nil {
			return fmt.Errorf("Workflow update %d: %w", i, err)
		}
		record(ops, reports.FloorWatchDelivery, i, at.Sub(start))
		cur = got
	}
	return nil
}

// pods creates 0 s pods one at a time and follows each through a watch to
// Running and Succeeded, as the controller would observe it.
func (m *measurer) pods(ctx context.Context, ops map[string][]time.Duration) error {
	pods := m.kube.CoreV1().Pods(m.ns)
	w, stop, err := m.startWatch(ctx, func(ctx context.Context) (watch.Interface, error) {
		return m.watchKube.CoreV1().Pods(m.ns).Watch(ctx, metav1.ListOptions{})
	})
	if err != nil {
		return fmt.Errorf("watch pods: %w", err)
	}
	defer stop()
	for i := range m.o.Samples + warmup {
		pod := m.pod(fmt.Sprintf("pod-%d", i))
		start := time.Now()
		if _, err := pods.Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create pod %s: %w", pod.Name, err)
		}
		created := time.Since(start)
		succeeded := false
		phase := func(want corev1.PodPhase) func(watch.Event) bool {
			return func(ev watch.Event) bool {
				p, ok := ev.Object.(*corev1.Pod)
				if !ok || p.Name != pod.Name {
					return false
				}
				if p.Status.Phase == corev1.PodFailed {
					return true // reported below
				}
				succeeded = p.Status.Phase == corev1.PodSucceeded
				return p.Status.Phase == want || succeeded
			}
		}
		running, err := m.await(ctx, w, phase(corev1.PodRunning))
		if err != nil {
			return fmt.Errorf("pod %s to run: %w", pod.Name, err)
		}
		// A pod seen Succeeded without Running (the local cluster ends a
		// 0 s pod in one status write, as a kubelet may) ran and ended at
		// that event.
		done := running
		if !succeeded {
			if done, err = m.await(ctx, w, phase(corev1.PodSucceeded)); err != nil {
				return fmt.Errorf("pod %s to succeed: %w", pod.Name, err)
			}
		}
		record(ops, reports.FloorPodCreate, i, created)
		record(ops, reports.FloorPodRunning, i, running.Sub(start))
		record(ops, reports.FloorPodSucceeded, i, done.Sub(start))
	}
	return nil
}

func (m *measurer) pod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: m.ns,
			// The local cluster's KWOK stages run a pod with this
			// annotation for exactly its duration.
			Annotations: map[string]string{v1alpha1.AnnotationDuration: "0s"},
			Labels:      map[string]string{LabelCalibration: "true"},
		},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			TerminationGracePeriodSeconds: ptr.To[int64](0),
			Containers: []corev1.Container{{
				Name: "task", Image: m.o.PodImage, Args: m.o.PodArgs,
				TerminationMessagePath: "/dev/termination-log", TerminationMessagePolicy: corev1.TerminationMessageReadFile,
			}},
		},
	}
}

// errPodFailed is a calibration pod that failed: the cluster cannot run
// the pod image (give one that exits at once).
var errPodFailed = errors.New("pod failed")

// startWatch starts a watch whose stream lives until stop, but whose start
// (the request's answer) is bounded by OpTimeout: a watch has no request
// timeout, so only its context can end a start that never answers.
func (m *measurer) startWatch(ctx context.Context, start func(context.Context) (watch.Interface, error)) (w watch.Interface, stop func(), err error) {
	wctx, cancel := context.WithCancel(ctx)
	timer := time.AfterFunc(m.o.OpTimeout, cancel)
	w, err = start(wctx)
	if !timer.Stop() {
		if w != nil {
			w.Stop()
		}
		cancel()
		return nil, nil, fmt.Errorf("no answer within %s", m.o.OpTimeout)
	}
	if err != nil {
		cancel()
		return nil, nil, err
	}
	return w, func() { w.Stop(); cancel() }, nil
}

// await reads w until match accepts an event and returns when that event
// arrived; bounded by OpTimeout.
func (m *measurer) await(ctx context.Context, w watch.Interface, match func(watch.Event) bool) (time.Time, error) {
	t := time.NewTimer(m.o.OpTimeout)
	defer t.Stop()
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				return time.Time{}, errors.New("the watch closed")
			}
			at := time.Now()
			if ev.Type == watch.Error {
				return time.Time{}, fmt.Errorf("watch error: %v", apierrors.FromObject(ev.Object))
			}
			if match(ev) {
				if p, ok := ev.Object.(*corev1.Pod); ok && p.Status.Phase == corev1.PodFailed {
					return time.Time{}, fmt.Errorf("%w (%s): the cluster cannot run image %s", errPodFailed, p.Status.Message, m.o.PodImage)
				}
				return at, nil
			}
		case <-t.C:
			return time.Time{}, fmt.Errorf("no event within %s", m.o.OpTimeout)
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		}
	}
}
