package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/lru"
	"k8s.io/utils/ptr"

	"github.com/benchctl/benchctl/controller/api/telemetry"
	"github.com/benchctl/benchctl/controller/api/v1alpha1"
	"github.com/benchctl/benchctl/controller/config"
	"github.com/benchctl/benchctl/controller/obs"
)

// Launch-plan nodes. A launch-plan node creates a child Workflow whose
// primary DAG is one of the closure's subWorkflows, owned by the parent (so
// that garbage collection removes it, and its pods, with the parent), and
// whose spec.executionID is the parent's: the child's spans, pods and
// events belong to the same execution. The node runs until the watch shows
// the child terminal; then the child's outputs are copied back to the
// node's outputs, or the node fails with the child's error.
//
// As with FlytePropeller's admin launcher, child creation goes through a
// token bucket (launchPlans.createQPS/createBurst; a node held back stays
// NotStarted and its workflow is re-evaluated when a token is due), and the
// launcher keeps a bounded cache (launchPlans.cacheSize) of the children it
// created and of their last phase delivered by the watch, so that a round
// repeated after a lost update creates nothing twice and a child's status
// costs no API call. A child counts as one running node against the
// parent's maxParallelism.

// launcher creates children under a rate limit and remembers them.
type launcher struct {
	limiter *rate.Limiter
	cache   *lru.Cache // child name -> childState
}

// childState is what the launcher knows of a child.
type childState struct {
	phase   v1alpha1.WorkflowPhase
	message string
	dataDir string
}

func newLauncher(c config.LaunchPlansConfig) *launcher {
	return &launcher{limiter: rate.NewLimiter(rate.Limit(c.CreateQPS), c.CreateBurst), cache: lru.New(c.CacheSize)}
}

func (l *launcher) get(name string) (childState, bool) {
	v, ok := l.cache.Get(name)
	if !ok {
		return childState{}, false
	}
	return v.(childState), true
}

func (l *launcher) put(name string, s childState) { l.cache.Add(name, s) }

// reserve takes a creation token, or says how long until one is due.
func (l *launcher) reserve() time.Duration {
	r := l.limiter.Reserve()
	if d := r.Delay(); d > 0 {
		r.Cancel()
		return d
	}
	return 0
}

func stateOf(wf *v1alpha1.Workflow) childState {
	return childState{phase: wf.Status.Phase, message: wf.Status.Message, dataDir: wf.Status.DataDir}
}

// parentOf returns the name of the Workflow that controls wf, if any.
func parentOf(wf *v1alpha1.Workflow) string {
	if o := metav1.GetControllerOf(wf); o != nil && o.Kind == "Workflow" && o.APIVersion == v1alpha1.SchemeGroupVersion.String() {
		return o.Name
	}
	return ""
}

// childUpdated feeds the launcher's cache from the watch and enqueues the
// parent of a child whose phase became terminal.
func (e *Engine) childUpdated(oldObj, newObj any) {
	wf, ok := newObj.(*v1alpha1.Workflow)
	if !ok {
		return
	}
	parent := parentOf(wf)
	if parent == "" {
		return
	}
	e.launcher.put(wf.Name, stateOf(wf))
	old, _ := oldObj.(*v1alpha1.Workflow)
	if wf.Status.Phase.IsTerminal() && (old == nil || old.Status.Phase != wf.Status.Phase) {
		e.queue.Add(wf.Namespace + "/" + parent)
	}
}

// childStatus returns what is known of a child: from the launcher's cache
// when it holds a terminal phase, else from the informer.
func (e *Engine) childStatus(namespace, name string) (childState, bool) {
	if s, ok := e.launcher.get(name); ok && s.phase.IsTerminal() {
		return s, true
	}
	obj, exists, err := e.wfInformer.GetIndexer().GetByKey(namespace + "/" + name)
	if err != nil || !exists {
		return childState{}, false
	}
	s := stateOf(obj.(*v1alpha1.Workflow))
	e.launcher.put(name, s)
	return s, true
}

// launchChild takes a launch-plan node's first step: inputs, the child
// Workflow (created, or adopted if it exists), Running.
func (ev *evaluator) launchChild(ctx context.Context, s *scope, id string, spec v1alpha1.NodeSpec, st *v1alpha1.NodeStatus) error {
	if !ev.budget() {
		return nil
	}
	path := s.path(id)
	name := ChildName(ev.wf.Name, path)
	_, known := ev.e.launcher.get(name)
	if !known {
		_, known = ev.e.childStatus(ev.wf.Namespace, name)
	}
	if !known {
		if d := ev.e.launcher.reserve(); d > 0 {
			if ev.requeue == 0 || d < ev.requeue {
				ev.requeue = d
			}
			return nil
		}
	}
	ctx, span := ev.nodeSpan(ctx, path, spec.Kind, st.Phase, 0, -1)
	hash, _, err := ev.prepareInputs(ctx, s, id)
	if err != nil {
		obs.End(span, err)
		return err
	}
	child, err := ev.childWorkflow(ctx, name, path, spec, hash)
	if err == nil && !known {
		err = ev.e.createChild(ctx, ev.wf, path, child)
	}
	var perm permanentError
	if errors.As(err, &perm) {
		ev.fail(path, perm.Error())
		ev.transition(ctx, span, path, spec.Kind, st, v1alpha1.NodeFailed, perm.Error())
		obs.End(span, err)
		return nil
	}
	if err != nil {
		obs.End(span, err)
		return err
	}
	st.Child = name
	st.Launched = time.Now().UnixNano()
	ev.running++
	ev.transition(ctx, span, path, spec.Kind, st, v1alpha1.NodeRunning, "")
	span.End()
	return nil
}

// childWorkflow builds the child of a launch-plan node. Its closure is the
// parent's with the launched sub-workflow as the primary DAG; when the
// parent's closure is offloaded, the child's is written to the blobstore
// first and the child is created with only the reference.
func (ev *evaluator) childWorkflow(ctx context.Context, name, path string, spec v1alpha1.NodeSpec, inputsHash string) (*v1alpha1.Workflow, error) {
	exec := executionID(ev.wf)
	c := ev.p.closure
	primary, err := c.Nested(spec)
	if err != nil {
		return nil, fmt.Errorf("launch-plan node %s: %w", path, err)
	}
	closure := &v1alpha1.WorkflowClosure{Primary: primary, SubWorkflows: c.SubWorkflows, Tasks: c.Tasks}
	child := &v1alpha1.Workflow{
		TypeMeta: metav1.TypeMeta{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: "Workflow"},
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: ev.wf.Namespace,
			Labels: map[string]string{
				v1alpha1.LabelManaged:   "true",
				v1alpha1.LabelExecution: labelValue(exec),
				v1alpha1.LabelParent:    labelValue(ev.wf.Name),
				v1alpha1.LabelNode:      labelValue(path),
			},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: "Workflow",
				Name: ev.wf.Name, UID: ev.wf.UID, Controller: ptr.To(true),
			}},
		},
		Spec: v1alpha1.WorkflowSpec{
			ExecutionID:     exec,
			Inputs:          map[string]string{"inputs": inputsHash},
			ExecutionConfig: ev.wf.Spec.ExecutionConfig,
			OffloadClosure:  ev.wf.Spec.OffloadClosure,
		},
	}
	if !ev.offloadWanted() {
		child.Spec.Closure = closure
		return child, nil
	}
	data, err := json.Marshal(closure)
	if err != nil {
		return nil, fmt.Errorf("encode closure of child %s: %w", name, err)
	}
	key := ev.wf.Status.DataDir + "/" + path + "/closure"
	if err := ev.e.blobs.Write(ctx, key, "closure", data); err != nil {
		return nil, err
	}
	child.Spec.ClosureRef, child.Spec.OffloadClosure = key, ptr.To(true)
	return child, nil
}

// createChild creates a child Workflow: one workflow.create span and one
// latency observation per create call. A child that already exists (an
// earlier process or round created it) is adopted if the parent owns it.
func (e *Engine) createChild(ctx context.Context, parent *v1alpha1.Workflow, node string, child *v1alpha1.Workflow) error {
	ctx, span := e.tel.Start(ctx, telemetry.SpanWorkflowCreate,
		attribute.String(telemetry.AttrNode, node), attribute.String(telemetry.AttrChild, child.Name))
	start := time.Now()
	_, err := e.wfc.Create(ctx, child)
	e.tel.Metrics.WorkflowCreate.Observe(time.Since(start).Seconds())
	switch {
	case err == nil:
	case apierrors.IsAlreadyExists(err):
		span.SetAttributes(attribute.Bool("adopted", true))
		existing, gerr := e.wfc.Get(ctx, child.Namespace, child.Name)
		switch {
		case gerr != nil:
			err = fmt.Errorf("adopt child workflow %s: %w", child.Name, gerr)
		case metav1.GetControllerOf(existing) == nil || metav1.GetControllerOf(existing).UID != parent.UID:
			err = permanentError{fmt.Errorf("workflow %s/%s exists and is not a child of %s", child.Namespace, child.Name, parent.Name)}
		default:
			err = nil
		}
	case apierrors.IsInvalid(err) || apierrors.IsForbidden(err) && !apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
		err = permanentError{fmt.Errorf("create child workflow %s: %w", child.Name, err)}
	default:
		err = fmt.Errorf("create child workflow %s: %w", child.Name, err)
	}
	if err == nil {
		e.launcher.put(child.Name, childState{})
	}
	obs.End(span, err)
	return err
}

// observeChild takes a running launch-plan node's observe step: once its
// child is terminal, copy its outputs back, or fail with its error.
func (ev *evaluator) observeChild(ctx context.Context, s *scope, id string, spec v1alpha1.NodeSpec, st *v1alpha1.NodeStatus) error {
	path := s.path(id)
	cs, ok := ev.e.childStatus(ev.wf.Namespace, st.Child)
	if !ok {
		// Not in the informer yet, or deleted behind the controller's back.
		if time.Since(time.Unix(0, st.Launched)) < ev.e.cfg.PodMissingTimeout.D() {
			return nil
		}
		live, err := ev.e.wfc.Get(ctx, ev.wf.Namespace, st.Child)
		switch {
		case apierrors.IsNotFound(err):
			cs = childState{phase: v1alpha1.WorkflowFailed, message: "the child workflow disappeared"}
		case err != nil:
			return fmt.Errorf("get child workflow %s: %w", st.Child, err)
		default:
			cs = stateOf(live)
		}
	}
	if !cs.phase.IsTerminal() {
		return nil
	}
	ev.touched[path] = true
	ev.running--
	ctx, span := ev.nodeSpan(ctx, path, spec.Kind, st.Phase, st.Attempts, -1)
	if cs.phase != v1alpha1.WorkflowSucceeded {
		msg := fmt.Sprintf("child workflow %s %s: %s", st.Child, strings.ToLower(string(cs.phase)), cs.message)
		ev.fail(path, msg)
		ev.transition(ctx, span, path, spec.Kind, st, v1alpha1.NodeFailed, msg)
		span.End()
		return nil
	}
	data, err := ev.e.blobs.Read(ctx, cs.dataDir+"/outputs", "outputs")
	if err == nil {
		err = ev.e.blobs.Write(ctx, ev.outputsKey(path, *st), "outputs", data)
	}
	if err != nil {
		err = fmt.Errorf("outputs of child workflow %s: %w", st.Child, err)
		obs.End(span, err)
		return err
	}
	ev.transition(ctx, span, path, spec.Kind, st, v1alpha1.NodeSucceeded, "")
	span.End()
	return nil
}

// deleteChild deletes a child on abort (its pods go with it); a child
// already gone is fine.
func (e *Engine) deleteChild(ctx context.Context, namespace, name string) error {
	if err := e.wfc.Delete(ctx, namespace, name); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete child workflow %s: %w", name, err)
	}
	return nil
}
