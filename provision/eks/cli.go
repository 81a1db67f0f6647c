package eks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"al.essio.dev/pkg/shellescape"
)

// Command is one CLI invocation.
type Command struct {
	// Name is the program, looked up on PATH.
	Name string
	Args []string
	// Env is added to benchctl's own environment (KEY=VALUE).
	Env []string
}

// String renders the command as a shell line a user can paste.
func (c Command) String() string {
	parts := make([]string, 0, len(c.Env)+1+len(c.Args))
	for _, e := range c.Env {
		k, v, _ := strings.Cut(e, "=")
		parts = append(parts, k+"="+shellescape.Quote(v))
	}
	parts = append(parts, shellescape.QuoteCommand(append([]string{c.Name}, c.Args...)))
	return strings.Join(parts, " ")
}

// Manual renders the command for a user to run by hand, without the
// KUBECONFIG benchctl sets: the hint may outlive the state directory.
func (c Command) Manual() string {
	return shellescape.QuoteCommand(append([]string{c.Name}, c.Args...))
}

// Runner runs CLI commands; tests inject a fake so they need no eksctl.
type Runner interface {
	LookPath(file string) (string, error)
	// Run runs the command, streaming its output to w.
	Run(ctx context.Context, c Command, w io.Writer) error
}

// ExecRunner runs commands with os/exec.
type ExecRunner struct{}

// LookPath is exec.LookPath.
func (ExecRunner) LookPath(file string) (string, error) { return exec.LookPath(file) }

// Run runs c. On cancellation the CLI gets SIGINT first, so it can stop
// cleanly (eksctl then says what it left behind), and is killed a minute
// later if it has not exited.
func (ExecRunner) Run(ctx context.Context, c Command, w io.Writer) error {
	cmd := exec.CommandContext(ctx, c.Name, c.Args...)
	cmd.Env = append(os.Environ(), c.Env...)
	cmd.Stdout, cmd.Stderr = w, w
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGINT) }
	cmd.WaitDelay = time.Minute
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w", c.Name, err)
	}
	return nil
}

// tool is a CLI benchctl needs, with how to get it.
type tool struct {
	names   []string // any one of them will do
	purpose string
	install string
}

// ErrCLIMissing is wrapped when a needed CLI is not on PATH.
var ErrCLIMissing = errors.New("missing command-line tool")

// missingTools lists the tools of which no name is on PATH.
func missingTools(r Runner, tools []tool) []tool {
	var missing []tool
	for _, t := range tools {
		found := false
		for _, n := range t.names {
			if _, err := r.LookPath(n); err == nil {
				found = true
				break
			}
		}
		if !found {
			missing = append(missing, t)
		}
	}
	return missing
}

func describeMissing(missing []tool) string {
	var b bytes.Buffer
	for i, t := range missing {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s (%s) is not on PATH: %s", strings.Join(t.names, " or "), t.purpose, t.install)
	}
	return b.String()
}

// requireTools fails with one message naming every missing tool.
func requireTools(r Runner, tools []tool) error {
	if missing := missingTools(r, tools); len(missing) > 0 {
		return fmt.Errorf("%w: %s", ErrCLIMissing, describeMissing(missing))
	}
	return nil
}
