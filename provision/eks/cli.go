package eks

import (
	"context"
	"errors"
	"io"

	"github.com/benchctl/benchctl/provision/internal/provider"
)

// Command is one CLI invocation.
type Command = provider.Command

// Runner runs CLI commands; tests inject a fake so they need no eksctl.
type Runner interface {
	LookPath(file string) (string, error)
	// Run runs the command, streaming its output to w.
	Run(ctx context.Context, c Command, w io.Writer) error
}

// ExecRunner runs commands with os/exec.
type ExecRunner = provider.ExecRunner

// ErrCLIMissing is wrapped when a needed CLI is not on PATH.
var ErrCLIMissing = errors.New("missing command-line tool")
