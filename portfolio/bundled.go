package portfolio

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/benchctl/benchctl/controller/api/v1alpha1"
)

// workflowEngine is the bundled controller as an Engine: each execution
// is a Workflow object in the target's namespace, created, watched to a
// terminal phase and deleted with its pods and launch-plan children.
type workflowEngine struct {
	target         string // the target's name, a label of its Workflows
	namespace      string
	client         client.WithWatch
	cleanupTimeout time.Duration
	log            *slog.Logger

	// The execution in flight (the runner runs one at a time): the object
	// created, and its terminal copy as the watch saw it (nil when the
	// wait ended otherwise).
	obj, final *v1alpha1.Workflow
}

var _ Engine = (*workflowEngine)(nil)

// errDeleted says a watched Workflow disappeared.
var errDeleted = vanished("workflow was deleted before it reached a terminal phase")

// Prepare deletes the run's Workflows still in the namespace (an earlier,
// interrupted invocation's), except keep.
func (e *workflowEngine) Prepare(ctx context.Context, run string, keep map[string]bool) error {
	var list v1alpha1.WorkflowList
	// Bounded like a cleanup: a stalled API server must not hold the run
	// before its first execution.
	lctx, cancel := context.WithTimeout(ctx, e.cleanupTimeout)
	err := e.client.List(lctx, &list, client.InNamespace(e.namespace), client.MatchingLabels{LabelRun: run})
	cancel()
	if err != nil {
		return fmt.Errorf("list leftover workflows of run %s in %s: %w", run, e.namespace, err)
	}
	for i := range list.Items {
		w := &list.Items[i]
		if keep[w.Name] {
			continue
		}
		e.log.Info("deleting leftover workflow", "namespace", w.Namespace, "name", w.Name)
		if err := e.cleanup(w.Name, w); err != nil {
			return err
		}
	}
	return nil
}

// Launch creates the execution's Workflow. A refused connection means
// the request was never sent (the API server restarting): creating again
// cannot create twice.
func (e *workflowEngine) Launch(ctx context.Context, x *Execution) error {
	if x.Entry.Template == nil {
		return fmt.Errorf("workflow %s is a flyte: entry, which the bundled controller cannot run (use the flyte engine)", x.Entry.Name)
	}
	obj := x.Entry.NewExecution(e.namespace, x.Name, map[string]string{LabelRun: x.RunID, LabelTarget: e.target})
	e.obj, e.final = obj, nil
	rec := x.Record
	rec.Namespace, rec.ExecutionID = obj.Namespace, obj.Spec.ExecutionID
	if err := retryTransient(ctx, utilnet.IsConnectionRefused, func() error {
		rec.CreateSent = time.Now().UnixNano()
		return e.client.Create(ctx, obj)
	}); err != nil {
		return fmt.Errorf("create workflow %s/%s: %w", obj.Namespace, obj.Name, err)
	}
	rec.Created = time.Now().UnixNano()
	return nil
}

// Wait watches the Workflow until its phase is terminal.
func (e *workflowEngine) Wait(ctx context.Context, _ *Execution) error {
	final, err := waitTerminal(ctx, e.client, e.obj)
	e.final = final
	return err
}

// Settle reads the Workflow as it ended (or as it was at the timeout, or
// as a dead controller left it) into the record.
func (e *workflowEngine) Settle(ctx context.Context, x *Execution) error {
	rec := x.Record
	cur := &v1alpha1.Workflow{}
	if err := retryTransient(ctx, transient, func() error { return e.client.Get(ctx, client.ObjectKeyFromObject(e.obj), cur) }); err != nil {
		if e.final == nil && !rec.TimedOut {
			return fmt.Errorf("read workflow %s/%s: %w", e.obj.Namespace, e.obj.Name, err)
		}
		// After a timeout the record says enough; after a terminal phase
		// the watched copy is final too. Keep it and say so.
		rec.Error = joinErr(rec.Error, fmt.Sprintf("read final object: %v", err))
		cur = e.final
	}
	if cur != nil {
		cur.ManagedFields = nil // server bookkeeping, noise in the record
	}
	rec.Final = cur
	if !rec.TimedOut && !rec.ControllerExited {
		rec.Phase = cur.Status.Phase
		if rec.Phase != v1alpha1.WorkflowSucceeded {
			rec.Error = joinErr(rec.Error, fmt.Sprintf("workflow %s: %s", rec.Phase, cur.Status.Message))
		}
	}
	return nil
}

// Cleanup deletes the Workflow, its children and their pods; a record
// without the final object (interrupted, timed out) reads the children
// from the cluster.
func (e *workflowEngine) Cleanup(x *Execution) error {
	return e.cleanup(x.Name, x.Record.Final)
}

// waitTerminal watches one Workflow until its phase is terminal. The watch
// starts at the object's resourceVersion, so no update is missed, and is
// re-established if the server ends it.
func waitTerminal(ctx context.Context, c client.WithWatch, obj *v1alpha1.Workflow) (*v1alpha1.Workflow, error) {
	return watchUntil(ctx, c, obj.Namespace, obj.Name, obj.ResourceVersion, func(w *v1alpha1.Workflow) bool {
		return w.Status.Phase.IsTerminal()
	})
}

// watchUntil watches the named Workflow until done returns true for it,
// returning that object, or errDeleted once it is gone.
func watchUntil(ctx context.Context, c client.WithWatch, ns, name, rv string, done func(*v1alpha1.Workflow) bool) (*v1alpha1.Workflow, error) {
	key := client.ObjectKey{Namespace: ns, Name: name}
	for {
		var w watch.Interface
		err := retryTransient(ctx, transient, func() (err error) {
			w, err = c.Watch(ctx, &v1alpha1.WorkflowList{}, &client.ListOptions{
				Namespace:     ns,
				FieldSelector: fields.OneTermEqualSelector("metadata.name", name),
				Raw:           &metav1.ListOptions{ResourceVersion: rv},
			})
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("watch workflow %s/%s: %w", ns, name, err)
		}
		// Some watch implementations (fakes, caches) ignore the
		// resourceVersion and deliver only later events; one read after
		// the watch is open closes that gap.
		cur := &v1alpha1.Workflow{}
		switch err := retryTransient(ctx, transient, func() error { return c.Get(ctx, key, cur) }); {
		case apierrors.IsNotFound(err):
			w.Stop()
			return nil, errDeleted
		case err != nil:
			w.Stop()
			return nil, fmt.Errorf("read workflow %s: %w", key, err)
		case done(cur):
			w.Stop()
			return cur, nil
		}
		rv = cur.ResourceVersion
		got, again, err := consume(ctx, w.ResultChan(), name, done)
		w.Stop()
		if err != nil || !again {
			return got, err
		}
		if got != nil {
			rv = got.ResourceVersion
		}
		// The server ended the watch (timeout, restart, 410 Gone): pause
		// briefly so a failing server is not hammered, then watch again.
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(rewatchPause):
		}
	}
}

// rewatchPause separates re-established watches.
const rewatchPause = 100 * time.Millisecond

// transient reports whether a request failed in a way that passes: the
// API server restarting or overloaded. Such requests are retried until
// the execution's timeout, so that a restart mid-run costs an execution
// at most its timeout, never the run.
func transient(err error) bool {
	return utilnet.IsConnectionRefused(err) || utilnet.IsConnectionReset(err) || utilnet.IsProbableEOF(err) ||
		apierrors.IsServiceUnavailable(err) || apierrors.IsServerTimeout(err) || apierrors.IsTooManyRequests(err) ||
		apierrors.IsTimeout(err)
}

// retryTransient calls f until it succeeds, fails in a way retry does
// not accept, or ctx ends (then the last error is returned), pausing
// 100 ms, doubling to 2 s, between tries.
func retryTransient(ctx context.Context, retry func(error) bool, f func() error) error {
	pause := rewatchPause
	for {
		err := f()
		if err == nil || ctx.Err() != nil || !retry(err) {
			return err
		}
		slog.DebugContext(ctx, "API request failed; retrying", "err", err, "pause", pause)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pause):
		}
		pause = min(2*pause, 2*time.Second)
	}
}

// consume reads watch events until done, deletion, the channel's end
// (again = true: re-watch from the last object seen) or ctx's end.
func consume(ctx context.Context, ch <-chan watch.Event, name string, done func(*v1alpha1.Workflow) bool) (last *v1alpha1.Workflow, again bool, err error) {
	for {
		select {
		case <-ctx.Done():
			return nil, false, ctx.Err()
		case ev, ok := <-ch:
			if !ok {
				return last, true, nil
			}
			switch ev.Type {
			case watch.Error:
				// Typically 410 Gone: the resourceVersion is too old.
				// Re-watch from the current object.
				return nil, true, nil
			case watch.Bookmark:
				continue
			}
			w, ok := ev.Object.(*v1alpha1.Workflow)
			if !ok || w.Name != name {
				continue
			}
			if ev.Type == watch.Deleted {
				return nil, false, errDeleted
			}
			last = w
			if done(w) {
				return w, false, nil
			}
		}
	}
}

// cleanup deletes an execution's Workflow, its launch-plan children and
// their pods, and waits until the Workflows are gone, so the next
// execution starts on a quiet cluster. Pods are deleted by label in one
// call rather than left to the garbage collector, which would still be
// deleting them while the next execution is measured; terminal pods go
// at once. final (may be nil) names the children.
func (e *workflowEngine) cleanup(name string, final *v1alpha1.Workflow) error {
	ctx, cancel := context.WithTimeout(context.Background(), e.cleanupTimeout)
	defer cancel()
	names := []string{name}
	if final == nil {
		// Interrupted or timed out: read the status to learn the children.
		cur := &v1alpha1.Workflow{}
		if err := e.client.Get(ctx, client.ObjectKey{Namespace: e.namespace, Name: name}, cur); err == nil {
			final = cur
		}
	}
	if final != nil {
		for _, id := range sortedKeys(final.Status.Nodes) {
			if c := final.Status.Nodes[id].Child; c != "" {
				names = append(names, c)
			}
		}
	}
	var errs []error
	bg := metav1.DeletePropagationBackground
	for _, n := range names {
		w := &v1alpha1.Workflow{ObjectMeta: metav1.ObjectMeta{Namespace: e.namespace, Name: n}}
		if err := e.client.Delete(ctx, w, &client.DeleteOptions{PropagationPolicy: &bg}); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete workflow %s/%s: %w", e.namespace, n, err))
			continue
		}
		if err := e.client.DeleteAllOf(ctx, &corev1.Pod{}, client.InNamespace(e.namespace),
			client.MatchingLabels{v1alpha1.LabelWorkflow: n}, client.PropagationPolicy(bg)); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete pods of workflow %s/%s: %w", e.namespace, n, err))
		}
		if _, err := watchUntil(ctx, e.client, e.namespace, n, "", func(*v1alpha1.Workflow) bool { return false }); !errors.Is(err, errDeleted) {
			errs = append(errs, fmt.Errorf("wait for workflow %s/%s to be deleted: %w", e.namespace, n, err))
		}
		// The pods' deletions (the kubelet's, or KWOK's, final delete) must
		// not overlap the next execution: their API writes would be
		// counted, and felt, there.
		if err := e.podsGone(ctx, n); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// podsGone waits until no pod of workflow n is left.
func (e *workflowEngine) podsGone(ctx context.Context, n string) error {
	err := wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		var pods corev1.PodList
		if err := e.client.List(ctx, &pods, client.InNamespace(e.namespace), client.MatchingLabels{v1alpha1.LabelWorkflow: n}); err != nil {
			return false, nil // retried until the cleanup timeout
		}
		return len(pods.Items) == 0, nil
	})
	if err != nil {
		return fmt.Errorf("wait for the pods of workflow %s/%s to be deleted: %w", e.namespace, n, err)
	}
	return nil
}
