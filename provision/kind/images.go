package kind

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/benchctl/benchctl/provision"
)

// LoadImageArchives loads docker-save image archives (what
// `benchctl images build` writes) into every node of the benchctl kind
// cluster c, as `kind load image-archive` does: each node's containerd
// imports each archive (nodeutils.LoadImageArchive), so pods find the
// images without a registry. The archives are all checked before the
// engine is asked; with neither Docker nor Podman running the error
// says that one is needed (ErrNoEngine).
//
// Unlike LoadImages (one archive), the engine preflight and the node
// listing happen once for all the archives.
func (p *Provider) LoadImageArchives(ctx context.Context, c *provision.Cluster, archives ...string) error {
	name := kindName(c)
	if len(archives) == 0 {
		return fmt.Errorf("load images into kind cluster %s: no image archive given", name)
	}
	for _, a := range archives {
		st, err := os.Stat(a)
		if err != nil {
			return fmt.Errorf("image archive: %w", err)
		}
		if !st.Mode().IsRegular() {
			return fmt.Errorf("image archive %s is not a file (a docker-save tarball, such as benchctl images build writes)", a)
		}
	}
	engine, err := p.Preflight(ctx)
	if err != nil {
		return fmt.Errorf("load images into kind cluster %s: %w", name, err)
	}
	ns, err := p.kind(engine.Name).ListInternalNodes(name)
	if err != nil {
		return fmt.Errorf("list nodes of kind cluster %s: %w", name, err)
	}
	if len(ns) == 0 {
		return fmt.Errorf("kind cluster %s has no nodes; is it running? (benchctl clusters)", name)
	}
	for _, n := range ns {
		for _, a := range archives {
			if err := ctx.Err(); err != nil {
				return err
			}
			start := time.Now()
			if err := loadInto(n, a); err != nil {
				return fmt.Errorf("load %s into kind node %s: %w", a, n, err)
			}
			slog.InfoContext(ctx, "loaded image archive", "node", n.String(), "archive", a, "took", time.Since(start).Round(time.Millisecond))
		}
	}
	return nil
}
