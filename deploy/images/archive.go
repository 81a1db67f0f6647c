package images

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/renameio/v2"
)

// OCILayoutDir is the OCI image layout WriteArchives writes beside the
// tarballs for several platforms.
const OCILayoutDir = "oci"

// Annotations naming an image in an OCI layout: the spec's, and
// containerd's (which `ctr images import` reads).
const (
	annotationRefName        = "org.opencontainers.image.ref.name"
	annotationContainerdName = "io.containerd.image.name"
)

// ArchiveName is the file WriteArchives writes for an image of a
// platform: <name>.tar for a one-platform build, else
// <name>-<os>-<arch>[-<variant>].tar.
func ArchiveName(image, platform string, platforms int) string {
	if platforms == 1 {
		return image + ".tar"
	}
	p, err := v1.ParsePlatform(platform)
	if err != nil {
		return image + ".tar"
	}
	return image + "-" + platformSlug(*p) + ".tar"
}

// WriteArchives writes into dir one docker-save tarball per image and
// platform (what `kind load image-archive`, `docker load` and
// `ctr images import` take; the tarball names the image by its Ref), and,
// for several platforms, an OCI image layout dir/oci holding every
// image's multi-arch index (what `crane push`, skopeo and
// `ctr images import` of its tar take; a docker-save tarball cannot hold
// an index). Each tarball is written whole or not at all.
func (r *Result) WriteArchives(ctx context.Context, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("output directory: %w", err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	for _, img := range r.Images {
		ref, err := name.NewTag(img.Ref)
		if err != nil {
			return fmt.Errorf("image %s: %w", img.Name, err)
		}
		for _, m := range img.Manifests {
			if err := ctx.Err(); err != nil {
				return err
			}
			path := filepath.Join(abs, ArchiveName(img.Name, m.Platform, len(img.Manifests)))
			if err := writeTarball(path, ref, m.image); err != nil {
				return fmt.Errorf("archive of %s for %s: %w", img.Name, m.Platform, err)
			}
			m.Archive = path
			slog.InfoContext(ctx, "image archive written", "ref", img.Ref, "platform", m.Platform, "archive", path)
		}
	}
	if len(r.Platforms) < 2 {
		return nil
	}
	// The layout is rewritten whole, so that an earlier build's indexes
	// never linger in its index.json.
	lp := filepath.Join(abs, OCILayoutDir)
	if err := os.RemoveAll(lp); err != nil {
		return fmt.Errorf("OCI layout: %w", err)
	}
	var adds []mutate.IndexAddendum
	for _, img := range r.Images {
		adds = append(adds, mutate.IndexAddendum{Add: img.index, Descriptor: v1.Descriptor{
			Annotations: map[string]string{annotationRefName: img.Ref, annotationContainerdName: img.Ref},
		}})
	}
	if _, err := layout.Write(lp, mutate.AppendManifests(empty.Index, adds...)); err != nil {
		return fmt.Errorf("OCI layout %s: %w", lp, err)
	}
	r.OCILayout = lp
	slog.InfoContext(ctx, "OCI layout written", "dir", lp)
	return nil
}

func writeTarball(path string, ref name.Reference, img v1.Image) error {
	f, err := renameio.NewPendingFile(path, renameio.WithPermissions(0o644))
	if err != nil {
		return err
	}
	defer f.Cleanup()
	if err := tarball.Write(ref, img, f); err != nil {
		return err
	}
	return f.CloseAtomicallyReplace()
}
