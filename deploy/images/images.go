// Package images builds the controller's container images in pure Go,
// with no Docker: static binaries from a benchctl source tree, each in
// one layer on an empty base, written as archives a kind node can load or
// pushed to a registry.
//
// Three images come from one source tree: benchflow (the controller),
// benchtask (the task pods' user code) and benchadmin (the admin
// service). Each is
//
//	layer 1  /etc/passwd, /etc/group (user nonroot 65532), /tmp (1777),
//	         /home/nonroot and, unless disabled, the host's CA bundle at
//	         /etc/ssl/certs/ca-certificates.crt (S3, GCS and OTLP over TLS
//	         need it); the same for every image, so stored once
//	layer 2  the binary at /<name>, mode 0755
//
// with the entrypoint /<name>, user 65532:65532 and the OCI labels title,
// description, version, revision and source. Builds are reproducible:
// binaries are built with -trimpath, and every timestamp (file times and
// the config's created) is the Unix epoch unless SOURCE_DATE_EPOCH or
// Options.Created says otherwise, so the same tree gives the same digests.
package images

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	corev1 "k8s.io/api/core/v1"
)

// Image names; the pushed references are REPO/<name>:TAG.
const (
	Controller = "benchflow"
	Task       = "benchtask"
	Admin      = "benchadmin"
)

// DefaultRepo is where the chart pulls the images from unless told
// otherwise (controller/chart/values.yaml).
const DefaultRepo = "ghcr.io/benchctl"

// SourceURL is the org.opencontainers.image.source label.
const SourceURL = "https://" + modulePath

// User is the images' user and group: distroless's nonroot, numeric so
// that the chart's runAsNonRoot can be checked by the kubelet.
const User = "65532:65532"

// Spec describes one image: its name (also the binary's and the
// entrypoint's) and the main package that builds it.
type Spec struct {
	Name        string
	Package     string
	Description string
}

// Specs are the images a source tree builds, in build order.
var Specs = []Spec{
	{Controller, "./controller/cmd/benchflow", "benchctl's bundled workflow controller, the system under test"},
	{Task, "./controller/cmd/benchtask", "the user code of every benchctl task pod"},
	{Admin, "./controller/cmd/benchadmin", "the admin service the controller reports events to"},
}

// Names are the names of Specs.
func Names() []string {
	var out []string
	for _, s := range Specs {
		out = append(out, s.Name)
	}
	return out
}

// InputError is input the caller must fix: a bad platform, reference,
// image name or source directory. The CLI maps it to exit code 2.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

func inputErrorf(format string, args ...any) error {
	return &InputError{Err: fmt.Errorf(format, args...)}
}

// Options say what to build.
type Options struct {
	// SourceDir is a benchctl source tree (default: the one holding the
	// working directory, found through its go.mod).
	SourceDir string
	// Platforms are os/arch[/variant] strings (default: linux/<host arch>).
	// One platform gives plain images; several give multi-arch indexes.
	Platforms []string
	// Images are the names of the images to build (default: all Specs).
	Images []string
	// Repo names the images REPO/<name>:Tag, in archives and when pushed
	// (default DefaultRepo).
	Repo string
	// Tag defaults to Commit, the convention deploy uses for --image-repo.
	Tag string
	// Version and Commit are stamped into the binaries with -ldflags, as
	// the Makefile does, and into the labels. They default to
	// `git describe --tags --always --dirty` and the 12-digit commit
	// (with "-dirty" for a modified tree), as deploy's source builds do.
	Version, Commit string
	// CABundle is the CA certificates file copied into the images: ""
	// finds the host's (see DefaultCABundle), "none" leaves it out.
	CABundle string
	// Created is every timestamp in the images (default:
	// SOURCE_DATE_EPOCH, else the Unix epoch: reproducible). A non-zero
	// value also sets the org.opencontainers.image.created label.
	Created time.Time
	// Insecure allows plain HTTP to the registry when pushing (loopback
	// and private addresses get it without asking).
	Insecure bool
	// WorkDir keeps the binaries and layers until Result.Close (default:
	// a new temporary directory).
	WorkDir string
	// GoCommand is the go tool (default "go" from PATH).
	GoCommand string
}

// Result is what Build made. Call Close when done with it.
type Result struct {
	Source    string   `json:"source"`
	Version   string   `json:"version"`
	Commit    string   `json:"commit"`
	Revision  string   `json:"revision,omitempty"`
	Repo      string   `json:"repo"`
	Tag       string   `json:"tag"`
	Platforms []string `json:"platforms"`
	Images    []*Image `json:"images"`
	// OCILayout is the OCI image layout WriteArchives wrote, for several
	// platforms ("" otherwise).
	OCILayout string `json:"ociLayout,omitempty"`

	work     string
	ownsWork bool
	insecure bool
}

// Image is one built image: a plain image for one platform, or an index
// of one image per platform.
type Image struct {
	Name string `json:"name"`
	// Ref is REPO/<name>:TAG.
	Ref string `json:"ref"`
	// Digest is what a registry serves for Ref: the image manifest's, or
	// the index's for several platforms.
	Digest    string      `json:"digest"`
	MediaType string      `json:"mediaType"`
	Manifests []*Manifest `json:"manifests"`
	// Pushed is set by Push.
	Pushed bool `json:"pushed,omitempty"`

	index v1.ImageIndex // nil for one platform
}

// Manifest is the image of one platform.
type Manifest struct {
	Platform string `json:"platform"`
	Digest   string `json:"digest"`
	// Archive is the docker-save tarball WriteArchives wrote.
	Archive string `json:"archive,omitempty"`

	image v1.Image
}

// V1Image is the go-containerregistry image of this platform.
func (m *Manifest) V1Image() v1.Image { return m.image }

// V1Index is the multi-platform index, or nil for one platform.
func (i *Image) V1Index() v1.ImageIndex { return i.index }

// Archives are the docker-save tarballs WriteArchives wrote, every image
// of every platform, in order.
func (r *Result) Archives() []string {
	var out []string
	for _, img := range r.Images {
		for _, m := range img.Manifests {
			if m.Archive != "" {
				out = append(out, m.Archive)
			}
		}
	}
	return out
}

// Image returns the image of that name, or nil.
func (r *Result) Image(name string) *Image {
	for _, img := range r.Images {
		if img.Name == name {
			return img
		}
	}
	return nil
}

// Close removes the work directory Build made (not the archives).
func (r *Result) Close() error {
	if !r.ownsWork || r.work == "" {
		return nil
	}
	return os.RemoveAll(r.work)
}

// HostPlatform is linux/<the host's architecture>, the default platform.
func HostPlatform() string {
	p := "linux/" + runtime.GOARCH
	if runtime.GOARCH == "arm" {
		p += "/v7"
	}
	return p
}

// goArch maps OCI architectures to GOARCH; arm needs a variant (GOARM).
var goArch = map[string]string{
	"amd64": "amd64", "arm64": "arm64", "arm": "arm", "386": "386",
	"ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64", "loong64": "loong64",
}

// ParsePlatforms parses and checks os/arch[/variant] strings: Linux only
// (the images hold Linux binaries), no duplicates. Entries may also be
// comma-separated lists.
func ParsePlatforms(list []string) ([]v1.Platform, error) {
	var out []v1.Platform
	seen := map[string]bool{}
	for _, item := range list {
		for _, s := range strings.Split(item, ",") {
			s = strings.TrimSpace(s)
			if s == "" {
				continue
			}
			p, err := v1.ParsePlatform(s)
			if err != nil {
				return nil, inputErrorf("--platform %q: %w", s, err)
			}
			if p.OS != "linux" || p.Architecture == "" {
				return nil, inputErrorf("--platform %q: want linux/ARCH[/VARIANT], such as linux/amd64 or linux/arm64", s)
			}
			if _, ok := goArch[p.Architecture]; !ok {
				return nil, inputErrorf("--platform %q: unknown architecture %q; want one of %s", s, p.Architecture, strings.Join(slices.Sorted(maps.Keys(goArch)), ", "))
			}
			switch {
			case p.Architecture == "arm" && p.Variant == "":
				p.Variant = "v7"
			case p.Architecture == "arm" && p.Variant != "v6" && p.Variant != "v7":
				return nil, inputErrorf("--platform %q: linux/arm takes variant v6 or v7", s)
			case p.Architecture == "arm64" && p.Variant == "v8":
				p.Variant = "" // the same thing; one spelling keeps digests stable
			case p.Architecture != "arm" && p.Variant != "":
				return nil, inputErrorf("--platform %q: Go builds no variant %q of %s", s, p.Variant, p.Architecture)
			}
			if seen[p.String()] {
				return nil, inputErrorf("--platform %s is given twice", p)
			}
			seen[p.String()] = true
			out = append(out, *p)
		}
	}
	return out, nil
}

// Build builds the binaries and assembles the images. Nothing is written
// outside the work directory: WriteArchives and Push do that.
func Build(ctx context.Context, o Options) (res *Result, err error) {
	plats, specs, err := o.check()
	if err != nil {
		return nil, err
	}
	src, err := ResolveSource(ctx, o.SourceDir)
	if err != nil {
		return nil, err
	}
	if specs, err = present(ctx, src.Dir, specs, len(o.Images) > 0); err != nil {
		return nil, err
	}
	if o.Version == "" {
		o.Version = src.Version
	}
	revision := ""
	if o.Commit == "" {
		o.Commit = src.Commit
		// The full hash, marked as the commit is: only when the commit is
		// the tree's own, not one the caller named.
		if revision = src.Revision; revision != "" && strings.HasSuffix(src.Commit, "-dirty") {
			revision += "-dirty"
		}
	}
	for _, v := range []string{o.Version, o.Commit} {
		// They go into -ldflags, which splits on spaces.
		if v == "" || strings.ContainsAny(v, " \t\n'\"") {
			return nil, inputErrorf("version or commit %q: want one word", v)
		}
	}
	if o.Tag == "" {
		o.Tag = o.Commit
		if o.Tag == "unknown" {
			o.Tag = "dev"
		}
	}
	repo := strings.TrimSuffix(o.Repo, "/")
	if repo == "" {
		repo = DefaultRepo
	}
	for _, s := range specs {
		if _, err := o.reference(repo + "/" + s.Name + ":" + o.Tag); err != nil {
			return nil, err
		}
	}
	created, stamped := o.Created, !o.Created.IsZero()
	if !stamped {
		if created, stamped, err = sourceDateEpoch(); err != nil {
			return nil, err
		}
	}
	ca, err := caBundle(o.CABundle)
	if err != nil {
		return nil, err
	}

	r := &Result{Source: src.Dir, Version: o.Version, Commit: o.Commit, Revision: revision, Repo: repo, Tag: o.Tag, work: o.WorkDir, insecure: o.Insecure}
	if r.work == "" {
		if r.work, err = os.MkdirTemp("", "benchctl-images-"); err != nil {
			return nil, fmt.Errorf("work directory: %w", err)
		}
		r.ownsWork = true
	}
	// A failed build leaves no work directory behind.
	defer func() {
		if err != nil {
			_ = r.Close()
		}
	}()
	res = r
	for _, p := range plats {
		res.Platforms = append(res.Platforms, p.String())
	}

	base, err := baseLayer(filepath.Join(res.work, "base.tar.gz"), ca, created)
	if err != nil {
		return nil, err
	}
	// One go invocation per platform: the three main packages share most
	// of their dependency graph, which go build then compiles once.
	bins := map[string]string{}
	for _, p := range plats {
		dir := filepath.Join(res.work, platformSlug(p))
		if err := goBuild(ctx, o.goCommand(), src.Dir, dir, p, res.Version, res.Commit, specs); err != nil {
			return nil, err
		}
		bins[p.String()] = dir
	}
	for _, s := range specs {
		img := &Image{Name: s.Name, Ref: repo + "/" + s.Name + ":" + res.Tag}
		labels := map[string]string{
			"org.opencontainers.image.title":       s.Name,
			"org.opencontainers.image.description": s.Description,
			"org.opencontainers.image.version":     res.Version,
			"org.opencontainers.image.revision":    res.revision(),
			"org.opencontainers.image.source":      SourceURL,
		}
		if stamped {
			labels["org.opencontainers.image.created"] = created.UTC().Format(time.RFC3339)
		}
		for _, p := range plats {
			bin := filepath.Join(bins[p.String()], s.Name)
			layer, err := binaryLayer(bin+".layer.tar.gz", bin, s.Name, created)
			if err != nil {
				return nil, err
			}
			vi, err := assemble(p, s.Name, labels, created, base, layer)
			if err != nil {
				return nil, fmt.Errorf("image %s for %s: %w", s.Name, p, err)
			}
			d, err := vi.Digest()
			if err != nil {
				return nil, fmt.Errorf("image %s for %s: %w", s.Name, p, err)
			}
			img.Manifests = append(img.Manifests, &Manifest{Platform: p.String(), Digest: d.String(), image: vi})
		}
		if err := img.finish(plats, labels); err != nil {
			return nil, err
		}
		slog.InfoContext(ctx, "image built", "ref", img.Ref, "digest", img.Digest, "platforms", strings.Join(res.Platforms, ","))
		res.Images = append(res.Images, img)
	}
	return res, nil
}

// finish sets the digest clients see for Ref: the image's, or, for
// several platforms, that of an index over them.
func (img *Image) finish(plats []v1.Platform, labels map[string]string) error {
	if len(img.Manifests) == 1 {
		img.Digest, img.MediaType = img.Manifests[0].Digest, string(types.OCIManifestSchema1)
		return nil
	}
	var adds []mutate.IndexAddendum
	for i, m := range img.Manifests {
		p := plats[i]
		adds = append(adds, mutate.IndexAddendum{Add: m.image, Descriptor: v1.Descriptor{Platform: &p}})
	}
	// Labels as index annotations too: registries' UIs show those.
	idx := mutate.Annotations(mutate.AppendManifests(empty.Index, adds...), labels).(v1.ImageIndex)
	d, err := idx.Digest()
	if err != nil {
		return fmt.Errorf("index of %s: %w", img.Name, err)
	}
	img.index, img.Digest, img.MediaType = idx, d.String(), string(types.OCIImageIndex)
	return nil
}

// assemble puts the layers on the empty base with the config every image
// shares; OCI media types throughout (kind's importer, containerd and
// every registry take them).
func assemble(p v1.Platform, bin string, labels map[string]string, created time.Time, layers ...v1.Layer) (v1.Image, error) {
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err := mutate.ConfigFile(img, &v1.ConfigFile{
		Architecture: p.Architecture,
		OS:           p.OS,
		Variant:      p.Variant,
		Created:      v1.Time{Time: created},
		RootFS:       v1.RootFS{Type: "layers"},
		Config: v1.Config{
			Entrypoint: []string{"/" + bin},
			User:       User,
			WorkingDir: "/",
			Env:        []string{"PATH=/usr/local/bin:/usr/bin:/bin", "SSL_CERT_FILE=" + caPath},
			Labels:     labels,
		},
	})
	if err != nil {
		return nil, err
	}
	var adds []mutate.Addendum
	for _, l := range layers {
		adds = append(adds, mutate.Addendum{Layer: l, History: v1.History{Created: v1.Time{Time: created}, CreatedBy: "benchctl images build"}})
	}
	return mutate.Append(img, adds...)
}

// present drops the images whose main package the tree lacks (a tree
// older than benchadmin, say), unless they were asked for by name.
func present(ctx context.Context, dir string, specs []Spec, asked bool) ([]Spec, error) {
	var out []Spec
	for _, s := range specs {
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(s.Package))); err != nil {
			if asked {
				return nil, inputErrorf("--image %s: %s has no %s", s.Name, dir, s.Package)
			}
			slog.WarnContext(ctx, "source tree has no such image; skipped", "image", s.Name, "package", s.Package, "source", dir)
			continue
		}
		out = append(out, s)
	}
	return out, nil
}

// check validates the options that need no source tree.
func (o Options) check() ([]v1.Platform, []Spec, error) {
	list := o.Platforms
	if len(list) == 0 {
		list = []string{HostPlatform()}
	}
	plats, err := ParsePlatforms(list)
	if err != nil {
		return nil, nil, err
	}
	if len(plats) == 0 {
		return nil, nil, inputErrorf("--platform: no platform given")
	}
	specs := Specs
	if len(o.Images) > 0 {
		specs = nil
		for _, n := range o.Images {
			i := slices.IndexFunc(Specs, func(s Spec) bool { return s.Name == n })
			if i < 0 {
				return nil, nil, inputErrorf("--image %q: want one of %s", n, strings.Join(Names(), ", "))
			}
			if slices.ContainsFunc(specs, func(s Spec) bool { return s.Name == n }) {
				return nil, nil, inputErrorf("--image %s is given twice", n)
			}
			specs = append(specs, Specs[i])
		}
	}
	return plats, specs, nil
}

func (o Options) reference(s string) (name.Tag, error) {
	var opts []name.Option
	if o.Insecure {
		opts = append(opts, name.Insecure)
	}
	t, err := name.NewTag(s, append(opts, name.StrictValidation)...)
	if err != nil {
		return name.Tag{}, inputErrorf("image reference %q (from --image-repo and --tag): %w", s, err)
	}
	return t, nil
}

func (o Options) goCommand() string {
	if o.GoCommand == "" {
		return "go"
	}
	return o.GoCommand
}

func (r *Result) revision() string {
	if r.Revision != "" {
		return r.Revision
	}
	return r.Commit
}

// sourceDateEpoch is the reproducible-builds convention's timestamp
// (stamped), or the Unix epoch.
func sourceDateEpoch() (t time.Time, stamped bool, err error) {
	s := os.Getenv("SOURCE_DATE_EPOCH")
	if s == "" {
		return time.Unix(0, 0).UTC(), false, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return time.Time{}, false, inputErrorf("SOURCE_DATE_EPOCH %q: want seconds since the Unix epoch", s)
	}
	return time.Unix(n, 0).UTC(), true, nil
}

// platformSlug names files and directories after a platform:
// linux-amd64, linux-arm-v7.
func platformSlug(p v1.Platform) string {
	return strings.ReplaceAll(p.String(), "/", "-")
}

// NodePlatforms are the distinct os/arch pairs of a cluster's nodes (as
// their kubelets report them), sorted: the Platforms to build for it.
func NodePlatforms(nodes []corev1.Node) []string {
	seen := map[string]bool{}
	for _, n := range nodes {
		info := n.Status.NodeInfo
		if info.OperatingSystem == "" || info.Architecture == "" {
			continue
		}
		seen[info.OperatingSystem+"/"+info.Architecture] = true
	}
	return slices.Sorted(maps.Keys(seen))
}
