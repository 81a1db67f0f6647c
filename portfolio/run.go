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

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/benchctl/benchctl/controller/api/v1alpha1"
	"github.com/benchctl/benchctl/portfolio/rundir"
)

// Target is where one deployment's executions run: for an A/B
// comparison, one Target per deployment.
type Target struct {
	// Name is the deployment's name, as the plan names it.
	Name string
	// Engine runs the target's executions. Nil means the bundled
	// controller's, from Namespace and Client.
	Engine Engine
	// Namespace is where the bundled controller's Workflows are created.
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

// Execution is what the engine and the hooks see of one execution.
type Execution struct {
	rundir.PlanEntry
	// RunID is the run's ID (the manifest's), which engines put on what
	// they create so that a resumed run finds its leftovers.
	RunID string
	// Entry is the compiled portfolio entry it executes.
	Entry *Workflow
	// Namespace and ExecutionID are where and under which ID the engine
	// created it (a Workflow's namespace and spec.executionID, the
	// controller's span attribute execution.id; a Flyte execution's
	// project/domain and project/domain/name); set for After.
	Namespace string
	// Name is the execution's name, unique per attempt.
	Name        string
	ExecutionID string
	// Dir is the execution's directory, for artifacts.
	Dir *rundir.Execution
	// Created is when the create call returned (unix ns); set for After.
	Created int64
	// Final is the Workflow as last read; set for After (nil if it
	// vanished before it finished, and for engines other than the bundled
	// controller).
	Final *v1alpha1.Workflow
	// Record is the execution's record as the runner and the engine fill
	// it in; the runner writes it once the execution is done.
	Record *rundir.Record
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
	targets  map[string]*target
}

// target is a Target with its engine resolved.
type target struct {
	Target
	engine Engine
}

func newRunner(dir *rundir.Dir, m *rundir.Manifest, c *Compiled, targets []Target, opts Options) (*runner, error) {
	if len(targets) == 0 {
		return nil, errors.New("portfolio run: no targets")
	}
	if opts.CleanupTimeout <= 0 {
		opts.CleanupTimeout = time.Minute
	}
	r := &runner{dir: dir, manifest: m, opts: opts, log: opts.Logger, compiled: c, targets: map[string]*target{}}
	if r.log == nil {
		r.log = slog.Default()
	}
	for _, t := range targets {
		switch {
		case t.Name == "":
			return nil, fmt.Errorf("portfolio run: target %+v needs a name", t)
		case t.Engine == nil && (t.Namespace == "" || t.Client == nil):
			return nil, fmt.Errorf("portfolio run: target %s needs an engine, or a namespace and a client for the bundled controller", t.Name)
		case len(t.Name) > 63:
			return nil, fmt.Errorf("portfolio run: target name %q is longer than a label value (63)", t.Name)
		}
		if _, dup := r.targets[t.Name]; dup {
			return nil, fmt.Errorf("portfolio run: target %q given twice", t.Name)
		}
		e := t.Engine
		if e == nil {
			e = &workflowEngine{target: t.Name, namespace: t.Namespace, client: t.Client, cleanupTimeout: opts.CleanupTimeout, log: r.log}
		}
		r.targets[t.Name] = &target{Target: t, engine: e}
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

// sweep has every target's engine remove what an earlier, interrupted
// invocation of the run left behind, except keep.
func (r *runner) sweep(ctx context.Context, keep map[string]bool) error {
	for _, name := range r.manifest.TargetNames() {
		if err := r.targets[name].engine.Prepare(ctx, r.manifest.RunID, keep); err != nil {
			return err
		}
	}
	return nil
}

// ErrVanished marks an execution that disappeared before it reached a
// terminal phase (its Workflow deleted, its Flyte execution gone): the
// execution is recorded as failed and the run goes on.
var ErrVanished = errors.New("the execution vanished before it reached a terminal phase")

// vanished is an error that is ErrVanished with a message of its own.
type vanished string

func (v vanished) Error() string      { return string(v) }
func (vanished) Is(target error) bool { return target == ErrVanished }

// execute runs one plan entry and writes its record. An error means the
// run cannot go on (interrupted, or the engine refuses the work).
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
	// Namespace and ExecutionID are the bundled controller's until the
	// engine's launch says otherwise.
	rec := &rundir.Record{PlanEntry: p, Namespace: t.Namespace, Name: name, ExecutionID: name, Began: time.Now().UnixNano()}
	if w.Template != nil {
		rec.Closure = w.Template.Spec.Closure.DeepCopy()
	}
	ex := &Execution{PlanEntry: p, RunID: r.manifest.RunID, Entry: w, Namespace: t.Namespace, Name: name, ExecutionID: name, Dir: dir, Record: rec}
	log := r.log.With("workflow", p.Workflow, "target", p.Target, "rep", p.Repetition, "warmup", p.Warmup, "name", name)

	// interrupted undoes the in-flight execution: the engine removes it
	// (a create interrupted on its way may have landed) and its directory
	// is removed, so a resume runs it afresh.
	interrupted := func(stage string) (*rundir.Record, error) {
		if rec.CreateSent != 0 {
			if err := t.engine.Cleanup(ex); err != nil {
				log.Warn("could not remove the interrupted execution; a resumed run does", "err", err)
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
		if err := r.run(ctx, t, ex); err != nil {
			if ctx.Err() != nil {
				return interrupted("running")
			}
			if rec.Created != 0 {
				if cerr := t.engine.Cleanup(ex); cerr != nil {
					log.Warn("cleanup failed", "err", cerr)
				}
			}
			return nil, err
		}
		// A dead controller has no spans or metrics to collect.
		if t.Hooks != nil && rec.Created != 0 && !rec.ControllerExited {
			ex.Namespace, ex.ExecutionID = rec.Namespace, rec.ExecutionID
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
		if err := t.engine.Cleanup(ex); err != nil {
			// The record is safe; a leftover only loads the cluster. Go on.
			log.Warn("could not remove the finished execution", "err", err)
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

// run launches the execution, waits for a terminal phase within the
// workflow's timeout and has the engine read the final state into the
// record. Outcomes of the execution itself (failed, timed out, vanished)
// go into the record; an error means the engine refused the work or ctx
// ended.
func (r *runner) run(ctx context.Context, t *target, x *Execution) error {
	rec, w := x.Record, x.Entry
	ectx, cancel := context.WithTimeout(ctx, w.Timeout)
	defer cancel()
	if t.Liveness != nil {
		// A controller that died between executions fails the next one
		// before it exists: nothing to clean up.
		if err := t.Liveness.Alive(ectx); err != nil && ctx.Err() == nil {
			rec.ControllerExited, rec.Error = true, controllerExited+err.Error()
			return nil
		}
	}
	if err := t.engine.Launch(ectx, x); err != nil {
		if ctx.Err() == nil && ectx.Err() != nil {
			// The create may have happened all the same.
			rec.TimedOut = true
			rec.Error = fmt.Sprintf("create did not return within the %s timeout", w.Timeout)
			if err := t.engine.Cleanup(x); err != nil {
				rec.Error = joinErr(rec.Error, err.Error())
			}
			return nil
		}
		return err
	}
	wctx, wcancel := context.WithCancelCause(ectx)
	defer wcancel(nil)
	if t.Liveness != nil {
		go watchLiveness(wctx, t.Liveness, cmp.Or(r.opts.LivenessInterval, time.Second), wcancel)
	}
	err := t.engine.Wait(wctx, x)
	var exited *ControllerExitedError
	switch {
	case err == nil:
		rec.Observed = time.Now().UnixNano()
	case ctx.Err() != nil:
		return ctx.Err()
	case ectx.Err() == nil && errors.As(context.Cause(wctx), &exited):
		// Read the execution as the dead controller left it, as evidence.
		rec.ControllerExited, rec.Error = true, controllerExited+exited.Err.Error()
	case ectx.Err() != nil:
		rec.TimedOut = true
		rec.Error = fmt.Sprintf("no terminal phase within the %s timeout", w.Timeout)
	case errors.Is(err, ErrVanished):
		rec.Error = err.Error()
		return nil
	default:
		return err
	}
	fctx, fcancel := context.WithTimeout(ctx, fetchTimeout)
	defer fcancel()
	err = t.engine.Settle(fctx, x)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
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
