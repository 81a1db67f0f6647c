package portfolio

import "context"

// Engine is the thing that runs a target's workflows: the bundled
// controller (a Workflow object per execution, in a namespace) or a Flyte
// deployment (a registered launch plan's execution, through Flyte Admin).
// The runner owns everything engine-neutral: the plan's order, the
// records and the rule that each is written before the next execution
// starts, the timeout, interrupts, resume and the controller's liveness.
// An engine owns one execution's life: preparing for the run, launching,
// waiting and settling its outcome, and removing it. Around each
// execution the target's Hooks collect artifacts; measuring them is the
// aggregate package's, a pure function of the run directory.
//
// The runner calls an engine for one execution at a time, so an engine
// may keep the execution in flight in its own fields.
type Engine interface {
	// Prepare readies the engine before the run's first execution, and
	// again when a run resumes: it removes what an interrupted invocation
	// of run (the run ID) left behind, except the finished executions
	// named in keep.
	Prepare(ctx context.Context, run string, keep map[string]bool) error
	// Launch starts x, named x.Name. It sets x.Record's Namespace and
	// ExecutionID, CreateSent before each attempt of the create call and
	// Created once one returned. An error means the engine refused the
	// work, or ctx ended (the runner then tells a timeout from an
	// interrupt).
	Launch(ctx context.Context, x *Execution) error
	// Wait returns nil once x reached a terminal phase, ctx's error when
	// ctx ended first, or an error matching ErrVanished when x
	// disappeared.
	Wait(ctx context.Context, x *Execution) error
	// Settle reads x's final state into x.Record once Wait has returned
	// (also after a timeout or a controller's exit, as evidence): unless
	// the record says it timed out or its controller exited, the phase
	// reached and, for one other than success, the error.
	Settle(ctx context.Context, x *Execution) error
	// Cleanup removes x, or stops it if it is still running, within a
	// bound of its own: it also runs after the run's context has ended.
	Cleanup(x *Execution) error
}
