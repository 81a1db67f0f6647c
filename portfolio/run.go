package portfolio

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
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
	"github.com/benchctl/benchctl/portfolio/rundir"
)

// Target is where one deployment's executions run: for an A/B
// comparison, one Target per deployment.
type Target struct {
	// Name is the deployment's name, as the plan names it.
	Name string
	// Namespace is where the Workflows are created.
	Namespace string
	// Client talks to the cluster; its scheme must know v1alpha1 and core
	// v1 (see NewScheme).
	Client client.WithWatch
	// Hooks, if not nil, run around each execution.
	Hooks Hooks
	// Liveness, if not nil, is asked while an execution runs whether the
	// target's controller is still up.
	Liveness Liveness
}

// Liveness says whether a target's controller is up: nil when it is, or
// why it is not (the process is gone, /readyz does not answer). The
// runner asks it before each execution and every Options.LivenessInterval
// while it waits for one, so that a controller that dies is noticed in
// seconds rather than at the execution's timeout.
type Liveness interface {
	Alive(ctx context.Context) error
}

// ControllerExitedError is what Execute returns when a target's
// controller stopped during an execution. The execution is recorded as
// failed (Record.ControllerExited, the error "controller exited: ...")
// and the run stops there: a resume restarts the controller (the deploy
// stage does) and runs that execution again, so no sample taken while
// the controller was down is ever measured.
type ControllerExitedError struct {
	Target    string
	Execution string
	Err       error
}

func (e *ControllerExitedError) Error() string {
	return fmt.Sprintf("the controller of target %s exited during execution %s: %v", e.Target, e.Execution, e.Err)
}

func (e *ControllerExitedError) Unwrap() error { return e.Err }

// Hooks collect an execution's artifacts (the collect package implements
// them) into Execution.Dir; the runner lists them in the record. An error
// is recorded on the execution (which then does not count as a success)
// and the run goes on.
type Hooks interface {
	// Before runs before the Workflow is created (scrape metrics).
	Before(ctx context.Context, e *Execution) error
	// After runs once a created Workflow has ended, successfully or not
	// (failed, timed out), before it and its pods are deleted (fetch spans,
	// scrape metrics, list pods). It does not run when Before failed.
	After(ctx context.Context, e *Execution) error
}

// Execution is what the hooks see of one execution.
type Execution struct {
	rundir.PlanEntry
	Namespace string
	// Name is the Workflow's name, ExecutionID its spec.executionID (the
	// controller's span attribute execution.id).
	Name        string
	ExecutionID string
	// Dir is the execution's directory, for artifacts.
	Dir *rundir.Execution
	// Created is when the create call returned (unix ns); set for After.
	Created int64
	// Final is the Workflow as last read; set for After (nil if it
	// vanished before it finished).
	Final *v1alpha1.Workflow
}

// Options control a run.
type Options struct {
	// Progress receives progress lines (a live bar with an ETA when it is
	// a terminal); nil means none.
	Progress io.Writer
	// KeepWorkflows leaves finished Workflows and their pods in the
	// cluster. By default each is deleted once recorded, so that one
	// execution's objects do not load the next.
	KeepWorkflows bool
	// CleanupTimeout bounds deleting one execution's objects (default 1m).
	CleanupTimeout time.Duration
	// Logger for details (default slog.Default()).
	Logger *slog.Logger
	// LivenessInterval is how often a target's Liveness is asked while
	// an execution runs (default 1s). Two failures in a row mean the
	// controller is down: one slow /readyz on a loaded machine is not.
	LivenessInterval time.Duration
}

// fetchTimeout bounds reading the final object once the wait has ended.
const fetchTimeout = 30 * time.Second

// Overrides replace the portfolio's settings for every workflow; nil
// fields keep them.
type Overrides struct {
	Repetitions *int
	Warmup      *int
	Timeout     *time.Duration
}

// Override applies o to every workflow of c.
func (c *Compiled) Override(o Overrides) error {
	if o.Repetitions != nil && *o.Repetitions < 1 {
		return fmt.Errorf("repetitions must be >= 1, got %d", *o.Repetitions)
	}
	if o.Warmup != nil && *o.Warmup < 0 {
		return fmt.Errorf("warm-up must be >= 0, got %d", *o.Warmup)
	}
	if o.Timeout != nil && *o.Timeout <= 0 {
		return fmt.Errorf("timeout must be positive, got %s", *o.Timeout)
	}
	for _, w := range c.Workflows {
		if o.Repetitions != nil {
			w.Repetitions = *o.Repetitions
		}
		if o.Warmup != nil {
			w.Warmup = *o.Warmup
		}
		if o.Timeout != nil {
			w.Timeout = *o.Timeout
		}
	}
	return nil
}

// Plan orders the executions: workflow by workflow; for each, the warm-ups
// (targets in the given order) then the measured repetitions; each
// repetition once per target. The measured repetitions take the rows of
// a Williams design over the targets in turn (BalancedOrder; repetition r
// takes row (r-1) mod its length), so drift during the run and the
// position and carry-over effects of running first, last or right after
// another target hit every target alike.
func Plan(c *Compiled, targets []string) []rundir.PlanEntry {
	var plan []rundir.PlanEntry
	for _, w := range c.Workflows {
		plan = AppendRepetitions(plan, w.Name, targets, true, 1, w.Warmup)
		plan = AppendRepetitions(plan, w.Name, targets, false, 1, w.Repetitions)
	}
	return plan
}

// AppendRepetitions appends repetitions from..to (counting from 1) of a
// workflow to plan, numbering them on from plan's length: warm-ups in the
// targets' order, measured repetitions in the order of BalancedOrder's
// row for each repetition.
func AppendRepetitions(plan []rundir.PlanEntry, workflow string, targets []string, warmup bool, from, to int) []rundir.PlanEntry {
	design := BalancedOrder(len(targets))
	for rep := from; rep <= to; rep++ {
		order := targets
		if !warmup {
			order = nil
			for _, t := range design[(rep-1)%len(design)] {
				order = append(order, targets[t])
			}
		}
		for _, t := range order {
			plan = append(plan, rundir.PlanEntry{Seq: len(plan), Workflow: workflow, Target: t, Repetition: rep, Warmup: warmup})
		}
	}
	return plan
}

// BalancedOrder is a Williams design for n targets (Williams 1949,
// "Experimental designs balanced for the estimation of residual effects
// of treatments"): rows of target indices, one row per repetition. Every
// target takes every position equally often over the design, and every
// target directly follows every other one equally often. For even n it is
// the n×n Williams square; for odd n, where no such square exists, the
// square and its mirror image, 2n rows. The first n rows are always a
// Latin square, so after any number r of repetitions every target has
// taken every position floor(r/n) or ceil(r/n) times; positions and
// carry-over are exactly balanced when r is a multiple of the design's
// length (n even, 2n odd). n = 2 gives A B, B A; n = 1 a single row.
func BalancedOrder(n int) [][]int {
	if n <= 0 {
		return [][]int{{}}
	}
	// First row 0, 1, n-1, 2, n-2, ...; row i adds i to each, mod n.
	first := make([]int, n)
	lo, hi := 1, n-1
	for j := 1; j < n; j++ {
		if j%2 == 1 {
			first[j] = lo
			lo++
		} else {
			first[j] = hi
			hi--
		}
	}
	var rows [][]int
	for i := range n {
		row := make([]int, n)
		for j, v := range first {
			row[j] = (v + i) % n
		}
		rows = append(rows, row)
	}
	if n%2 == 1 && n > 1 {
		for i := range n {
			mirror := slices.Clone(rows[i])
			slices.Reverse(mirror)
			rows = append(rows, mirror)
		}
	}
	return rows
}

// Planned lists the compiled workflows with what is planned for each,
// as a run manifest records them.
func (c *Compiled) Planned() []rundir.WorkflowRef {
	var out []rundir.WorkflowRef
	for _, w := range c.Workflows {
		out = append(out, rundir.WorkflowRef{Name: w.Name, Repetitions: w.Repetitions, Warmup: w.Warmup})
	}
	return out
}

// Execute runs, strictly serially, every execution of the manifest's plan
// that has no record in dir yet, on the named targets. Each execution's
// record is written before the next starts. Whatever a half-done or
// damaged execution left behind is removed first and the execution runs
// again, and the run's Workflows still in the cluster (an earlier,
// interrupted invocation's) are deleted. When ctx is cancelled the
// in-flight Workflow is deleted, nothing is recorded for it, and Execute
// returns the partial run with an error wrapping context.Canceled.
func Execute(ctx context.Context, dir *rundir.Dir, m *rundir.Manifest, c *Compiled, targets []Target, opts Options) (*rundir.Run, error) {
	r, err := newRunner(dir, m, c, targets, opts)
	if err != nil {
		return nil, err
	}
	done, err := r.open(ctx)
	if err != nil {
		return nil, err
	}
	prog := newProgress(opts.Progress, c, m.Plan, done)
	defer prog.stop()
	result := func() *rundir.Run {
		run := &rundir.Run{Dir: dir.Path, Manifest: m}
		for _, p := range m.Plan {
			if rec, ok := done[p.Seq]; ok {
				run.Records = append(run.Records, rec)
			} else {
				run.Missing = append(run.Missing, p)
			}
		}
		return run
	}
	for _, p := range m.Plan {
		if _, ok := done[p.Seq]; ok {
			continue
		}
		if ctx.Err() != nil {
			return result(), fmt.Errorf("interrupted before %s: %w", p.DirName(), context.Cause(ctx))
		}
		prog.start(p)
		rec, err := r.execute(ctx, p)
		if err != nil {
			// A record that comes with an error (the controller exited) is
			// on disk but not done: a resume runs it again.
			return result(), err
		}
		done[p.Seq] = rec
		prog.finish(rec)
	}
	return result(), nil
}

type runner struct {
	dir      *rundir.Dir
	manifest *rundir.Manifest
	opts     Options
	log      *slog.Logger
	compiled *Compiled
	targets  map[string]Target
}

func newRunner(dir *rundir.Dir, m *rundir.Manifest, c *Compiled, targets []Target, opts Options) (*runner, error) {
	if len(targets) == 0 {
		return nil, errors.New("portfolio run: no targets")
	}
	if opts.CleanupTimeout <= 0 {
		opts.CleanupTimeout = time.Minute
	}
	r := &runner{dir: dir, manifest: m, opts: opts, log: opts.Logger, compiled: c, targets: map[string]Target{}}
	if r.log == nil {
		r.log = slog.Default()
	}
	for _, t := range targets {
		switch {
		case t.Name == "" || t.Namespace == "" || t.Client == nil:
			return nil, fmt.Errorf("portfolio run: target %+v needs a name, a namespace and a client", t)
		case len(t.Name) > 63:
			return nil, fmt.Errorf("portfolio run: target name %q is longer than a label value (63)", t.Name)
		}
		if _, dup := r.targets[t.Name]; dup {
			return nil, fmt.Errorf("portfolio run: target %q given twice", t.Name)
		}
		r.targets[t.Name] = t
	}
	for _, p := range m.Plan {
		if _, ok := r.targets[p.Target]; !ok {
			return nil, fmt.Errorf("portfolio run: the plan names target %q, which is not given", p.Target)
		}
		if c.Workflow(p.Workflow) == nil {
			return nil, fmt.Errorf("portfolio run: the plan names workflow %q, which the portfolio does not have", p.Workflow)
		}
	}
	return r, nil
}

// open returns the finished executions, after removing what half-done
// and damaged ones left and deleting the run's Workflows still in the
// cluster.
func (r *runner) open(ctx context.Context) (map[int]*rundir.Record, error) {
	done, damaged, err := r.dir.Records(r.manifest.Plan)
	if err != nil {
		return nil, err
	}
	for seq, rec := range done {
		if rec.ControllerExited {
			r.log.Warn("an execution ran while its controller was down; it runs again", "dir", rec.Dir, "error", rec.Error)
			delete(done, seq)
			continue
		}
		if err := rec.VerifyArtifacts(); err != nil {
			damaged = append(damaged, rundir.Damaged{Entry: rec.PlanEntry, Dir: rec.Dir, Err: err})
			delete(done, seq)
		}
	}
	for _, d := range damaged {
		r.log.Warn("an execution's record is unreadable; it runs again", "dir", d.Dir, "err", d.Err)
	}
	for _, p := range r.manifest.Plan {
		if _, ok := done[p.Seq]; !ok {
			if err := r.dir.Execution(p).Remove(); err != nil {
				return nil, fmt.Errorf("remove half-done execution: %w", err)
			}
		}
	}
	keep := map[string]bool{}
	if r.opts.KeepWorkflows {
		for _, rec := range done {
			keep[rec.Name] = true
		}
	}
	if err := r.sweep(ctx, keep); err != nil {
		return nil, err
	}
	if len(done) > 0 {
		r.log.Info("resuming run", "dir", r.dir.Path, "run", r.manifest.RunID, "done", len(done), "planned", len(r.manifest.Plan))
	}
	return done, nil
}

// sweep deletes the run's Workflows still in the cluster, except keep.
func (r *runner) sweep(ctx context.Context, keep map[string]bool) error {
	for _, name := range r.manifest.TargetNames() {
		t := r.targets[name]
		var list v1alpha1.WorkflowList
		// Bounded like a cleanup: a stalled API server must not hold the
		// run before its first execution.
		lctx, cancel := context.WithTimeout(ctx, r.opts.CleanupTimeout)
		err := t.Client.List(lctx, &list, client.InNamespace(t.Namespace), client.MatchingLabels{LabelRun: r.manifest.RunID})
		cancel()
		if err != nil {
			return fmt.Errorf("list leftover workflows of run %s in %s: %w", r.manifest.RunID, t.Namespace, err)
		}
		for i := range list.Items {
			w := &list.Items[i]
			if keep[w.Name] {
				continue
			}
			r.log.Info("deleting leftover workflow", "namespace", w.Namespace, "name", w.Name)
			if err := r.cleanup(t, w.Name, w); err != nil {
				return err
			}
		}
	}
	return nil
}

// errDeleted says a watched Workflow disappeared.
var errDeleted = errors.New("workflow was deleted before it reached a terminal phase")

// execute runs one plan entry and writes its record. An error means the
// run cannot go on (interrupted, or the cluster refuses the work).
func (r *runner) execute(ctx context.Context, p rundir.PlanEntry) (*rundir.Record, error) {
	t := r.targets[p.Target]
	w := r.compiled.Workflow(p.Workflow)
	dir := r.dir.Execution(p)
	if err := dir.Prepare(); err != nil {
		return nil, err
	}
	name, err := executionName(w.Name, r.manifest.RunID, p.Seq)
	if err != nil {
		return nil, err
	}
	obj := w.NewExecution(t.Namespace, name, map[string]string{LabelRun: r.manifest.RunID, LabelTarget: t.Name})
	rec := &rundir.Record{
		PlanEntry: p, Namespace: t.Namespace, Name: name, ExecutionID: obj.Spec.ExecutionID,
		Closure: obj.Spec.Closure.DeepCopy(), Began: time.Now().UnixNano(),
	}
	ex := &Execution{PlanEntry: p, Namespace: t.Namespace, Name: name, ExecutionID: obj.Spec.ExecutionID, Dir: dir}
	log := r.log.With("workflow", p.Workflow, "target", p.Target, "rep", p.Repetition, "warmup", p.Warmup, "name", name)

	// interrupted undoes the in-flight execution: its Workflow is deleted
	// and its directory removed, so a resume runs it afresh.
	interrupted := func(stage string) (*rundir.Record, error) {
		if rec.Created != 0 {
			if err := r.cleanup(t, name, nil); err != nil {
				log.Warn("could not delete the interrupted workflow; a resumed run deletes it", "err", err)
			}
		}
		if err := dir.Remove(); err != nil {
			log.Warn("could not remove the interrupted execution's directory", "err", err)
		}
		return nil, fmt.Errorf("interrupted %s %s (target %s): %w", stage, name, p.Target, context.Cause(ctx))
	}

	if t.Hooks != nil {
		if err := t.Hooks.Before(ctx, ex); err != nil {
			if ctx.Err() != nil {
				return interrupted("before")
			}
			rec.Error = fmt.Sprintf("before hook: %v", err)
			log.Warn("before hook failed; the execution is skipped and recorded as failed", "err", err)
		}
	}
	if rec.Error == "" {
		if err := r.run(ctx, t, w, obj, rec); err != nil {
			if ctx.Err() != nil {
				return interrupted("running")
			}
			if rec.Created != 0 {
				if cerr := r.cleanup(t, name, rec.Final); cerr != nil {
					log.Warn("cleanup failed", "err", cerr)
				}
			}
			return nil, err
		}
		// A dead controller has no spans or metrics to collect.
		if t.Hooks != nil && rec.Created != 0 && !rec.ControllerExited {
			ex.Created, ex.Final = rec.Created, rec.Final
			if err := t.Hooks.After(ctx, ex); err != nil {
				if ctx.Err() != nil {
					return interrupted("after")
				}
				rec.Error = joinErr(rec.Error, fmt.Sprintf("after hook: %v", err))
				log.Warn("after hook failed", "err", err)
			}
		}
	}
	if rec.Artifacts, err = dir.Artifacts(); err != nil {
		return nil, err
	}
	rec.Ended = time.Now().UnixNano()
	rec.Dir = dir.Path
	if err := dir.WriteRecord(rec); err != nil {
		return nil, fmt.Errorf("record execution %s: %w", name, err)
	}
	log.Debug("recorded", "phase", rec.Phase, "timedOut", rec.TimedOut, "error", rec.Error)
	if rec.Created != 0 && !r.opts.KeepWorkflows {
		if err := r.cleanup(t, name, rec.Final); err != nil {
			// The record is safe; a leftover only loads the cluster. Go on.
			log.Warn("could not delete the finished workflow", "err", err)
		}
	}
	if rec.ControllerExited {
		return rec, &ControllerExitedError{Target: t.Name, Execution: p.DirName(), Err: errors.New(strings.TrimPrefix(rec.Error, controllerExited))}
	}
	return rec, nil
}

// controllerExited starts the error of an execution during which the
// controller stopped.
const controllerExited = "controller exited: "

// watchLiveness asks l every interval until ctx ends, and cancels ctx
// with a *ControllerExitedError cause after two failures in a row.
func watchLiveness(ctx context.Context, l Liveness, interval time.Duration, cancel context.CancelCauseFunc) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	failed := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		actx, acancel := context.WithTimeout(ctx, interval)
		err := l.Alive(actx)
		acancel()
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			failed = 0
			continue
		}
		if failed++; failed >= 2 {
			cancel(&ControllerExitedError{Err: err})
			return
		}
	}
}

func joinErr(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// run creates the Workflow, waits for a terminal phase within the
// workflow's timeout and reads the final object into rec. Outcomes of the
// execution itself (failed, timed out, deleted) go into rec; an error
// means the cluster refused the work or ctx ended.
func (r *runner) run(ctx context.Context, t Target, w *Workflow, obj *v1alpha1.Workflow, rec *rundir.Record) error {
	ectx, cancel := context.WithTimeout(ctx, w.Timeout)
	defer cancel()
	if t.Liveness != nil {
		// A controller that died between executions fails the next one
		// before its Workflow exists: nothing to clean up.
		if err := t.Liveness.Alive(ectx); err != nil && ctx.Err() == nil {
			rec.ControllerExited, rec.Error = true, controllerExited+err.Error()
			return nil
		}
	}
	// A refused connection means the request was never sent (the API
	// server restarting): creating again cannot create twice.
	if err := retryTransient(ectx, utilnet.IsConnectionRefused, func() error {
		rec.CreateSent = time.Now().UnixNano()
		return t.Client.Create(ectx, obj)
	}); err != nil {
		if ctx.Err() == nil && ectx.Err() != nil {
			// The create may have happened all the same.
			rec.TimedOut = true
			rec.Error = fmt.Sprintf("create did not return within the %s timeout", w.Timeout)
			if err := r.cleanup(t, obj.Name, nil); err != nil {
				rec.Error = joinErr(rec.Error, err.Error())
			}
			return nil
		}
		return fmt.Errorf("create workflow %s/%s: %w", obj.Namespace, obj.Name, err)
	}
	rec.Created = time.Now().UnixNano()
	wctx, wcancel := context.WithCancelCause(ectx)
	defer wcancel(nil)
	if t.Liveness != nil {
		go watchLiveness(wctx, t.Liveness, cmp.Or(r.opts.LivenessInterval, time.Second), wcancel)
	}
	final, err := waitTerminal(wctx, t.Client, obj)
	var exited *ControllerExitedError
	switch {
	case err == nil:
		rec.Observed = time.Now().UnixNano()
	case ctx.Err() != nil:
		return ctx.Err()
	case ectx.Err() == nil && errors.As(context.Cause(wctx), &exited):
		// Read the object as the dead controller left it, as evidence.
		rec.ControllerExited, rec.Error = true, controllerExited+exited.Err.Error()
	case ectx.Err() != nil:
		rec.TimedOut = true
		rec.Error = fmt.Sprintf("no terminal phase within the %s timeout", w.Timeout)
	case errors.Is(err, errDeleted):
		rec.Error = err.Error()
		return nil
	default:
		return err
	}
	fctx, fcancel := context.WithTimeout(ctx, fetchTimeout)
	defer fcancel()
	cur := &v1alpha1.Workflow{}
	if err := retryTransient(fctx, transient, func() error { return t.Client.Get(fctx, client.ObjectKeyFromObject(obj), cur) }); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if final == nil && !rec.TimedOut {
			return fmt.Errorf("read workflow %s/%s: %w", obj.Namespace, obj.Name, err)
		}
		// After a timeout the record says enough; after a terminal phase
		// the watched copy is final too. Keep it and say so.
		rec.Error = joinErr(rec.Error, fmt.Sprintf("read final object: %v", err))
		cur = final
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
func (r *runner) cleanup(t Target, name string, final *v1alpha1.Workflow) error {
	ctx, cancel := context.WithTimeout(context.Background(), r.opts.CleanupTimeout)
	defer cancel()
	names := []string{name}
	if final == nil {
		// Interrupted or timed out: read the status to learn the children.
		cur := &v1alpha1.Workflow{}
		if err := t.Client.Get(ctx, client.ObjectKey{Namespace: t.Namespace, Name: name}, cur); err == nil {
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
		w := &v1alpha1.Workflow{ObjectMeta: metav1.ObjectMeta{Namespace: t.Namespace, Name: n}}
		if err := t.Client.Delete(ctx, w, &client.DeleteOptions{PropagationPolicy: &bg}); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete workflow %s/%s: %w", t.Namespace, n, err))
			continue
		}
		if err := t.Client.DeleteAllOf(ctx, &corev1.Pod{}, client.InNamespace(t.Namespace),
			client.MatchingLabels{v1alpha1.LabelWorkflow: n}, client.PropagationPolicy(bg)); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete pods of workflow %s/%s: %w", t.Namespace, n, err))
		}
		if _, err := watchUntil(ctx, t.Client, t.Namespace, n, "", func(*v1alpha1.Workflow) bool { return false }); !errors.Is(err, errDeleted) {
			errs = append(errs, fmt.Errorf("wait for workflow %s/%s to be deleted: %w", t.Namespace, n, err))
		}
		// The pods' deletions (the kubelet's, or KWOK's, final delete) must
		// not overlap the next execution: their API writes would be
		// counted, and felt, there.
		if err := podsGone(ctx, t, n); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// podsGone waits until no pod of workflow n is left.
func podsGone(ctx context.Context, t Target, n string) error {
	err := wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		var pods corev1.PodList
		if err := t.Client.List(ctx, &pods, client.InNamespace(t.Namespace), client.MatchingLabels{v1alpha1.LabelWorkflow: n}); err != nil {
			return false, nil // retried until the cleanup timeout
		}
		return len(pods.Items) == 0, nil
	})
	if err != nil {
		return fmt.Errorf("wait for the pods of workflow %s/%s to be deleted: %w", t.Namespace, n, err)
	}
	return nil
}

// executionName is WORKFLOW-RUNID-SEQ-RANDOM: unique per attempt, so an
// execution run again after an interruption never meets its predecessor
// while that one is still being deleted; at most 63 characters so that it
// fits the label values pods carry.
func executionName(workflow, runID string, seq int) (string, error) {
	b := make([]byte, 2)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("execution name: %w", err)
	}
	name := fmt.Sprintf("%s-%s-%d-%s", workflow, runID, seq, hex.EncodeToString(b))
	if len(name) > 63 {
		return "", fmt.Errorf("execution name %q is longer than 63 characters", name)
	}
	return name, nil
}
