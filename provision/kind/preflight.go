package kind

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/benchctl/benchctl/provision/internal/provider"
)

// DefaultPreflightTimeout bounds each engine's `info` call. A running
// engine answers in well under a second; a stopped one fails at once. The
// bound only matters when a socket accepts but never answers, and keeps
// `benchctl provision --provider kind` failing fast in that case too.
const DefaultPreflightTimeout = 4 * time.Second

// Runner runs host commands; tests inject a fake so they need neither
// Docker nor Podman.
type Runner interface {
	LookPath(file string) (string, error)
	// CombinedOutput runs name with args and returns stdout and stderr.
	CombinedOutput(ctx context.Context, name string, args ...string) ([]byte, error)
}

// ExecRunner runs commands with os/exec.
type ExecRunner struct{}

// LookPath is exec.LookPath.
func (ExecRunner) LookPath(file string) (string, error) { return exec.LookPath(file) }

// CombinedOutput runs the command until it exits or ctx ends.
func (ExecRunner) CombinedOutput(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	// A helper the engine CLI spawned could keep the pipes open after
	// the kill; do not wait for it.
	cmd.WaitDelay = time.Second
	return cmd.CombinedOutput()
}

// Engine is a container engine that answered the preflight.
type Engine struct {
	// Name is "docker" or "podman".
	Name string
	// Path is the CLI's path.
	Path string
	// ServerVersion is what the engine reported about itself.
	ServerVersion string
}

// String is for logs and fingerprints, e.g. "docker 28.2.2".
func (e Engine) String() string { return e.Name + " " + e.ServerVersion }

// engines are tried in kind's own detection order; the format asks for
// the server's version, so an answer proves the engine (not only the CLI)
// works.
var engines = []struct {
	name, format string
}{
	{"docker", "{{.ServerVersion}}"},
	{"podman", "{{.Version.Version}}"},
}

// ErrNoEngine is wrapped by preflight errors, so callers can tell "no
// container engine" apart from a kind failure.
var ErrNoEngine = errors.New("no container engine is running")

// Preflight finds a container engine that answers. kind's own error when
// none does ("failed to get docker info") hides the reason, so this one
// names the engines it tried and quotes what each said.
func Preflight(ctx context.Context, r Runner, timeout time.Duration) (Engine, error) {
	if timeout <= 0 {
		timeout = DefaultPreflightTimeout
	}
	var found []string
	var said []string
	for _, e := range engines {
		path, err := r.LookPath(e.name)
		if err != nil {
			continue
		}
		found = append(found, e.name)
		ictx, cancel := context.WithTimeout(ctx, timeout)
		out, err := r.CombinedOutput(ictx, path, "info", "--format", e.format)
		timedOut := ictx.Err() == context.DeadlineExceeded
		cancel()
		if ctx.Err() != nil {
			return Engine{}, fmt.Errorf("container engine preflight: %w", ctx.Err())
		}
		text := strings.TrimSpace(string(out))
		if err == nil {
			// Output is combined, so warnings may precede the version.
			lines := strings.Split(text, "\n")
			if v := strings.TrimSpace(lines[len(lines)-1]); v != "" {
				return Engine{Name: e.name, Path: path, ServerVersion: v}, nil
			}
		}
		var reason string
		switch {
		case timedOut:
			reason = fmt.Sprintf("no answer within %s", timeout)
		case err == nil:
			reason = "it reported no server version"
		case text != "":
			reason = provider.OneLine(text)
		default:
			reason = err.Error()
		}
		said = append(said, fmt.Sprintf("`%s info` said: %s", e.name, reason))
	}
	if len(found) == 0 {
		return Engine{}, fmt.Errorf("%w: kind needs Docker or Podman, and neither `docker` nor `podman` is on PATH; install and start one (https://docs.docker.com/engine/install/ or https://podman.io/docs/installation), or use --provider local, which needs no container engine", ErrNoEngine)
	}
	return Engine{}, fmt.Errorf("%w: kind needs Docker or Podman; %s (start the engine, or use --provider local, which needs no container engine)", ErrNoEngine, strings.Join(said, "; "))
}
