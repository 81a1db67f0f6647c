package engine

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/benchctl/benchctl/controller/api/telemetry"
	"github.com/benchctl/benchctl/controller/api/v1alpha1"
	"github.com/benchctl/benchctl/controller/blobstore"
	"github.com/benchctl/benchctl/controller/catalog"
	"github.com/benchctl/benchctl/controller/events"
	"github.com/benchctl/benchctl/controller/obs"
	"github.com/benchctl/benchctl/controller/taskdata"
)

// Annotations on task pods beyond the pod contract, for people and tools.
const (
	AnnotationNodePath  = v1alpha1.Domain + "/node-path"
	AnnotationInputHash = v1alpha1.Domain + "/input-hash"
	AnnotationMapItem   = v1alpha1.Domain + "/map-item"
)

// launchTask takes a task node's launch step: inputs, catalog lookup,
// then the pod of the next attempt. A dynamic node launches its generator
// task the same way: its attempts are the node's attempts.
//
// Only a catalog hit ends the step here, as a success that may unblock
// downstream nodes later in the same pass. A step whose outcome can only
// be Running (a pod to create) unblocks nothing this round, so it is
// deferred to the end of the pass (flushLaunches), where the pass's
// launches run launchConcurrency at a time; its slot is held meanwhile.
func (ev *evaluator) launchTask(ctx context.Context, s *scope, id string, spec v1alpha1.NodeSpec, st *v1alpha1.NodeStatus) error {
	if !ev.budget() {
		return nil
	}
	path := s.path(id)
	task := ev.p.closure.Tasks[spec.Task]
	l := &taskLaunch{s: s, id: id, spec: spec, task: task, from: st.Phase, attempt: st.Attempts + 1}
	// Generators are not cached: their sub-DAG is the node's real output.
	if l.from == v1alpha1.NodeNotStarted && task.Cacheable && spec.Kind == v1alpha1.NodeKindTask {
		l.ctx, l.span = ev.nodeSpan(ctx, path, spec.Kind, l.from, l.attempt, -1)
		var err error
		if l.hash, l.inKey, err = ev.prepareInputs(l.ctx, s, id); err != nil {
			obs.End(l.span, err)
			return err
		}
		hit, err := ev.fromCatalog(l.ctx, catalog.Key{Task: spec.Task, Version: task.Version, InputHash: l.hash}, ev.outputsKey(path, v1alpha1.NodeStatus{}))
		if err != nil {
			obs.End(l.span, err)
			return err
		}
		if hit {
			st.Attempts, st.Cached = 0, true
			l.span.SetAttributes(attribute.Bool(telemetry.AttrCached, true))
			ev.transition(l.ctx, l.span, path, spec.Kind, st, v1alpha1.NodeSucceeded, "")
			l.span.End()
			return nil
		}
	}
	ev.running++
	ev.touched[path] = true
	ev.launches = append(ev.launches, l)
	return nil
}

// taskLaunch is a task node's pod launch deferred to the end of a pass.
type taskLaunch struct {
	s       *scope
	id      string
	spec    v1alpha1.NodeSpec
	task    v1alpha1.TaskSpec
	from    v1alpha1.NodePhase
	attempt int32
	// hash and inKey are the inputs, when the catalog lookup wrote them.
	hash, inKey string
	// ctx and span are the node's node.handle span, started with the
	// step.
	ctx  context.Context
	span trace.Span
	// launched and err are the outcome.
	launched time.Time
	err      error
}

// flushLaunches creates the pods of the launches deferred in this pass,
// launchConcurrency at a time (pod names are deterministic, so only-once
// holds whatever the order), then records them in the order they were
// decided. A pod the API server refuses for good fails its node; any
// other error fails the round, and the next one adopts the pods already
// created.
func (ev *evaluator) flushLaunches(ctx context.Context) error {
	launches := ev.launches
	ev.launches = nil
	ev.e.launchAll(ctx, len(launches), func(ctx context.Context, k int) error {
		l := launches[k]
		path := l.s.path(l.id)
		if l.span == nil {
			l.ctx, l.span = ev.nodeSpan(ctx, path, l.spec.Kind, l.from, l.attempt, -1)
			if l.hash, l.inKey, l.err = ev.prepareInputs(l.ctx, l.s, l.id); l.err != nil {
				return l.err
			}
		}
		l.launched, l.err = ev.e.launchPod(l.ctx, ev.wf, podSpec{
			node: path, item: -1, attempt: l.attempt, task: l.task, inputsKey: l.inKey,
			outputsKey: ev.outputsKey(path, v1alpha1.NodeStatus{Attempts: l.attempt}), seed: l.hash,
			gen: ev.generatorOf(path, l.attempt, l.spec),
		})
		if l.err == nil {
			ev.record(l.ctx, events.Event{Kind: events.KindTask, Time: l.launched, Node: path, Attempt: l.attempt, Phase: "Running", MapItem: -1})
		}
		var perm permanentError
		if errors.As(l.err, &perm) {
			return nil // the node fails; the others go on
		}
		return l.err
	})
	var firstErr error
	for _, l := range launches {
		path := l.s.path(l.id)
		st := ev.wf.Status.Nodes[path]
		var perm permanentError
		switch {
		case l.span == nil: // not started: an earlier launch failed
			ev.running--
		case errors.As(l.err, &perm):
			ev.running--
			st.Attempts = l.attempt
			ev.fail(path, l.err.Error())
			ev.transition(l.ctx, l.span, path, l.spec.Kind, &st, v1alpha1.NodeFailed, l.err.Error())
			obs.End(l.span, l.err)
		case l.err != nil:
			ev.running--
			obs.End(l.span, l.err)
			firstErr = cmp.Or(firstErr, l.err)
		default:
			st.Attempts = l.attempt
			st.Launched = l.launched.UnixNano()
			st.Started, st.Finished, st.Cached = 0, 0, false
			ev.transitionAt(l.ctx, l.span, path, l.spec.Kind, &st, v1alpha1.NodeRunning, "", l.launched)
			l.span.End()
		}
	}
	return firstErr
}

// generatorOf describes the sub-DAG a dynamic node's generator attempt
// writes; nil for other nodes.
func (ev *evaluator) generatorOf(path string, attempt int32, spec v1alpha1.NodeSpec) *generator {
	if spec.Kind != v1alpha1.NodeKindDynamic {
		return nil
	}
	return &generator{key: ev.dynamicKey(path, attempt), task: spec.Task, spec: *spec.Dynamic}
}

// generator is what a dynamic node's generator task produces besides its
// outputs: the sub-DAG of v1alpha1.ExpandDynamic, at key.
type generator struct {
	key  string
	task string // the dynamic node's own task, reused by nested dynamic nodes
	spec v1alpha1.DynamicSpec
}

// subDAG is the sub-DAG document, as benchtask writes it.
func (g *generator) subDAG() []byte {
	b, _ := json.Marshal(v1alpha1.ExpandDynamic(g.task, g.spec)) // plain structs: cannot fail
	return b
}

// fromCatalog copies cached outputs to outKey if the catalog has them.
func (ev *evaluator) fromCatalog(ctx context.Context, k catalog.Key, outKey string) (bool, error) {
	data, hit, err := ev.e.cat.Get(ctx, k)
	if err != nil || !hit {
		return false, err
	}
	if err := ev.e.blobs.Write(ctx, outKey, "outputs", data); err != nil {
		return false, err
	}
	return true, nil
}

// observeTask checks the pod of a running task node's current attempt (or
// of a dynamic node's generator).
func (ev *evaluator) observeTask(ctx context.Context, s *scope, id string, spec v1alpha1.NodeSpec, st *v1alpha1.NodeStatus) error {
	path := s.path(id)
	name := PodName(ev.wf.Name, path, -1, st.Attempts)
	pod, err := ev.e.observePod(ctx, name, st.Launched)
	if err != nil || pod == nil {
		return err
	}
	task := ev.p.closure.Tasks[spec.Task]
	outKey := ev.outputsKey(path, *st)
	gen := ev.generatorOf(path, st.Attempts, spec)
	ev.touched[path] = true
	ctx, span := ev.nodeSpan(ctx, path, spec.Kind, st.Phase, st.Attempts, -1)
	ev.e.podEndSeen(span, name)
	res, err := ev.e.completePod(ctx, span, pod, outKey, task, gen)
	if err != nil {
		obs.End(span, err)
		return err
	}
	ev.running--
	st.Started, st.Finished = res.started, res.finished
	if res.ok && task.Cacheable && spec.Kind == v1alpha1.NodeKindTask {
		hash, err := ev.inputHash(ctx, path)
		if err == nil {
			err = ev.e.cat.Put(ctx, catalog.Key{Task: spec.Task, Version: task.Version, InputHash: hash}, res.outputs)
		}
		if err != nil {
			obs.End(span, err)
			return err
		}
	}
	taskPhase := "Succeeded"
	if !res.ok {
		taskPhase = "Failed"
	}
	ev.record(ctx, events.Event{Kind: events.KindTask, Time: taskEnd(res), Node: path, Attempt: st.Attempts, Phase: taskPhase, Message: res.reason, MapItem: -1})
	switch {
	case res.ok && gen != nil:
		err = ev.generated(ctx, span, path, gen, st)
	case res.ok:
		ev.transition(ctx, span, path, spec.Kind, st, v1alpha1.NodeSucceeded, "")
	case st.Attempts <= task.Retries:
		// The next attempt launches in a later round.
		ev.transition(ctx, span, path, spec.Kind, st, v1alpha1.NodeQueued, fmt.Sprintf("attempt %d failed, retrying: %s", st.Attempts, res.reason))
	default:
		msg := fmt.Sprintf("attempt %d failed: %s", st.Attempts, res.reason)
		ev.fail(path, msg)
		ev.transition(ctx, span, path, spec.Kind, st, v1alpha1.NodeFailed, msg)
	}
	obs.End(span, err)
	return err
}

// observePod returns the pod if it has ended, nil if it still runs (or the
// informer has not seen it yet). A pod missing for longer than
// podMissingTimeout is looked up in the API server, and reported as a
// failed pod if it is gone.
func (e *Engine) observePod(ctx context.Context, name string, launched int64) (*corev1.Pod, error) {
	pod, err := e.pods.Pods(e.ns).Get(name)
	if apierrors.IsNotFound(err) {
		if time.Since(time.Unix(0, launched)) < e.cfg.PodMissingTimeout.D() {
			return nil, nil
		}
		live, err := e.kube.CoreV1().Pods(e.ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			gone := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns}}
			gone.Status.Phase = corev1.PodFailed
			gone.Status.Message = "pod disappeared"
			return gone, nil
		}
		if err != nil {
			return nil, fmt.Errorf("get pod %s: %w", name, err)
		}
		pod = live
	} else if err != nil {
		return nil, fmt.Errorf("get pod %s from informer: %w", name, err)
	}
	if pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed {
		return nil, nil
	}
	return pod, nil
}

type podResult struct {
	ok                bool
	reason            string
	started, finished int64
	outputs           []byte
}

// completePod reads what an ended pod reports: the user-code instants from
// its termination message and, if it succeeded, its outputs.
func (e *Engine) completePod(ctx context.Context, span trace.Span, pod *corev1.Pod, outKey string, task v1alpha1.TaskSpec, gen *generator) (podResult, error) {
	var res podResult
	if tm, err := terminationMessage(pod); err == nil {
		res.started, res.finished = tm.StartedAt.UnixNano(), tm.FinishedAt.UnixNano()
		span.SetAttributes(attribute.Int64(telemetry.AttrUserStarted, res.started), attribute.Int64(telemetry.AttrUserFinished, res.finished))
	} else {
		span.SetAttributes(attribute.String("user.error", err.Error()))
		slog.Debug("no user-code instants", "pod", pod.Name, "err", err)
	}
	// The simulated write of these outputs, if this process started one,
	// must finish before they are read (or the attempt is retried).
	pending, simErr := e.sims.join(outKey)
	if pod.Status.Phase != corev1.PodSucceeded {
		res.reason = failureReason(pod)
		return res, nil
	}
	if e.cfg.TaskOutputs == "simulate" && (!pending || simErr != nil) {
		// Launched by an earlier controller process (or the write failed):
		// write now, on the critical path this once.
		if err := e.blobs.Write(ctx, outKey, "outputs", taskdata.Payload(pod.Annotations[AnnotationInputHash], task.OutputBytes)); err != nil {
			return res, err
		}
		if gen != nil {
			if err := e.blobs.Write(ctx, gen.key, "dynamic", gen.subDAG()); err != nil {
				return res, err
			}
		}
	}
	data, err := e.blobs.Read(ctx, outKey, "outputs")
	if errors.Is(err, blobstore.ErrNotFound) {
		res.reason = fmt.Sprintf("pod %s succeeded but wrote no outputs to %s", pod.Name, outKey)
		return res, nil
	}
	if err != nil {
		return res, err
	}
	res.ok, res.outputs = true, data
	return res, nil
}

func terminationMessage(pod *corev1.Pod) (v1alpha1.TerminationMessage, error) {
	for _, cs := range pod.Status.ContainerStatuses {
		if t := cs.State.Terminated; t != nil && t.Message != "" {
			return v1alpha1.ParseTerminationMessage(t.Message)
		}
	}
	return v1alpha1.TerminationMessage{}, fmt.Errorf("pod %s has no termination message", pod.Name)
}

func failureReason(pod *corev1.Pod) string {
	for _, cs := range pod.Status.ContainerStatuses {
		if t := cs.State.Terminated; t != nil {
			r := fmt.Sprintf("container %s exited with code %d", cs.Name, t.ExitCode)
			if t.Reason != "" {
				r += " (" + t.Reason + ")"
			}
			return r
		}
	}
	if pod.Status.Message != "" {
		return pod.Status.Message
	}
	if pod.Status.Reason != "" {
		return pod.Status.Reason
	}
	return "pod failed"
}

// permanentError is a launch failure that retrying cannot fix.
type permanentError struct{ error }

type podSpec struct {
	node                  string
	item                  int
	attempt               int32
	task                  v1alpha1.TaskSpec
	inputsKey, outputsKey string
	seed                  string
	gen                   *generator
}

// launchPod creates the pod of one attempt, or adopts it if it exists
// (created by this or an earlier controller process), and returns when it
// was launched: the end of the create call, or the pod's creation time for
// an adopted pod.
func (e *Engine) launchPod(ctx context.Context, wf *v1alpha1.Workflow, p podSpec) (time.Time, error) {
	name := PodName(wf.Name, p.node, p.item, p.attempt)
	if pod, err := e.pods.Pods(e.ns).Get(name); err == nil {
		e.startSim(ctx, p)
		return pod.CreationTimestamp.Time, nil
	}
	pod := e.buildPod(wf, name, p)
	parent := ctx // the simulated write is the node's work, not the create call's
	attrs := []attribute.KeyValue{
		attribute.String(telemetry.AttrPod, name), attribute.String(telemetry.AttrNode, p.node),
		attribute.Int(telemetry.AttrAttempt, int(p.attempt)),
	}
	if p.item >= 0 {
		attrs = append(attrs, attribute.Int(telemetry.AttrMapItem, p.item))
	}
	ctx, span := e.tel.Start(ctx, telemetry.SpanPodCreate, attrs...)
	start := time.Now()
	_, err := e.kube.CoreV1().Pods(e.ns).Create(ctx, pod, metav1.CreateOptions{})
	launched := time.Now()
	e.tel.Metrics.PodCreate.Observe(launched.Sub(start).Seconds())
	switch {
	case err == nil:
		span.End(trace.WithTimestamp(launched))
	case apierrors.IsAlreadyExists(err):
		// Created before a restart, not yet in the informer: adopt it.
		span.SetAttributes(attribute.Bool("adopted", true))
		existing, gerr := e.kube.CoreV1().Pods(e.ns).Get(ctx, name, metav1.GetOptions{})
		if gerr != nil {
			obs.End(span, gerr)
			return time.Time{}, fmt.Errorf("adopt pod %s: %w", name, gerr)
		}
		span.End()
		launched = existing.CreationTimestamp.Time
	case apierrors.IsInvalid(err) || apierrors.IsForbidden(err) && !apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
		obs.End(span, err)
		return time.Time{}, permanentError{fmt.Errorf("create pod %s: %w", name, err)}
	default:
		obs.End(span, err)
		return time.Time{}, fmt.Errorf("create pod %s: %w", name, err)
	}
	e.startSim(parent, p)
	return launched, nil
}

// buildPod is the task pod of one attempt.
func (e *Engine) buildPod(wf *v1alpha1.Workflow, name string, p podSpec) *corev1.Pod {
	tp := e.cfg.TaskPod
	image := tp.Image
	if p.task.Image != "" {
		image = p.task.Image
	}
	fail := p.attempt <= p.task.FailAttempts
	args := []string{
		"--duration=" + p.task.Duration.Duration.String(),
		"--blob-url=" + e.blobs.URL(),
		"--inputs-key=" + p.inputsKey,
		"--outputs-key=" + p.outputsKey,
		"--output-bytes=" + strconv.FormatInt(p.task.OutputBytes, 10),
		"--seed=" + p.seed,
		"--termination-log=/dev/termination-log",
	}
	if e.cfg.TaskOutputs == "simulate" {
		args = append(args, "--no-outputs")
	} else if g := p.gen; g != nil {
		args = append(args, "--dynamic-key="+g.key, "--dynamic-generator="+g.task,
			"--dynamic-width="+strconv.Itoa(int(g.spec.Width)), "--dynamic-depth="+strconv.Itoa(int(g.spec.Depth)),
			"--dynamic-leaf-task="+g.spec.LeafTask)
	}
	if fail {
		args = append(args, "--fail")
	}
	annotations := map[string]string{
		v1alpha1.AnnotationDuration: p.task.Duration.Duration.String(),
		AnnotationNodePath:          p.node,
		AnnotationInputHash:         p.seed,
	}
	if fail {
		annotations[v1alpha1.AnnotationFail] = "true"
	}
	if p.item >= 0 {
		annotations[AnnotationMapItem] = strconv.Itoa(p.item)
	}
	var tolerations []corev1.Toleration
	for _, t := range tp.Tolerations {
		tolerations = append(tolerations, corev1.Toleration{
			Key: t.Key, Operator: corev1.TolerationOperator(t.Operator), Value: t.Value, Effect: corev1.TaintEffect(t.Effect),
		})
	}
	res := corev1.ResourceRequirements{}
	if tp.CPU != "" || tp.Memory != "" {
		res.Requests = corev1.ResourceList{}
		if tp.CPU != "" {
			res.Requests[corev1.ResourceCPU] = resource.MustParse(tp.CPU)
		}
		if tp.Memory != "" {
			res.Requests[corev1.ResourceMemory] = resource.MustParse(tp.Memory)
			res.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(tp.Memory)}
		}
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:      name,
			Namespace: e.ns,
			Labels: map[string]string{
				v1alpha1.LabelManaged:   "true",
				v1alpha1.LabelWorkflow:  wf.Name,
				v1alpha1.LabelExecution: labelValue(executionID(wf)),
				v1alpha1.LabelNode:      labelValue(p.node),
				v1alpha1.LabelAttempt:   strconv.Itoa(int(p.attempt)),
			},
			Annotations: annotations,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: "Workflow",
				Name: wf.Name, UID: wf.UID, Controller: ptr.To(true),
			}},
		},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			ServiceAccountName:            tp.ServiceAccountName,
			NodeSelector:                  tp.NodeSelector,
			Tolerations:                   tolerations,
			TerminationGracePeriodSeconds: ptr.To[int64](5),
			Containers: []corev1.Container{{
				Name:                     "task",
				Image:                    image,
				ImagePullPolicy:          corev1.PullPolicy(tp.ImagePullPolicy),
				Args:                     args,
				Resources:                res,
				TerminationMessagePath:   "/dev/termination-log",
				TerminationMessagePolicy: corev1.TerminationMessageReadFile,
			}},
		},
	}
}

// deletePod deletes a pod on abort; a pod already gone is fine.
func (e *Engine) deletePod(ctx context.Context, name string) error {
	err := e.kube.CoreV1().Pods(e.ns).Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete pod %s: %w", name, err)
	}
	return nil
}

// startSim writes an attempt's outputs on the pod's behalf when outputs
// are simulated, concurrently with the pod.
func (e *Engine) startSim(ctx context.Context, p podSpec) {
	if e.cfg.TaskOutputs != "simulate" {
		return
	}
	w := e.sims.start(p.outputsKey)
	if w == nil {
		return // already being written
	}
	go func() {
		defer e.sims.wg.Done()
		e.simSem <- struct{}{}
		defer func() { <-e.simSem }()
		wctx := context.WithoutCancel(ctx)
		w.err = e.blobs.Write(wctx, p.outputsKey, "outputs", taskdata.Payload(p.seed, p.task.OutputBytes))
		if w.err == nil && p.gen != nil {
			w.err = e.blobs.Write(wctx, p.gen.key, "dynamic", p.gen.subDAG())
		}
		close(w.done)
	}()
}

// simWrites tracks simulated output writes in flight, by blob key.
type simWrites struct {
	mu sync.Mutex
	m  map[string]*simWrite
	wg sync.WaitGroup
}

type simWrite struct {
	done chan struct{}
	err  error
}

func (s *simWrites) start(key string) *simWrite {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[key]; ok {
		return nil
	}
	w := &simWrite{done: make(chan struct{})}
	s.m[key] = w
	s.wg.Add(1) // done by the writer
	return w
}

// join waits for the write of key, if one was started, and forgets it.
func (s *simWrites) join(key string) (bool, error) {
	s.mu.Lock()
	w, ok := s.m[key]
	delete(s.m, key)
	s.mu.Unlock()
	if !ok {
		return false, nil
	}
	<-w.done
	return true, w.err
}

// wait waits for every write in flight (at shutdown).
func (s *simWrites) wait() { s.wg.Wait() }

func unmarshalJSON(data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	return nil
}

// taskEnd is the instant a task event reports for an attempt's end: when
// its code finished, as the pod reported it (FlytePropeller's task events
// carry the plugin's observed time the same way), or now when the pod
// reported nothing.
func taskEnd(res podResult) time.Time {
	if res.finished > 0 {
		return time.Unix(0, res.finished)
	}
	return time.Time{}
}

// launchAll runs launch(ctx, k) for k in [0, n), at most
// launchConcurrency at a time, dispatching in order and starting no more
// once one has failed. It returns when every started one has returned.
// With launchConcurrency 1 the launches run one after another, in order.
func (e *Engine) launchAll(ctx context.Context, n int, launch func(ctx context.Context, k int) error) {
	limit := max(e.cfg.LaunchConcurrency, 1)
	if n <= 1 || limit == 1 {
		for k := range n {
			if launch(ctx, k) != nil {
				return
			}
		}
		return
	}
	var (
		wg     sync.WaitGroup
		failed atomic.Bool
	)
	sem := make(chan struct{}, limit)
	for k := range n {
		sem <- struct{}{}
		if failed.Load() {
			<-sem
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if launch(ctx, k) != nil {
				failed.Store(true)
			}
		})
	}
	wg.Wait()
}
