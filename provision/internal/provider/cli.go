package provider

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"al.essio.dev/pkg/shellescape"

	"github.com/benchctl/benchctl/provision"
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

// ExecRunner runs commands with os/exec.
type ExecRunner struct{}

// LookPath is exec.LookPath.
func (ExecRunner) LookPath(file string) (string, error) { return exec.LookPath(file) }

// Run runs c, streaming its output to w. On cancellation the CLI gets
// SIGINT first, so it can stop cleanly (eksctl then says what it left
// behind, gcloud reports the operation it started), and is killed a
// minute later if it has not exited.
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

// Output runs c and returns what it wrote to stdout and to stderr.
func (ExecRunner) Output(ctx context.Context, c Command) ([]byte, []byte, error) {
	cmd := exec.CommandContext(ctx, c.Name, c.Args...)
	cmd.Env = append(os.Environ(), c.Env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), stderr.Bytes(), fmt.Errorf("%s: %w", c.Name, err)
	}
	return stdout.Bytes(), stderr.Bytes(), nil
}

// PathFinder finds programs on PATH; tests fake it.
type PathFinder interface {
	LookPath(file string) (string, error)
}

// Tool is a CLI a provider needs, with how to get it.
type Tool struct {
	Names   []string // any one of them will do
	Purpose string
	Install string
}

// MissingTools lists the tools of which no name is on PATH.
func MissingTools(r PathFinder, tools []Tool) []Tool {
	var missing []Tool
	for _, t := range tools {
		found := false
		for _, n := range t.Names {
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

// DescribeMissing says, in one line, what each missing tool is for and
// how to install it.
func DescribeMissing(missing []Tool) string {
	var b bytes.Buffer
	for i, t := range missing {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s (%s) is not on PATH: %s", strings.Join(t.Names, " or "), t.Purpose, t.Install)
	}
	return b.String()
}

// RequireTools fails with one message naming every missing tool. The
// error wraps errMissing, the calling provider's own sentinel.
func RequireTools(r PathFinder, tools []Tool, errMissing error) error {
	if missing := MissingTools(r, tools); len(missing) > 0 {
		return fmt.Errorf("%w: %s", errMissing, DescribeMissing(missing))
	}
	return nil
}

// WriteDryRunHeader starts a cloud provider's dry-run plan: it says that
// nothing runs, and names the tools a real run would stop for.
func WriteDryRunHeader(b *strings.Builder, providerName, cluster string, r PathFinder, tools []Tool) {
	fmt.Fprintf(b, "# %s dry run for cluster %q: nothing is run and nothing is written.\n", providerName, cluster)
	if missing := MissingTools(r, tools); len(missing) > 0 {
		fmt.Fprintf(b, "# note: a real run would stop here: %s\n", DescribeMissing(missing))
	}
}

// DefaultDeleteTimeout bounds the automatic removal of a cloud cluster
// that was created but cannot be reached.
const DefaultDeleteTimeout = 45 * time.Minute

// Runner runs a command, streaming its output to w.
type Runner interface {
	Run(ctx context.Context, c Command, w io.Writer) error
}

// DeleteCreated runs del to delete a cloud cluster benchctl has just
// created but could not finish; noun names it in the log ("EKS cluster").
// It runs even if ctx was cancelled, since a forgotten cloud cluster costs
// money, for at most timeout (DefaultDeleteTimeout if 0).
func DeleteCreated(ctx context.Context, r Runner, log io.Writer, timeout time.Duration, noun string, del Command) error {
	if timeout <= 0 {
		timeout = DefaultDeleteTimeout
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	slog.WarnContext(ctx, "removing the "+noun+" that was just created", "command", del.String())
	if err := r.Run(ctx, del, log); err != nil {
		return fmt.Errorf("removing it also failed: %w; remove it by hand with: %s", err, del.Manual())
	}
	return nil
}

// Keys of provision.Cluster.Extra that the cloud providers (eks, gke)
// both record.
const (
	ExtraRegion   = "region"
	ExtraZone     = "zone"
	ExtraNodeType = "nodeType"
	ExtraVersion  = "requestedVersion"
)

// CloudOptions are the fingerprint options of a cloud cluster: what was
// asked for, from its record.
func CloudOptions(c *provision.Cluster) map[string]string {
	return map[string]string{
		"region":           c.Extra[ExtraRegion],
		"zone":             c.Extra[ExtraZone],
		"nodeType":         c.Extra[ExtraNodeType],
		"requestedVersion": c.Extra[ExtraVersion],
		"requestedNodes":   strconv.Itoa(c.Nodes),
	}
}
