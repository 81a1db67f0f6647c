package deploy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
)

// Source says where the controller under test comes from: the one built
// into benchctl, a source tree, or a git ref built through a worktree.
// Comparing two branches rests on the last.
type Source struct {
	// Spec is "" for the bundled controller, a directory holding a benchctl
	// source tree, or a git ref (branch, tag, commit) of RepoDir.
	Spec string
	// Bundled is the command that runs the bundled controller, e.g.
	// [/path/to/benchctl controller], and BundledAdmin the one that runs
	// its admin service ([/path/to/benchctl admin]).
	Bundled      []string
	BundledAdmin []string
	// BundledChart is the chart embedded in benchctl.
	BundledChart fs.FS
	// BundledVersion and BundledCommit identify benchctl's build.
	BundledVersion, BundledCommit string
	// CacheDir keeps built controllers and worktrees
	// (<cache>/controllers/<commit>/, <cache>/worktrees/<commit>/).
	CacheDir string
	// RepoDir resolves git refs (default: the working directory).
	RepoDir string
}

// ControllerBuild is a resolved controller: how to run it and its chart.
type ControllerBuild struct {
	// Command runs the controller; deploy appends its flags.
	Command []string
	// Admin runs the admin service of the same source, or is nil for a
	// source older than the service (whose chart never asks for it).
	Admin   []string
	Version string
	Commit  string
	Source  string
	// SourceDir is the tree it was built from (a directory, or a ref's
	// worktree); empty for the bundled controller.
	SourceDir string
	chartFS   fs.FS
}

// LoadChart loads the chart that belongs to this controller build.
func (b *ControllerBuild) LoadChart() (*chart.Chart, error) {
	if b.chartFS == nil {
		return nil, errors.New("no chart for this controller build")
	}
	return loadChartFS(b.chartFS)
}

const modulePath = "github.com/benchctl/benchctl"

// Resolve finds or builds the controller.
func (s Source) Resolve(ctx context.Context, progress io.Writer) (*ControllerBuild, error) {
	if s.Spec == "" {
		if len(s.Bundled) == 0 || s.BundledChart == nil {
			return nil, errors.New("no bundled controller in this build of benchctl; use --controller-source DIR|REF")
		}
		return &ControllerBuild{Command: s.Bundled, Admin: s.BundledAdmin, Version: s.BundledVersion, Commit: s.BundledCommit, Source: "bundled", chartFS: s.BundledChart}, nil
	}
	if st, err := os.Stat(s.Spec); err == nil && st.IsDir() {
		return s.buildDir(ctx, s.Spec, progress)
	}
	return s.buildRef(ctx, progress)
}

// buildDir builds the controller of a source tree. Dirty trees are built
// every time (the Go build cache keeps that quick); the commit is marked
// "-dirty" so a report never claims a clean commit it did not run.
func (s Source) buildDir(ctx context.Context, dir string, progress io.Writer) (*ControllerBuild, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := checkModule(dir); err != nil {
		return nil, err
	}
	commit := "unknown"
	if out, err := git(ctx, dir, "rev-parse", "--short=12", "HEAD"); err == nil {
		commit = out
		if st, err := git(ctx, dir, "status", "--porcelain", "--untracked-files=no"); err == nil && st != "" {
			commit += "-dirty"
		}
	}
	out := filepath.Join(s.CacheDir, "controllers", "dir-"+sanitize(dir), "benchflow")
	if err := goBuild(ctx, dir, out, commit, progress); err != nil {
		return nil, err
	}
	b := &ControllerBuild{Command: []string{out}, Version: commit, Commit: commit, Source: dir, SourceDir: dir, chartFS: os.DirFS(filepath.Join(dir, "controller", "chart"))}
	if b.Admin, err = buildAdmin(ctx, dir, filepath.Dir(out), commit, false, progress); err != nil {
		return nil, err
	}
	return b, nil
}

// buildRef checks the ref out into a cached worktree and builds it once
// per commit.
func (s Source) buildRef(ctx context.Context, progress io.Writer) (*ControllerBuild, error) {
	repo := s.RepoDir
	if repo == "" {
		repo = "."
	}
	sha, err := git(ctx, repo, "rev-parse", "--verify", "--quiet", s.Spec+"^{commit}")
	if err != nil {
		return nil, fmt.Errorf("--controller-source %q is neither a directory nor a git ref of %s", s.Spec, repo)
	}
	wt := filepath.Join(s.CacheDir, "worktrees", sha)
	if _, err := os.Stat(filepath.Join(wt, "go.mod")); err != nil {
		fmt.Fprintf(progress, "  checking out %s (%s) into %s\n", s.Spec, sha[:12], wt)
		_, _ = git(ctx, repo, "worktree", "prune")
		if _, err := git(ctx, repo, "worktree", "add", "--detach", "--force", wt, sha); err != nil {
			return nil, fmt.Errorf("git worktree for %s: %w", s.Spec, err)
		}
	}
	if err := checkModule(wt); err != nil {
		return nil, fmt.Errorf("ref %s: %w", s.Spec, err)
	}
	out := filepath.Join(s.CacheDir, "controllers", sha, "benchflow")
	if _, err := os.Stat(out); err != nil {
		if err := goBuild(ctx, wt, out, sha[:12], progress); err != nil {
			return nil, err
		}
	}
	b := &ControllerBuild{Command: []string{out}, Version: s.Spec, Commit: sha[:12], Source: s.Spec, SourceDir: wt, chartFS: os.DirFS(filepath.Join(wt, "controller", "chart"))}
	if b.Admin, err = buildAdmin(ctx, wt, filepath.Dir(out), sha[:12], true, progress); err != nil {
		return nil, err
	}
	return b, nil
}

// buildAdmin builds the admin service of a source tree into dir, when the
// tree has one; cached builds are reused for commits, which never change.
func buildAdmin(ctx context.Context, src, dir, commit string, cached bool, progress io.Writer) ([]string, error) {
	if _, err := os.Stat(filepath.Join(src, "controller", "cmd", "benchadmin")); err != nil {
		return nil, nil
	}
	out := filepath.Join(dir, "benchadmin")
	if _, err := os.Stat(out); cached && err == nil {
		return []string{out}, nil
	}
	if err := goBuildPkg(ctx, src, out, commit, "./controller/cmd/benchadmin", progress); err != nil {
		return nil, err
	}
	return []string{out}, nil
}

func checkModule(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return fmt.Errorf("%s is not a benchctl source tree: %w", dir, err)
	}
	if !bytes.Contains(b, []byte("module "+modulePath+"\n")) {
		return fmt.Errorf("%s/go.mod is not module %s", dir, modulePath)
	}
	if _, err := os.Stat(filepath.Join(dir, "controller", "cmd", "benchflow")); err != nil {
		return fmt.Errorf("%s has no controller/cmd/benchflow", dir)
	}
	return nil
}

func goBuild(ctx context.Context, dir, out, commit string, progress io.Writer) error {
	return goBuildPkg(ctx, dir, out, commit, "./controller/cmd/benchflow", progress)
}

func goBuildPkg(ctx context.Context, dir, out, commit, pkg string, progress io.Writer) error {
	fmt.Fprintf(progress, "  building %s of %s\n", path.Base(pkg), dir)
	tmp := out + ".tmp"
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath",
		"-ldflags", "-X "+modulePath+"/controller.Version="+commit+" -X "+modulePath+"/controller.Commit="+commit+
			" -X "+modulePath+"/controller/admin.Version="+commit+" -X "+modulePath+"/controller/admin.Commit="+commit,
		"-o", tmp, pkg)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build controller in %s: %w\n%s", dir, err, stderr.String())
	}
	return os.Rename(tmp, out)
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

func sanitize(p string) string {
	return strings.NewReplacer("/", "_", " ", "_").Replace(strings.TrimPrefix(p, "/"))
}
