package flyte

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Terminal workflow execution phases (core.WorkflowExecution.Phase).
const (
	PhaseSucceeded = "SUCCEEDED"
	PhaseFailed    = "FAILED"
	PhaseAborted   = "ABORTED"
	PhaseTimedOut  = "TIMED_OUT"
)

// Terminal reports whether an execution phase is final.
func Terminal(phase string) bool {
	switch phase {
	case PhaseSucceeded, PhaseFailed, PhaseAborted, PhaseTimedOut:
		return true
	}
	return false
}

// Poll bounds the wait for a terminal phase: the first poll after
// Initial, each later one after twice the previous wait, at most Max.
type Poll struct {
	Initial, Max time.Duration
}

// DefaultPoll starts fine, to time short workflows closely, and backs off
// so that a long one costs Admin one read every few seconds.
var DefaultPoll = Poll{Initial: 100 * time.Millisecond, Max: 5 * time.Second}

// abortTimeout bounds the abort sent after a timeout or an interrupt,
// whose own context is already done.
const abortTimeout = 10 * time.Second

// ErrTimeout marks an execution aborted because it outran its timeout.
var ErrTimeout = errors.New("execution timed out")

// Launch creates the execution named name, or finds it when a create with
// that name already landed (a retried create, or a resumed run whose
// record was lost): execution names are fixed per planned execution, so
// a second create can never start it twice.
func (c *Client) Launch(ctx context.Context, name string, lp Identifier, inputs LiteralMap) (ExecutionID, error) {
	id, err := c.CreateExecution(ctx, name, lp, inputs)
	if errors.Is(err, ErrAlreadyExists) {
		return ExecutionID{Project: lp.Project, Domain: lp.Domain, Name: name}, nil
	}
	return id, err
}

// Wait polls the execution until its phase is terminal, backing off as p
// says, and returns it. Past timeout (0: none), when ctx ends, or when
// Admin keeps failing to answer, it aborts the execution, so that nothing
// runs on into the next one, and returns an error: ErrTimeout, ctx's
// error or Admin's.
func (c *Client) Wait(ctx context.Context, id ExecutionID, timeout time.Duration, p Poll) (*Execution, error) {
	if p.Initial <= 0 {
		p = DefaultPoll
	}
	wctx, cancel := ctx, context.CancelFunc(func() {})
	if timeout > 0 {
		wctx, cancel = context.WithTimeoutCause(ctx, timeout, ErrTimeout)
	}
	defer cancel()
	wait := p.Initial
	for {
		e, err := c.GetExecution(wctx, id)
		switch {
		case err == nil && Terminal(e.Closure.Phase):
			return e, nil
		case err == nil:
			err = c.sleep(wctx, wait)
			wait = min(2*wait, p.Max)
		}
		if err == nil {
			continue
		}
		if wctx.Err() != nil {
			err = context.Cause(wctx)
			if errors.Is(err, ErrTimeout) {
				err = fmt.Errorf("%w after %v", ErrTimeout, timeout)
			}
		}
		actx, acancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
		aerr := c.TerminateExecution(actx, id, "benchctl: "+err.Error())
		acancel()
		if aerr != nil && !errors.Is(aerr, ErrNotFound) {
			return nil, fmt.Errorf("execution %s: %w; aborting it failed too: %w", id, err, aerr)
		}
		return nil, fmt.Errorf("execution %s: %w (aborted)", id, err)
	}
}
