package images

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	corev1 "k8s.io/api/core/v1"

	"github.com/benchctl/benchctl/controller/api/v1alpha1"
)

// Stamps the shared builds use, so the binaries' --version is known.
const (
	testVersion = "v9.9.9-test"
	testCommit  = "0123456789ab"
	testTag     = "test"
)

// The in-process registry and the builds are shared by the tests of this
// binary: a build links every binary again, which takes tens of seconds
// on two cores, so each platform set is built once.
var (
	regHost string // 127.0.0.1:port of the in-process registry

	hostOnce sync.Once
	hostRes  *Result
	hostErr  error

	multiOnce sync.Once
	multiRes  *Result
	multiErr  error
)

func TestMain(m *testing.M) {
	// Pushes must not read the developer's registry credentials.
	dockerConfig, err := os.MkdirTemp("", "images-test-docker-")
	if err != nil {
		log.Fatal(err)
	}
	os.Setenv("DOCKER_CONFIG", dockerConfig)
	os.Unsetenv("SOURCE_DATE_EPOCH")
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	regHost = strings.TrimPrefix(srv.URL, "http://")
	code := m.Run()
	srv.Close()
	for _, r := range []*Result{hostRes, multiRes} {
		if r != nil {
			_ = r.Close()
		}
	}
	_ = os.RemoveAll(dockerConfig)
	os.Exit(code)
}

func sourceRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func testOptions(t *testing.T, platforms []string, images []string) Options {
	return Options{
		SourceDir: sourceRoot(t), Platforms: platforms, Images: images,
		Repo: regHost + "/bench", Tag: testTag, Version: testVersion, Commit: testCommit,
	}
}

// hostBuild is every image for linux/<host arch>.
func hostBuild(t *testing.T) *Result {
	t.Helper()
	hostOnce.Do(func() {
		start := time.Now()
		hostRes, hostErr = Build(context.Background(), testOptions(t, nil, nil))
		t.Logf("host build took %s", time.Since(start).Round(time.Millisecond))
	})
	if hostErr != nil {
		t.Fatal(hostErr)
	}
	return hostRes
}

// multiBuild is benchtask (the quickest to link) for amd64 and arm64.
func multiBuild(t *testing.T) *Result {
	t.Helper()
	multiOnce.Do(func() {
		start := time.Now()
		multiRes, multiErr = Build(context.Background(), testOptions(t, []string{"linux/amd64,linux/arm64"}, []string{Task}))
		t.Logf("multi-platform build took %s", time.Since(start).Round(time.Millisecond))
	})
	if multiErr != nil {
		t.Fatal(multiErr)
	}
	return multiRes
}

type file struct {
	hdr  *tar.Header
	body []byte
}

// filesystem is the image's flattened filesystem, as a container sees it.
func filesystem(t *testing.T, img v1.Image) map[string]file {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	out := map[string]file{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimSuffix(h.Name, "/")] = file{h, b}
	}
}

// checkConfig checks what every image's config must say.
func checkConfig(t *testing.T, img v1.Image, imgName string, p v1.Platform) {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != p.OS || cf.Architecture != p.Architecture || cf.Variant != p.Variant {
		t.Errorf("%s: platform %s/%s/%s, want %s", imgName, cf.OS, cf.Architecture, cf.Variant, p)
	}
	if got := strings.Join(cf.Config.Entrypoint, " "); got != "/"+imgName {
		t.Errorf("%s: entrypoint %q, want /%s", imgName, got, imgName)
	}
	if cf.Config.User != User {
		t.Errorf("%s: user %q, want %s", imgName, cf.Config.User, User)
	}
	if !cf.Created.Time.Equal(time.Unix(0, 0)) {
		t.Errorf("%s: created %s, want the Unix epoch (reproducible)", imgName, cf.Created.Time)
	}
	for k, want := range map[string]string{
		"org.opencontainers.image.title":    imgName,
		"org.opencontainers.image.version":  testVersion,
		"org.opencontainers.image.revision": testCommit,
		"org.opencontainers.image.source":   SourceURL,
	} {
		if got := cf.Config.Labels[k]; got != want {
			t.Errorf("%s: label %s = %q, want %q", imgName, k, got, want)
		}
	}
	if _, ok := cf.Config.Labels["org.opencontainers.image.created"]; ok {
		t.Errorf("%s: a created label without SOURCE_DATE_EPOCH", imgName)
	}
}

// binary extracts /<name> of the image into a temporary executable and
// checks the filesystem around it.
func binary(t *testing.T, img v1.Image, imgName string) string {
	t.Helper()
	fs := filesystem(t, img)
	f, ok := fs[imgName]
	if !ok {
		t.Fatalf("image %s has no /%s; files: %v", imgName, imgName, keys(fs))
	}
	if f.hdr.Mode&0o777 != 0o755 || f.hdr.Typeflag != tar.TypeReg {
		t.Errorf("/%s: mode %o type %c, want a regular file 0755", imgName, f.hdr.Mode, f.hdr.Typeflag)
	}
	if !strings.Contains(string(fs["etc/passwd"].body), "nonroot:x:65532:65532:") {
		t.Errorf("/etc/passwd lacks user nonroot 65532:\n%s", fs["etc/passwd"].body)
	}
	if tmp, ok := fs["tmp"]; !ok || tmp.hdr.Typeflag != tar.TypeDir || tmp.hdr.Mode&0o7777 != 0o1777 {
		t.Errorf("/tmp missing or not 1777: %+v", tmp.hdr)
	}
	if DefaultCABundle() != "" && len(fs["etc/ssl/certs/ca-certificates.crt"].body) == 0 {
		t.Errorf("no CA bundle in the image though the host has %s", DefaultCABundle())
	}
	path := filepath.Join(t.TempDir(), imgName)
	if err := os.WriteFile(path, f.body, 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func keys(m map[string]file) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestBuildWritesArchives opens each archive as kind's loader would get
// it, checks the image, and runs the program it holds.
func TestBuildWritesArchives(t *testing.T) {
	res := hostBuild(t)
	dir := t.TempDir()
	if err := res.WriteArchives(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	if res.OCILayout != "" {
		t.Errorf("one platform wrote an OCI layout %s", res.OCILayout)
	}
	if got := len(res.Archives()); got != len(Specs) {
		t.Fatalf("%d archives, want %d: %v", got, len(Specs), res.Archives())
	}
	host, err := v1.ParsePlatform(HostPlatform())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range Specs {
		t.Run(s.Name, func(t *testing.T) {
			im := res.Image(s.Name)
			if im == nil || len(im.Manifests) != 1 {
				t.Fatalf("image %s: %+v", s.Name, im)
			}
			m := im.Manifests[0]
			if want := filepath.Join(dir, s.Name+".tar"); m.Archive != want {
				t.Errorf("archive %s, want %s", m.Archive, want)
			}
			// The tarball names the image by its reference: what the
			// chart's values then point at.
			tag, err := name.NewTag(im.Ref)
			if err != nil {
				t.Fatal(err)
			}
			img, err := tarball.ImageFromPath(m.Archive, &tag)
			if err != nil {
				t.Fatalf("archive does not hold %s: %v", im.Ref, err)
			}
			checkConfig(t, img, s.Name, *host)
			// The archive holds exactly the image built (same config, same
			// layers), whatever manifest the tarball reader synthesises.
			wantCfg, _ := m.image.ConfigName()
			if gotCfg, _ := img.ConfigName(); gotCfg != wantCfg {
				t.Errorf("archive config %s, built %s", gotCfg, wantCfg)
			}
			if runtime.GOOS != "linux" {
				t.Skip("the binaries are Linux's")
			}
			bin := binary(t, img, s.Name)
			switch s.Name {
			case Task:
				// benchtask has no --version: do a task's work with no
				// outputs and read its termination message.
				term := filepath.Join(t.TempDir(), "termination-log")
				out, err := exec.Command(bin, "--no-outputs", "--duration=10ms", "--termination-log="+term).CombinedOutput()
				if err != nil {
					t.Fatalf("benchtask: %v\n%s", err, out)
				}
				b, err := os.ReadFile(term)
				if err != nil {
					t.Fatal(err)
				}
				tm, err := v1alpha1.ParseTerminationMessage(string(b))
				if err != nil || tm.FinishedAt.Sub(tm.StartedAt) < 10*time.Millisecond {
					t.Fatalf("termination message %q: %+v, %v", b, tm, err)
				}
			default:
				out, err := exec.Command(bin, "--version").CombinedOutput()
				if err != nil {
					t.Fatalf("%s --version: %v\n%s", s.Name, err, out)
				}
				if want := testVersion + " " + testCommit + "\n"; string(out) != want {
					t.Errorf("%s --version printed %q, want %q", s.Name, out, want)
				}
			}
		})
	}
}

// TestMultiPlatform: two platforms give an index per image, a tarball
// per platform and an OCI layout, each platform's binary built for it.
func TestMultiPlatform(t *testing.T) {
	res := multiBuild(t)
	dir := t.TempDir()
	if err := res.WriteArchives(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	machines := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}

	im := res.Image(Task)
	if im == nil || im.MediaType != "application/vnd.oci.image.index.v1+json" {
		t.Fatalf("benchtask: %+v", im)
	}
	// The layout's index.json names one index per image.
	root, err := layout.ImageIndexFromPath(filepath.Join(dir, OCILayoutDir))
	if err != nil {
		t.Fatal(err)
	}
	rm, err := root.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(rm.Manifests) != 1 || rm.Manifests[0].Annotations[annotationRefName] != im.Ref || rm.Manifests[0].Digest.String() != im.Digest {
		t.Fatalf("layout index.json: %+v, want one index %s for %s", rm.Manifests, im.Digest, im.Ref)
	}
	idx, err := root.ImageIndex(rm.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	checkIndex(t, idx, machines)

	for _, arch := range []string{"amd64", "arm64"} {
		path := filepath.Join(dir, "benchtask-linux-"+arch+".tar")
		img, err := tarball.ImageFromPath(path, nil)
		if err != nil {
			t.Fatalf("per-platform tarball: %v", err)
		}
		checkConfig(t, img, Task, v1.Platform{OS: "linux", Architecture: arch})
	}
}

// checkIndex checks an index of benchtask for amd64 and arm64, down to
// the machine of each binary.
func checkIndex(t *testing.T, idx v1.ImageIndex, machines map[string]elf.Machine) {
	t.Helper()
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Manifests) != 2 {
		t.Fatalf("index has %d manifests, want 2", len(m.Manifests))
	}
	for i, arch := range []string{"amd64", "arm64"} {
		d := m.Manifests[i]
		if d.Platform == nil || d.Platform.OS != "linux" || d.Platform.Architecture != arch {
			t.Errorf("manifest %d: platform %+v, want linux/%s", i, d.Platform, arch)
			continue
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		checkConfig(t, img, Task, *d.Platform)
		f, err := elf.Open(binary(t, img, Task))
		if err != nil {
			t.Fatal(err)
		}
		if f.Machine != machines[arch] || f.Class != elf.ELFCLASS64 {
			t.Errorf("%s binary is %s %s, want %s", arch, f.Class, f.Machine, machines[arch])
		}
		f.Close()
	}
}

// TestPush pushes to the in-process registry and pulls back what was
// pushed, for one platform (plain images) and two (an index).
func TestPush(t *testing.T) {
	ctx := context.Background()
	t.Run("one platform", func(t *testing.T) {
		res := hostBuild(t)
		if err := res.Push(ctx); err != nil {
			t.Fatal(err)
		}
		for _, im := range res.Images {
			if !im.Pushed || !strings.HasPrefix(im.Ref, regHost+"/bench/") {
				t.Errorf("%s: pushed %v", im.Ref, im.Pushed)
			}
			ref, err := name.ParseReference(im.Ref)
			if err != nil {
				t.Fatal(err)
			}
			desc, err := remote.Get(ref, remote.WithContext(ctx))
			if err != nil {
				t.Fatalf("pull %s: %v", im.Ref, err)
			}
			if desc.Digest.String() != im.Digest || string(desc.MediaType) != im.MediaType {
				t.Errorf("registry has %s %s for %s, built %s %s", desc.MediaType, desc.Digest, im.Ref, im.MediaType, im.Digest)
			}
			img, err := desc.Image()
			if err != nil {
				t.Fatal(err)
			}
			host, _ := v1.ParsePlatform(HostPlatform())
			checkConfig(t, img, im.Name, *host)
		}
	})
	t.Run("two platforms", func(t *testing.T) {
		res := multiBuild(t)
		if err := res.Push(ctx); err != nil {
			t.Fatal(err)
		}
		im := res.Image(Task)
		ref, err := name.ParseReference(im.Ref)
		if err != nil {
			t.Fatal(err)
		}
		idx, err := remote.Index(ref, remote.WithContext(ctx))
		if err != nil {
			t.Fatalf("pull index %s: %v", im.Ref, err)
		}
		if d, _ := idx.Digest(); d.String() != im.Digest {
			t.Errorf("registry index %s, built %s", d, im.Digest)
		}
		checkIndex(t, idx, map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64})
	})
	t.Run("registry refuses", func(t *testing.T) {
		res := hostBuild(t)
		// A copy pointing at a closed port: the error names the image.
		dead := httptest.NewServer(registry.New())
		host := strings.TrimPrefix(dead.URL, "http://")
		dead.Close()
		bad := *res
		bad.Images = []*Image{{Name: Controller, Ref: host + "/bench/benchflow:x", Manifests: res.Images[0].Manifests}}
		err := bad.Push(ctx)
		if err == nil || !strings.Contains(err.Error(), "push "+host+"/bench/benchflow:x") {
			t.Fatalf("err = %v, want one naming the image", err)
		}
	})
}

func TestParsePlatforms(t *testing.T) {
	tests := []struct {
		in      []string
		want    string // the platforms, comma-joined
		wantErr string
	}{
		{[]string{"linux/amd64"}, "linux/amd64", ""},
		{[]string{"linux/amd64,linux/arm64"}, "linux/amd64,linux/arm64", ""},
		{[]string{"linux/arm64", " linux/amd64 "}, "linux/arm64,linux/amd64", ""},
		{[]string{"linux/arm64/v8"}, "linux/arm64", ""},
		{[]string{"linux/arm"}, "linux/arm/v7", ""},
		{[]string{"linux/arm/v6"}, "linux/arm/v6", ""},
		{[]string{"windows/amd64"}, "", "want linux/ARCH"},
		{[]string{"linux/sparc"}, "", `unknown architecture "sparc"`},
		{[]string{"linux/amd64/v3"}, "", "no variant"},
		{[]string{"linux/arm/v5"}, "", "v6 or v7"},
		{[]string{"linux/amd64", "linux/amd64"}, "", "given twice"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.in, ";"), func(t *testing.T) {
			ps, err := ParsePlatforms(tt.in)
			if tt.wantErr != "" {
				var ie *InputError
				if err == nil || !errors.As(err, &ie) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want an InputError containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range ps {
				got = append(got, p.String())
			}
			if strings.Join(got, ",") != tt.want {
				t.Errorf("got %v, want %s", got, tt.want)
			}
		})
	}
}

// TestBadInputBuildsNothing: input errors come before any go build.
func TestBadInputBuildsNothing(t *testing.T) {
	notTree := t.TempDir()
	file := filepath.Join(notTree, "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	base := Options{SourceDir: sourceRoot(t), Version: testVersion, Commit: testCommit, GoCommand: "/nonexistent/go"}
	tests := []struct {
		name    string
		change  func(o *Options)
		wantErr string
	}{
		{"unknown image", func(o *Options) { o.Images = []string{"benchweb"} }, `--image "benchweb"`},
		{"image twice", func(o *Options) { o.Images = []string{Task, Task} }, "given twice"},
		{"bad platform", func(o *Options) { o.Platforms = []string{"darwin/arm64"} }, "darwin/arm64"},
		{"bad tag", func(o *Options) { o.Tag = "no spaces" }, "image reference"},
		{"bad repo", func(o *Options) { o.Repo = "Upper/Case" }, "image reference"},
		{"source is a file", func(o *Options) { o.SourceDir = file }, "is not a directory"},
		{"source is not benchctl", func(o *Options) { o.SourceDir = notTree }, "not a benchctl source tree"},
		{"version with a space", func(o *Options) { o.Version = "v1 beta" }, "want one word"},
		{"missing CA bundle", func(o *Options) { o.CABundle = filepath.Join(notTree, "nope.pem") }, "--ca-bundle"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := base
			tt.change(&o)
			_, err := Build(context.Background(), o)
			var ie *InputError
			if err == nil || !errors.As(err, &ie) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want an InputError containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestGoBuildFailure: a failing go build says which binaries and shows
// the compiler's output.
func TestGoBuildFailure(t *testing.T) {
	goCmd := filepath.Join(t.TempDir(), "go")
	if err := os.WriteFile(goCmd, []byte("#!/bin/sh\necho 'controller/main.go:1: syntax error' >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := Build(context.Background(), Options{SourceDir: sourceRoot(t), Version: "v", Commit: "c", GoCommand: goCmd, Images: []string{Controller}})
	if err == nil || !strings.Contains(err.Error(), "go build benchflow for linux/") || !strings.Contains(err.Error(), "syntax error") {
		t.Fatalf("err = %v", err)
	}
	var ie *InputError
	if errors.As(err, &ie) {
		t.Error("a build failure is not an input error")
	}
}

// TestReproducible: the same binary and time give the same digest, in
// any work directory; another time gives another.
func TestReproducible(t *testing.T) {
	p := v1.Platform{OS: "linux", Architecture: "arm64"}
	digest := func(mtime time.Time) string {
		dir := t.TempDir()
		bin := filepath.Join(dir, "benchflow")
		if err := os.WriteFile(bin, bytes.Repeat([]byte("\x7fELF not really"), 1000), 0o700); err != nil {
			t.Fatal(err)
		}
		base, err := baseLayer(filepath.Join(dir, "base.tar.gz"), []byte("CERT"), mtime)
		if err != nil {
			t.Fatal(err)
		}
		l, err := binaryLayer(bin+".layer.tar.gz", bin, "benchflow", mtime)
		if err != nil {
			t.Fatal(err)
		}
		img, err := assemble(p, "benchflow", map[string]string{"a": "b"}, mtime, base, l)
		if err != nil {
			t.Fatal(err)
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return d.String()
	}
	epoch := time.Unix(0, 0).UTC()
	if a, b := digest(epoch), digest(epoch); a != b {
		t.Errorf("two builds differ: %s, %s", a, b)
	}
	if a, b := digest(epoch), digest(epoch.Add(time.Hour)); a == b {
		t.Errorf("the time changes nothing: %s", a)
	}
}

func TestResolveSource(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	root := sourceRoot(t)
	sub := filepath.Join(root, "deploy", "images")
	t.Chdir(sub)
	s, err := ResolveSource(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if s.Dir != root {
		t.Errorf("found %s from %s, want %s", s.Dir, sub, root)
	}
	if s.Revision != "" && (len(s.Revision) != 40 || !strings.HasPrefix(s.Commit, s.Revision[:12])) {
		t.Errorf("commit %q, revision %q", s.Commit, s.Revision)
	}
	if s.Version == "" {
		t.Error("no version")
	}
	t.Chdir(t.TempDir())
	if _, err := ResolveSource(context.Background(), ""); err == nil || !strings.Contains(err.Error(), "--controller-source") {
		t.Errorf("outside a tree: err = %v", err)
	}
}

func TestNodePlatforms(t *testing.T) {
	node := func(os, arch string) corev1.Node {
		return corev1.Node{Status: corev1.NodeStatus{NodeInfo: corev1.NodeSystemInfo{OperatingSystem: os, Architecture: arch}}}
	}
	tests := []struct {
		nodes []corev1.Node
		want  string
	}{
		{nil, ""},
		{[]corev1.Node{node("linux", "amd64"), node("linux", "amd64")}, "linux/amd64"},
		{[]corev1.Node{node("linux", "arm64"), node("linux", "amd64"), node("", "")}, "linux/amd64,linux/arm64"},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			if got := strings.Join(NodePlatforms(tt.nodes), ","); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
