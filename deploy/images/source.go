package images

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

const modulePath = "github.com/benchctl/benchctl"

// Source is a resolved benchctl source tree and how it identifies itself.
type Source struct {
	Dir string
	// Version is `git describe --tags --always --dirty` (the Makefile's
	// VERSION), "dev" outside git.
	Version string
	// Commit is the 12-digit commit with "-dirty" for a modified tree
	// (deploy.Source's convention, so that tags agree), "unknown" outside
	// git.
	Commit string
	// Revision is the full commit hash ("" outside git).
	Revision string
}

// ResolveSource finds the source tree: dir if given, else the benchctl
// module holding the working directory. deploy.Source also builds git
// refs through worktrees, but for the host only; images build from a
// directory (a worktree of the ref, for a branch).
func ResolveSource(ctx context.Context, dir string) (Source, error) {
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return Source{}, fmt.Errorf("working directory: %w", err)
		}
		if dir, err = findModule(wd); err != nil {
			return Source{}, err
		}
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Source{}, fmt.Errorf("--controller-source %s: %w", dir, err)
	}
	if st, err := os.Stat(abs); err != nil || !st.IsDir() {
		return Source{}, inputErrorf("--controller-source %q is not a directory; images build from a source tree (for a git ref, check it out with git worktree add)", dir)
	}
	if err := checkModule(abs); err != nil {
		return Source{}, err
	}
	s := Source{Dir: abs, Version: "dev", Commit: "unknown"}
	if rev, err := git(ctx, abs, "rev-parse", "HEAD"); err == nil && len(rev) >= 12 {
		s.Revision, s.Commit = rev, rev[:12]
		if st, err := git(ctx, abs, "status", "--porcelain", "--untracked-files=no"); err == nil && st != "" {
			s.Commit += "-dirty"
		}
		if v, err := git(ctx, abs, "describe", "--tags", "--always", "--dirty"); err == nil && v != "" {
			s.Version = v
		}
	}
	return s, nil
}

// findModule walks up from dir to the directory whose go.mod is the
// benchctl module.
func findModule(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		if b, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil && isModule(b) {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", inputErrorf("%s is not inside a benchctl source tree; pass --controller-source DIR", dir)
		}
	}
}

func isModule(gomod []byte) bool {
	for _, line := range strings.Split(string(gomod), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "module" && strings.Trim(f[1], `"`) == modulePath {
			return true
		}
	}
	return false
}

// checkModule is deploy's check: the module, and the controller's main
// package in it.
func checkModule(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return inputErrorf("%s is not a benchctl source tree: %w", dir, err)
	}
	if !isModule(b) {
		return inputErrorf("%s/go.mod is not module %s", dir, modulePath)
	}
	if _, err := os.Stat(filepath.Join(dir, "controller", "cmd", "benchflow")); err != nil {
		return inputErrorf("%s has no controller/cmd/benchflow", dir)
	}
	return nil
}

func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}
