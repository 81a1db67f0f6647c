package main

import (
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/benchctl/benchctl/deploy/images"
)

func init() { register(newImagesCmd) }

func newImagesCmd(*globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "images",
		Short: "Build or push the controller's container images, in pure Go (no Docker)",
		Long: `Build the benchflow (controller), benchtask (task pods) and benchadmin (admin
service) images from a benchctl source tree, with no Docker, no Dockerfile
and no base image: each is a static Linux binary (CGO_ENABLED=0, -trimpath,
version and commit stamped as the Makefile does) in one layer on an empty
base, with /etc/passwd, /tmp and the host's CA bundle in a shared layer,
entrypoint /<name>, user 65532:65532 and OCI labels. The same tree gives
the same digests: every timestamp is the Unix epoch (or SOURCE_DATE_EPOCH).

Images are named REPO/<name>:TAG, REPO defaulting to ghcr.io/benchctl (the
chart's) and TAG to the source's commit (12 digits, "-dirty" for a modified
tree), the tag 'benchctl deploy --image-repo' points the chart at.`,
	}
	cmd.AddCommand(newImagesBuildCmd(), newImagesPushCmd())
	return cmd
}

// imageFlags are the flags build and push share.
type imageFlags struct {
	opts images.Options
}

func (f *imageFlags) bind(fs *pflag.FlagSet) {
	fs.StringVar(&f.opts.SourceDir, "controller-source", "", "benchctl source tree DIR to build (default: the one holding the working directory)")
	fs.StringSliceVar(&f.opts.Platforms, "platform", nil, "os/arch[/variant] to build for, comma-separated or repeated; several give multi-arch indexes (default "+images.HostPlatform()+")")
	fs.StringSliceVar(&f.opts.Images, "image", nil, "images to build: benchflow, benchtask, benchadmin (default: all)")
	fs.StringVar(&f.opts.Tag, "tag", "", "image tag (default: the source's commit)")
	fs.StringVar(&f.opts.CABundle, "ca-bundle", "", `CA certificates file to put in the images (default: the host's; "none": no CA bundle)`)
}

// imagesErr marks bad input (platform, reference, source) as a usage
// error; a failed build or push stays exit code 1.
func imagesErr(err error) error {
	var ie *images.InputError
	if errors.As(err, &ie) {
		return usageError(err)
	}
	return err
}

func newImagesBuildCmd() *cobra.Command {
	var (
		f      imageFlags
		output *outputFlag
		outDir string
	)
	cmd := &cobra.Command{
		Use:   "build --output-dir DIR",
		Short: "Build the images into archives for kind (or docker/ctr load)",
		Long: `Build the images and write them into --output-dir as archives:

  one platform     <name>.tar per image, a docker-save tarball naming the image
                   REPO/<name>:TAG: what 'kind load image-archive', 'docker load'
                   and 'ctr images import' take.
  several          <name>-<os>-<arch>.tar per image and platform (a docker-save
                   tarball holds no multi-arch index; a kind node loads its own
                   architecture's), and an OCI image layout DIR/oci whose
                   index.json names every image's multi-arch index.

Loading the archives into a kind cluster needs Docker or Podman (kind's nodes
are containers); building them needs only Go.`,
		Example: `  # Every image for this machine's architecture, from the current tree:
  benchctl images build --output-dir out/images

  # Then, on a machine with Docker or Podman and a kind cluster:
  #   kind load image-archive out/images/benchflow.tar --name benchctl-dev

  # A branch's tree, for amd64 and arm64 nodes, listed as JSON:
  benchctl images build --controller-source ../benchctl-main --platform linux/amd64,linux/arm64 --output-dir out/images -o json

  # Only the task image, tagged for a registry:
  benchctl images build --image benchtask --image-repo registry.example/bench --tag dev --output-dir out/images`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := output.check(); err != nil {
				return err
			}
			if outDir == "" {
				return usageError(fmt.Errorf("%s needs --output-dir DIR; see '%s --help'", cmd.CommandPath(), cmd.CommandPath()))
			}
			if _, err := images.ParsePlatforms(f.opts.Platforms); err != nil {
				return usageError(err)
			}
			fmt.Fprintln(cmd.ErrOrStderr(), "building images (the first build of a platform compiles every dependency: minutes)")
			res, err := images.Build(cmd.Context(), f.opts)
			if err != nil {
				return imagesErr(err)
			}
			defer res.Close()
			if err := res.WriteArchives(cmd.Context(), outDir); err != nil {
				return err
			}
			return printImages(cmd.OutOrStdout(), output.format, res, true)
		},
	}
	f.bind(cmd.Flags())
	cmd.Flags().StringVar(&f.opts.Repo, "image-repo", images.DefaultRepo, "repository the archives name the images in: REPO/<name>:TAG")
	cmd.Flags().StringVar(&outDir, "output-dir", "", "directory to write the archives to (required)")
	output = addOutputFlag(cmd, formatText, formatJSON, formatYAML)
	return cmd
}

func newImagesPushCmd() *cobra.Command {
	var (
		f      imageFlags
		output *outputFlag
	)
	cmd := &cobra.Command{
		Use:   "push --image-repo REPO",
		Short: "Build the images and push them to a registry",
		Long: `Build the images and push them to REPO/benchflow:TAG, REPO/benchtask:TAG and
REPO/benchadmin:TAG: a plain image for one platform, a multi-arch index for
several. Credentials are docker's: ~/.docker/config.json (or $DOCKER_CONFIG)
and its credential helpers, as 'docker login' or 'crane auth login' leave
them; no Docker daemon is needed. Loopback and private addresses are spoken
to over plain HTTP; --insecure-registry allows it for any.

Then 'benchctl deploy --image-repo REPO' points the chart at them (the tag
is the source's commit, which deploy uses too).`,
		Example: `  benchctl images push --image-repo registry.example/bench
  benchctl images push --image-repo ghcr.io/me/benchctl --tag v0.3.0 --platform linux/amd64,linux/arm64
  benchctl images push --image-repo 10.0.0.5:5000/bench --insecure-registry -o json`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := output.check(); err != nil {
				return err
			}
			if f.opts.Repo == "" {
				return usageError(fmt.Errorf("%s needs --image-repo REPO; see '%s --help'", cmd.CommandPath(), cmd.CommandPath()))
			}
			if _, err := images.ParsePlatforms(f.opts.Platforms); err != nil {
				return usageError(err)
			}
			fmt.Fprintln(cmd.ErrOrStderr(), "building images (the first build of a platform compiles every dependency: minutes)")
			res, err := images.Build(cmd.Context(), f.opts)
			if err != nil {
				return imagesErr(err)
			}
			defer res.Close()
			if err := res.Push(cmd.Context()); err != nil {
				return imagesErr(err)
			}
			return printImages(cmd.OutOrStdout(), output.format, res, false)
		},
	}
	f.bind(cmd.Flags())
	cmd.Flags().StringVar(&f.opts.Repo, "image-repo", "", "registry repository to push to: REPO/<name>:TAG (required)")
	cmd.Flags().BoolVar(&f.opts.Insecure, "insecure-registry", false, "allow plain HTTP to the registry")
	output = addOutputFlag(cmd, formatText, formatJSON, formatYAML)
	return cmd
}

// printImages writes the result: a line per image and platform, or the
// whole result as JSON or YAML.
func printImages(w io.Writer, format string, res *images.Result, archives bool) error {
	if format != formatText {
		return printData(w, format, res)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if archives {
		fmt.Fprintln(tw, "IMAGE\tPLATFORM\tDIGEST\tARCHIVE")
	} else {
		fmt.Fprintln(tw, "PUSHED\tPLATFORMS\tDIGEST")
	}
	for _, img := range res.Images {
		if !archives {
			fmt.Fprintf(tw, "%s\t%d\t%s\n", img.Ref, len(img.Manifests), img.Digest)
			continue
		}
		for _, m := range img.Manifests {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", img.Ref, m.Platform, m.Digest, m.Archive)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if res.OCILayout != "" {
		_, err := fmt.Fprintf(w, "OCI layout (multi-arch indexes): %s\n", res.OCILayout)
		return err
	}
	return nil
}
