package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jsonpatch "github.com/evanphx/json-patch/v5"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/benchctl/benchctl/controller/api/v1alpha1"
	"github.com/benchctl/benchctl/controller/blobstore"
	"github.com/benchctl/benchctl/controller/catalog"
	"github.com/benchctl/benchctl/controller/config"
	"github.com/benchctl/benchctl/controller/events"
	"github.com/benchctl/benchctl/controller/obs"
)

// fakeWorkflows is an in-memory Workflow API with resourceVersion conflict
// checks and an optionally lagging watch, to provoke stale informer copies.
type fakeWorkflows struct {
	mu   sync.Mutex
	rv   int64
	objs map[string]*v1alpha1.Workflow
	bc   *watch.Broadcaster
	lag  time.Duration
	out  chan delayedEvent

	updates, conflicts, deletes atomic.Int64
}

type delayedEvent struct {
	at time.Time
	ev watch.Event
}

func newFakeWorkflows(lag time.Duration) *fakeWorkflows {
	f := &fakeWorkflows{objs: map[string]*v1alpha1.Workflow{}, bc: watch.NewBroadcaster(1000, watch.WaitIfChannelFull),
		lag: lag, out: make(chan delayedEvent, 10000)}
	go func() { // keeps event order while delaying each by lag
		for d := range f.out {
			time.Sleep(time.Until(d.at))
			_ = f.bc.Action(d.ev.Type, d.ev.Object)
		}
	}()
	return f
}

func (f *fakeWorkflows) emit(t watch.EventType, wf *v1alpha1.Workflow) {
	f.out <- delayedEvent{at: time.Now().Add(f.lag), ev: watch.Event{Type: t, Object: wf.DeepCopy()}}
}

// IsWatchListSemanticsUnSupported tells the reflector to list, then watch.
func (f *fakeWorkflows) IsWatchListSemanticsUnSupported() bool { return true }

func (f *fakeWorkflows) List(metav1.ListOptions) (runtime.Object, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l := &v1alpha1.WorkflowList{ListMeta: metav1.ListMeta{ResourceVersion: strconv.FormatInt(f.rv, 10)}}
	for _, o := range f.objs {
		l.Items = append(l.Items, *o.DeepCopy())
	}
	return l, nil
}

func (f *fakeWorkflows) Watch(metav1.ListOptions) (watch.Interface, error) { return f.bc.Watch() }

func (f *fakeWorkflows) Create(_ context.Context, wf *v1alpha1.Workflow) (*v1alpha1.Workflow, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := wf.Namespace + "/" + wf.Name
	if _, ok := f.objs[key]; ok {
		return nil, apierrors.NewAlreadyExists(v1alpha1.Resource("workflows"), wf.Name)
	}
	f.rv++
	c := wf.DeepCopy()
	c.ResourceVersion = strconv.FormatInt(f.rv, 10)
	c.UID = types.UID(fmt.Sprintf("uid-%s-%d", wf.Name, f.rv))
	c.CreationTimestamp = metav1.Now()
	f.objs[key] = c
	f.emit(watch.Added, c)
	return c.DeepCopy(), nil
}

func (f *fakeWorkflows) Get(_ context.Context, ns, name string) (*v1alpha1.Workflow, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.objs[ns+"/"+name]
	if !ok {
		return nil, apierrors.NewNotFound(v1alpha1.Resource("workflows"), name)
	}
	return o.DeepCopy(), nil
}

func (f *fakeWorkflows) Patch(_ context.Context, ns, name string, mergePatch []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	cur, ok := f.objs[ns+"/"+name]
	if !ok {
		return apierrors.NewNotFound(v1alpha1.Resource("workflows"), name)
	}
	old, err := json.Marshal(cur)
	if err != nil {
		return err
	}
	merged, err := jsonpatch.MergePatch(old, mergePatch)
	if err != nil {
		return err
	}
	next := &v1alpha1.Workflow{}
	if err := json.Unmarshal(merged, next); err != nil {
		return err
	}
	f.rv++
	next.ResourceVersion = strconv.FormatInt(f.rv, 10)
	f.objs[ns+"/"+name] = next
	f.emit(watch.Modified, next)
	return nil
}

func (f *fakeWorkflows) Delete(_ context.Context, ns, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := ns + "/" + name
	o, ok := f.objs[key]
	if !ok {
		return apierrors.NewNotFound(v1alpha1.Resource("workflows"), name)
	}
	delete(f.objs, key)
	f.deletes.Add(1)
	f.emit(watch.Deleted, o)
	return nil
}

func (f *fakeWorkflows) Update(_ context.Context, wf *v1alpha1.Workflow, body []byte) (*v1alpha1.Workflow, error) {
	var in v1alpha1.Workflow
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	key := wf.Namespace + "/" + wf.Name
	cur, ok := f.objs[key]
	if !ok {
		return nil, apierrors.NewNotFound(v1alpha1.Resource("workflows"), wf.Name)
	}
	f.updates.Add(1)
	if in.ResourceVersion != cur.ResourceVersion {
		f.conflicts.Add(1)
		return nil, apierrors.NewConflict(v1alpha1.Resource("workflows"), wf.Name, errors.New("the object has been modified"))
	}
	f.rv++
	in.ResourceVersion = strconv.FormatInt(f.rv, 10)
	f.objs[key] = in.DeepCopy()
	f.emit(watch.Modified, &in)
	return in.DeepCopy(), nil
}

// fakeKubelet plays KWOK for the fake clientset: a created pod runs for its
// duration annotation and ends as the pod contract says.
type fakeKubelet struct {
	kube *fake.Clientset
	ns   string

	mu         sync.Mutex
	running    int
	maxRunning int
	created    map[string]int // pod name -> creates seen
}

func startFakeKubelet(ctx context.Context, t *testing.T, kube *fake.Clientset, ns string) *fakeKubelet {
	k := &fakeKubelet{kube: kube, ns: ns, created: map[string]int{}}
	w, err := kube.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer w.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.ResultChan():
				if !ok {
					return
				}
				if pod, isPod := ev.Object.(*corev1.Pod); isPod && ev.Type == watch.Added {
					k.mu.Lock()
					k.created[pod.Name]++
					k.mu.Unlock()
					go k.play(ctx, pod.Name)
				}
			}
		}
	}()
	return k
}

func (k *fakeKubelet) play(ctx context.Context, name string) {
	pods := k.kube.CoreV1().Pods(k.ns)
	pod, err := pods.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return
	}
	d, _ := time.ParseDuration(pod.Annotations[v1alpha1.AnnotationDuration])
	time.Sleep(time.Millisecond) // scheduling
	started := time.Now()
	k.mu.Lock()
	k.running++
	k.maxRunning = max(k.maxRunning, k.running)
	k.mu.Unlock()
	pod.Status.Phase = corev1.PodRunning
	if pod, err = pods.UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		return
	}
	select {
	case <-ctx.Done():
		return
	case <-time.After(d):
	}
	k.mu.Lock()
	k.running--
	k.mu.Unlock()
	finished := time.Now()
	phase, code := corev1.PodSucceeded, int32(0)
	if pod.Annotations[v1alpha1.AnnotationFail] == "true" {
		phase, code = corev1.PodFailed, 1
	}
	pod.Status.Phase = phase
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "task", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
		ExitCode: code, Message: v1alpha1.TerminationMessage{StartedAt: started, FinishedAt: finished}.String(),
	}}}}
	_, _ = pods.UpdateStatus(ctx, pod, metav1.UpdateOptions{})
}

func (k *fakeKubelet) creates() (total int, dup []string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for n, c := range k.created {
		total += c
		if c > 1 {
			dup = append(dup, n)
		}
	}
	return total, dup
}

// harness runs an engine against the fakes.
type harness struct {
	t       *testing.T
	ns      string
	kube    *fake.Clientset
	wfs     *fakeWorkflows
	metrics *obs.Metrics
	tracing *obs.Tracing
	eng     *Engine
	cancel  context.CancelFunc
	done    chan error
}

func testConfig() config.Config {
	c := config.Defaults()
	c.Workers = 4
	c.WorkflowReevalDuration = config.Duration(2 * time.Second)
	c.Blobstore.URL = "mem://"
	c.Events.Sink = config.EventSinkNone
	return c
}

func newHarness(t *testing.T, cfg config.Config, kube *fake.Clientset, wfs *fakeWorkflows) *harness {
	t.Helper()
	ctx := context.Background()
	m := obs.NewMetrics()
	tr, err := obs.NewTracing(ctx, obs.TracingOptions{ServiceName: "test", StoreSize: 1 << 20, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	tel := obs.NewTelemetry(tr.Provider, m)
	blobs, err := blobstore.Open(ctx, cfg.Blobstore.URL, int64(cfg.Blobstore.CacheSizeBytes), tel)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := New(Options{
		Config: cfg, Namespace: "ns", Kube: kube, Workflows: wfs, Blobs: blobs,
		Catalog: catalog.New(blobs, tel), Events: events.NewRecorder(events.NoneSink{}, 1000, 1000, tel), Telemetry: tel,
	})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, ns: "ns", kube: kube, wfs: wfs, metrics: m, tracing: tr, eng: eng, done: make(chan error, 1)}
	var runCtx context.Context
	runCtx, h.cancel = context.WithCancel(ctx)
	go func() { h.done <- eng.Run(runCtx) }()
	t.Cleanup(h.stop)
	deadline := time.Now().Add(10 * time.Second)
	for eng.Ready() != nil {
		if time.Now().After(deadline) {
			t.Fatal("engine did not become ready")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return h
}

func (h *harness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	h.cancel = nil
	if err := <-h.done; err != nil {
		h.t.Errorf("engine: %v", err)
	}
	_ = h.tracing.Shutdown(context.Background())
}

// wait polls the workflow until it is terminal.
func (h *harness) wait(name string, timeout time.Duration) *v1alpha1.Workflow {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		wf, err := h.wfs.Get(context.Background(), h.ns, name)
		if err != nil {
			h.t.Fatal(err)
		}
		if wf.Status.Phase.IsTerminal() {
			return wf
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("workflow %s still %q after %v: %+v", name, wf.Status.Phase, timeout, wf.Status.Nodes)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
