// Command benchctl benchmarks a Kubernetes workflow controller: it
// provisions a cluster, deploys the bundled controller under a named
// config, runs a workflow portfolio and aggregates the results into
// reports that `benchctl diff` compares.
//
// This package is cobra wiring only; the logic lives in the stage packages.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	interrupted := ctx.Err() != nil
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
	}
	os.Exit(exitCode(err, interrupted))
}

// Exit codes. They follow the convention CI systems expect: 0 success,
// 1 the work ran and found a failure (a regression, an invalid run),
// 2 the command could not do its work as asked (bad usage or input).
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2
	exitInterrupted = 130
)

// exitError carries an exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// withCode marks err with an exit code.
func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: code, err: err}
}

// usageError marks err as a usage error (exit code 2).
func usageError(err error) error { return withCode(exitUsage, err) }

func exitCode(err error, interrupted bool) int {
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if interrupted || errors.Is(err, context.Canceled) {
		return exitInterrupted
	}
	return exitFailure
}
