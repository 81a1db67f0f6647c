package images

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// ldflags are the Makefile's version stamps (controller and admin), plus
// -s -w: symbol tables and DWARF only grow the image, nobody debugs in it.
func ldflags(version, commit string) string {
	var b strings.Builder
	b.WriteString("-s -w")
	for _, pkg := range []string{modulePath + "/controller", modulePath + "/controller/admin"} {
		fmt.Fprintf(&b, " -X %s.Version=%s -X %s.Commit=%s", pkg, version, pkg, commit)
	}
	return b.String()
}

// goBuild builds the main packages of specs for p into outDir, one binary
// per spec named after it. CGO_ENABLED=0 makes them static, for the
// empty base; GOWORK=off builds the source tree's own module whatever
// go.work lies above it.
func goBuild(ctx context.Context, goCmd, src, outDir string, p v1.Platform, version, commit string, specs []Spec) error {
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return fmt.Errorf("build directory: %w", err)
	}
	args := []string{"build", "-trimpath", "-ldflags", ldflags(version, commit), "-o", outDir + string(filepath.Separator)}
	var names []string
	for _, s := range specs {
		args = append(args, s.Package)
		names = append(names, s.Name)
	}
	env := append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+goArch[p.Architecture], "GOWORK=off")
	if p.Architecture == "arm" {
		env = append(env, "GOARM="+strings.TrimPrefix(p.Variant, "v"))
	}
	cmd := exec.CommandContext(ctx, goCmd, args...)
	cmd.Dir, cmd.Env = src, env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	slog.InfoContext(ctx, "building binaries", "platform", p.String(), "binaries", strings.Join(names, ","), "source", src)
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("go build for %s: %w", p, ctx.Err())
		}
		return fmt.Errorf("go build %s for %s in %s: %w\n%s", strings.Join(names, " "), p, src, err, strings.TrimSpace(stderr.String()))
	}
	slog.InfoContext(ctx, "built binaries", "platform", p.String(), "took", time.Since(start).Round(time.Millisecond))
	for _, n := range names {
		if _, err := os.Stat(filepath.Join(outDir, n)); err != nil {
			return fmt.Errorf("go build for %s wrote no %s: %w", p, n, err)
		}
	}
	return nil
}
