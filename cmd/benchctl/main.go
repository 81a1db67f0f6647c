// Command benchctl benchmarks a Kubernetes workflow controller: it
// provisions a cluster, deploys the bundled controller under a named
// config, runs a workflow portfolio and aggregates the results into
// reports that 'benchctl diff' compares.
//
// This package binds flags, prints and maps errors to exit codes; the
// pipeline is in cmd/internal/bench and the stage packages.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/benchctl/benchctl/cmd/internal/bench"
	"github.com/benchctl/benchctl/deploy"
	"github.com/benchctl/benchctl/provision"
	"github.com/benchctl/benchctl/reports/redact"
)

// interruptSignals are the signals that interrupt a command: Ctrl-C and
// SIGTERM (what CI systems and kill send) alike.
var interruptSignals = []os.Signal{os.Interrupt, syscall.SIGTERM}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), interruptSignals...)
	go exitOnSecondSignal(ctx, stop, os.Stderr, os.Exit)
	err := newRootCmd().ExecuteContext(ctx)
	interrupted := ctx.Err() != nil
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", redact.String(err.Error()))
	}
	os.Exit(exitCode(err, interrupted))
}

// exitOnSecondSignal waits for the first interrupt (ctx done), then for a
// second one, on which it exits at once with 130: the first lets a run
// record what it has and clean up (undeploy, delete its Workflows), the
// second skips that cleanup. Records are written atomically, so the run
// directory stays resumable either way.
func exitOnSecondSignal(ctx context.Context, stop context.CancelFunc, stderr io.Writer, exit func(int)) {
	<-ctx.Done()
	again := make(chan os.Signal, 1)
	signal.Notify(again, interruptSignals...)
	stop()
	<-again
	fmt.Fprintln(stderr, "interrupted again: stopping now without cleaning up; continue the run with --resume")
	exit(exitInterrupted)
}

// Exit codes. They follow the convention CI systems expect: 0 success,
// 1 the work ran and found a failure (a regression, an invalid run),
// 2 the command could not do its work as asked (bad usage or input),
// 130 interrupted.
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

// exitCode maps an error to the exit code: the code it carries, 2 for
// input the user must fix (whichever stage found it), 130 for an
// interrupt, else 1.
func exitCode(err error, interrupted bool) int {
	if err == nil {
		return exitOK
	}
	var ee *exitError
	var ie *bench.InputError
	var ce *deploy.ConfigError
	switch {
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ie), errors.As(err, &ce), provision.IsUsageError(err):
		return exitUsage
	case interrupted || errors.Is(err, context.Canceled):
		return exitInterrupted
	}
	return exitFailure
}
