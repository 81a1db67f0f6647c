// Package flyteengine is the portfolio runner's second engine: a Flyte
// deployment, driven through Flyte Admin's HTTP/JSON API (package
// flyte). Each planned execution of a flyte: entry creates one execution
// of the entry's registered launch plan under the runner's name for it,
// is polled to a terminal phase with a backing-off poll, and is aborted
// when it outruns its timeout or the run is interrupted. What it measures
// is collected by collect.Flyte; the aggregate package turns that into a
// report.
package flyteengine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/benchctl/benchctl/controller/api/v1alpha1"
	"github.com/benchctl/benchctl/portfolio"
	"github.com/benchctl/benchctl/portfolio/flyte"
)

// Engine is portfolio.Engine for a Flyte deployment.
type Engine struct {
	client *flyte.Client
	// scopes are the project/domain pairs the portfolio's entries run in.
	scopes [][2]string
	poll   flyte.Poll
	log    *slog.Logger

	// The execution in flight, and its terminal state as Wait saw it.
	id    flyte.ExecutionID
	final *flyte.Execution
}

var _ portfolio.Engine = (*Engine)(nil)

// Options tune an Engine.
type Options struct {
	// Poll bounds the wait for a terminal phase (default flyte.DefaultPoll).
	Poll   flyte.Poll
	Logger *slog.Logger
}

// New returns the engine for the flyte: entries of c, run through client.
func New(client *flyte.Client, c *portfolio.Compiled, o Options) (*Engine, error) {
	e := &Engine{client: client, poll: o.Poll, log: o.Logger}
	if e.poll.Initial <= 0 {
		e.poll = flyte.DefaultPoll
	}
	if e.log == nil {
		e.log = slog.Default()
	}
	for _, w := range c.Workflows {
		if w.Flyte == nil {
			return nil, fmt.Errorf("workflow %s is not a flyte: entry; the flyte engine runs only launch plans registered in Flyte", w.Name)
		}
		id := e.launchPlan(w.Flyte)
		if s := [2]string{id.Project, id.Domain}; !slices.Contains(e.scopes, s) {
			e.scopes = append(e.scopes, s)
		}
	}
	return e, nil
}

func (e *Engine) launchPlan(entry *flyte.Entry) flyte.Identifier {
	return entry.LaunchPlanID(e.client.Project(), e.client.Domain())
}

// Check asks Admin for its version and for every entry's launch plan, so
// that an unreachable Admin, refused credentials or a launch plan not
// registered fail the run before anything is recorded. It returns Admin's
// version.
func (e *Engine) Check(ctx context.Context, c *portfolio.Compiled) (flyte.Version, error) {
	v, err := e.client.GetVersion(ctx)
	if err != nil {
		return v, fmt.Errorf("flyte admin %s: %w", e.client.Endpoint(), err)
	}
	seen := map[string]bool{}
	for _, w := range c.Workflows {
		id := e.launchPlan(w.Flyte)
		if seen[id.String()] {
			continue
		}
		seen[id.String()] = true
		if _, err := e.client.GetLaunchPlan(ctx, id); err != nil {
			return v, fmt.Errorf("flyte admin %s: workflow %s: %w", e.client.Endpoint(), w.Name, err)
		}
	}
	return v, nil
}

// unfinished are the phases of an execution that has not ended.
var unfinished = []string{"UNDEFINED", "QUEUED", "RUNNING", "SUCCEEDING", "FAILING", "ABORTING"}

// Prepare aborts the run's executions that an interrupted invocation
// left running (a kill -9 gives the runner no chance to): their names
// contain the run ID. Finished ones stay, as Admin keeps every
// execution. A listing Admin refuses is a warning: the run can go on,
// but a leftover would load the deployment.
func (e *Engine) Prepare(ctx context.Context, run string, _ map[string]bool) error {
	filter := fmt.Sprintf("contains(execution_name,%s)+value_in(phase,%s)", run, strings.Join(unfinished, ";"))
	for _, s := range e.scopes {
		left, err := e.client.ListExecutions(ctx, s[0], s[1], filter)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			e.log.WarnContext(ctx, "could not look for executions an interrupted run left running; one still running would load the deployment",
				"project", s[0], "domain", s[1], "err", err)
			continue
		}
		for _, x := range left {
			if !strings.Contains(x.ID.Name, run) || flyte.Terminal(x.Closure.Phase) {
				continue // the filter is Admin's to apply; check it here too
			}
			e.log.InfoContext(ctx, "aborting an execution an interrupted run left running", "execution", x.ID)
			if err := e.abort(x.ID, "benchctl: left running by an interrupted run of "+run); err != nil {
				return err
			}
		}
	}
	return nil
}

// Launch creates the execution of the entry's launch plan.
func (e *Engine) Launch(ctx context.Context, x *portfolio.Execution) error {
	entry := x.Entry.Flyte
	if entry == nil {
		return fmt.Errorf("workflow %s is not a flyte: entry; the flyte engine cannot run it", x.Entry.Name)
	}
	lp := e.launchPlan(entry)
	inputs, err := entry.LiteralMap()
	if err != nil {
		return err
	}
	e.id, e.final = flyte.ExecutionID{Project: lp.Project, Domain: lp.Domain, Name: x.Name}, nil
	rec := x.Record
	rec.Namespace, rec.ExecutionID = lp.Project+"/"+lp.Domain, e.id.String()
	// The harness's instants of the create call (Admin's own instants are
	// what aggregation measures from).
	rec.CreateSent = time.Now().UnixNano()
	if _, err := e.client.Launch(ctx, x.Name, lp, inputs); err != nil {
		return fmt.Errorf("create execution %s of launch plan %s: %w", e.id, lp, err)
	}
	rec.Created = time.Now().UnixNano()
	return nil
}

// Wait polls the execution to a terminal phase. When ctx ends first (the
// timeout, an interrupt) the client has aborted the execution.
func (e *Engine) Wait(ctx context.Context, _ *portfolio.Execution) error {
	final, err := e.client.Wait(ctx, e.id, 0, e.poll)
	if errors.Is(err, flyte.ErrNotFound) && ctx.Err() == nil {
		return fmt.Errorf("%w: %w", portfolio.ErrVanished, err)
	}
	e.final = final
	return err
}

// phases maps Admin's terminal phases onto the record's.
var phases = map[string]v1alpha1.WorkflowPhase{
	flyte.PhaseSucceeded: v1alpha1.WorkflowSucceeded,
	flyte.PhaseFailed:    v1alpha1.WorkflowFailed,
	flyte.PhaseAborted:   v1alpha1.WorkflowAborted,
	flyte.PhaseTimedOut:  "TimedOut",
}

// Settle records the phase the execution ended in and, if it did not
// succeed, why. After a timeout it reads the execution as evidence only.
func (e *Engine) Settle(ctx context.Context, x *portfolio.Execution) error {
	rec := x.Record
	ex := e.final
	if ex == nil {
		var err error
		if ex, err = e.client.GetExecution(ctx, e.id); err != nil {
			if rec.TimedOut || rec.ControllerExited {
				rec.Error += fmt.Sprintf("; read the execution: %v", err)
				return nil
			}
			return fmt.Errorf("read execution %s: %w", e.id, err)
		}
	}
	if rec.TimedOut || rec.ControllerExited {
		return nil
	}
	c := ex.Closure
	rec.Phase = phases[c.Phase]
	if rec.Phase == "" {
		rec.Phase = v1alpha1.WorkflowPhase(c.Phase)
	}
	if c.Phase != flyte.PhaseSucceeded {
		why := c.AbortCause
		if c.Error != nil {
			why = c.Error.Message
		}
		rec.Error = fmt.Sprintf("execution %s %s: %s", e.id, c.Phase, why)
	}
	return nil
}

// Cleanup aborts the execution if it is still running: Admin keeps
// every execution, so there is nothing to delete.
func (e *Engine) Cleanup(x *portfolio.Execution) error {
	if e.final != nil && flyte.Terminal(e.final.Closure.Phase) {
		return nil
	}
	return e.abort(e.id, "benchctl: the run stopped this execution")
}

// abortTimeout bounds an abort, which also runs after the run's context
// has ended.
const abortTimeout = 30 * time.Second

// abort terminates an execution unless it already ended (Admin refuses
// to abort one that has, and one that is gone is no load).
func (e *Engine) abort(id flyte.ExecutionID, cause string) error {
	ctx, cancel := context.WithTimeout(context.Background(), abortTimeout)
	defer cancel()
	cur, err := e.client.GetExecution(ctx, id)
	switch {
	case errors.Is(err, flyte.ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("abort execution %s: %w", id, err)
	case flyte.Terminal(cur.Closure.Phase):
		return nil
	}
	if err := e.client.TerminateExecution(ctx, id, cause); err != nil && !errors.Is(err, flyte.ErrNotFound) {
		return fmt.Errorf("abort execution %s: %w", id, err)
	}
	return nil
}
