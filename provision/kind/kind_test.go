package kind

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/kind/pkg/apis/config/defaults"
	"sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/kind/pkg/cluster/nodes"
	kindexec "sigs.k8s.io/kind/pkg/exec"

	"github.com/benchctl/benchctl/provision"
	"github.com/benchctl/benchctl/provision/existing"
	"github.com/benchctl/benchctl/provision/internal/provider/providertest"
)

func TestNodeImageAndConfig(t *testing.T) {
	tests := []struct {
		name      string
		spec      provision.Spec
		wantImage string
		wantRoles []string
		wantErr   string
	}{
		{"default image, no workers", provision.Spec{Name: "a"}, defaults.Image, []string{"control-plane"}, ""},
		{"version without v", provision.Spec{Name: "a", Nodes: 2, KubernetesVersion: "1.33.1"}, "kindest/node:v1.33.1", []string{"control-plane", "worker", "worker"}, ""},
		{"version with v", provision.Spec{Name: "a", Nodes: 1, KubernetesVersion: "v1.36.3"}, "kindest/node:v1.36.3", []string{"control-plane", "worker"}, ""},
		{"explicit image", provision.Spec{Name: "a", Nodes: 3, NodeImage: "registry.local:5000/kindest/node:v1.35.0"}, "registry.local:5000/kindest/node:v1.35.0", []string{"control-plane", "worker", "worker", "worker"}, ""},
		{"image and matching version", provision.Spec{Name: "a", NodeImage: "kindest/node:v1.35.0@sha256:abc", KubernetesVersion: "1.35.0"}, "kindest/node:v1.35.0@sha256:abc", []string{"control-plane"}, ""},
		{"image and other version", provision.Spec{Name: "a", NodeImage: "kindest/node:v1.35.0", KubernetesVersion: "1.34.0"}, "", nil, "disagree"},
		{"registry port is not a tag", provision.Spec{Name: "a", NodeImage: "registry.local:5000/node", KubernetesVersion: "1.34.0"}, "", nil, "disagree"},
		{"minor version only", provision.Spec{Name: "a", KubernetesVersion: "1.33"}, "", nil, "full version such as v1.33.1"},
		{"garbage version", provision.Spec{Name: "a", KubernetesVersion: "latest"}, "", nil, `--kubernetes-version "latest"`},
		{"negative nodes", provision.Spec{Name: "a", Nodes: -1}, "", nil, "cannot be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Config(tt.spec)
			providertest.CheckErr(t, err, tt.wantErr)
			if tt.wantErr != "" {
				return
			}
			if cfg.Name != "benchctl-a" {
				t.Errorf("name = %q", cfg.Name)
			}
			var roles []string
			for _, n := range cfg.Nodes {
				roles = append(roles, string(n.Role))
				if n.Image != tt.wantImage {
					t.Errorf("node %s image = %q, want %q", n.Role, n.Image, tt.wantImage)
				}
			}
			if !reflect.DeepEqual(roles, tt.wantRoles) {
				t.Errorf("roles = %v, want %v", roles, tt.wantRoles)
			}
			if cfg.Networking.APIServerAddress != "127.0.0.1" {
				t.Errorf("API server address = %q, want loopback", cfg.Networking.APIServerAddress)
			}
		})
	}
}

func TestConfigYAMLGolden(t *testing.T) {
	cfg, err := Config(provision.Spec{Name: "dev", Nodes: 2, KubernetesVersion: "v1.33.1"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := ConfigYAML(cfg)
	if err != nil {
		t.Fatal(err)
	}
	const want = `apiVersion: kind.x-k8s.io/v1alpha4
kind: Cluster
name: benchctl-dev
networking:
  apiServerAddress: 127.0.0.1
nodes:
- image: kindest/node:v1.33.1
  role: control-plane
- image: kindest/node:v1.33.1
  role: worker
- image: kindest/node:v1.33.1
  role: worker
`
	if string(got) != want {
		t.Errorf("config YAML:\n%s\nwant:\n%s", got, want)
	}
}

// fakeRunner answers LookPath from its Path and CombinedOutput from replies,
// keyed by the binary's base name.
type fakeRunner struct {
	providertest.Path
	replies map[string]reply
	mu      sync.Mutex
	calls   []string
}

type reply struct {
	out   string
	err   error
	block bool // wait for ctx to end, like an engine that never answers
}

func (f *fakeRunner) CombinedOutput(ctx context.Context, name string, args ...string) ([]byte, error) {
	f.mu.Lock()
	f.calls = append(f.calls, name+" "+strings.Join(args, " "))
	f.mu.Unlock()
	r := f.replies[filepath.Base(name)]
	if r.block {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return []byte(r.out), r.err
}

var errExit1 = errors.New("exit status 1")

const dockerDown = "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n"

func TestPreflight(t *testing.T) {
	tests := []struct {
		name    string
		runner  *fakeRunner
		want    Engine
		wantErr []string
	}{
		{
			name:    "nothing installed",
			runner:  &fakeRunner{},
			wantErr: []string{"no container engine is running: kind needs Docker or Podman", "neither `docker` nor `podman` is on PATH", "--provider local"},
		},
		{
			name:   "docker client without engine (this machine)",
			runner: &fakeRunner{Path: map[string]bool{"docker": true}, replies: map[string]reply{"docker": {out: dockerDown, err: errExit1}}},
			wantErr: []string{
				"no container engine is running: kind needs Docker or Podman; `docker info` said: Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?",
			},
		},
		{
			name: "both installed, both down",
			runner: &fakeRunner{Path: map[string]bool{"docker": true, "podman": true}, replies: map[string]reply{
				"docker": {out: dockerDown, err: errExit1},
				"podman": {out: "Error: unable to connect to Podman socket\n  more detail\n", err: errExit1},
			}},
			wantErr: []string{"`docker info` said: Cannot connect", "; `podman info` said: Error: unable to connect to Podman socket more detail"},
		},
		{
			name: "docker down, podman up",
			runner: &fakeRunner{Path: map[string]bool{"docker": true, "podman": true}, replies: map[string]reply{
				"docker": {out: dockerDown, err: errExit1},
				"podman": {out: "5.4.2\n"},
			}},
			want: Engine{Name: "podman", Path: "/usr/bin/podman", ServerVersion: "5.4.2"},
		},
		{
			name:   "docker up with a warning first",
			runner: &fakeRunner{Path: map[string]bool{"docker": true}, replies: map[string]reply{"docker": {out: "WARNING: bridge-nf-call-iptables is disabled\n28.2.2\n"}}},
			want:   Engine{Name: "docker", Path: "/usr/bin/docker", ServerVersion: "28.2.2"},
		},
		{
			name:    "docker answers with nothing",
			runner:  &fakeRunner{Path: map[string]bool{"docker": true}, replies: map[string]reply{"docker": {out: "\n"}}},
			wantErr: []string{"`docker info` said: it reported no server version"},
		},
		{
			name:    "docker hangs",
			runner:  &fakeRunner{Path: map[string]bool{"docker": true}, replies: map[string]reply{"docker": {block: true}}},
			wantErr: []string{"`docker info` said: no answer within 50ms"},
		},
		{
			name:    "docker fails without output",
			runner:  &fakeRunner{Path: map[string]bool{"docker": true}, replies: map[string]reply{"docker": {err: errors.New("fork/exec /usr/bin/docker: permission denied")}}},
			wantErr: []string{"`docker info` said: fork/exec /usr/bin/docker: permission denied"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Preflight(context.Background(), tt.runner, 50*time.Millisecond)
			if len(tt.wantErr) > 0 {
				providertest.RequireErr(t, err, ErrNoEngine, tt.wantErr...)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("engine = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestPreflightAsksForTheServerVersion(t *testing.T) {
	r := &fakeRunner{Path: map[string]bool{"docker": true}, replies: map[string]reply{"docker": {out: "28.2.2"}}}
	if _, err := Preflight(context.Background(), r, time.Second); err != nil {
		t.Fatal(err)
	}
	// `docker -v` (kind's own detection) succeeds without an engine; only
	// a server query proves the engine runs.
	want := []string{"/usr/bin/docker info --format {{.ServerVersion}}"}
	if !reflect.DeepEqual(r.calls, want) {
		t.Errorf("calls = %q, want %q", r.calls, want)
	}
}

// TestPreflightOnThisMachine runs the real preflight. On a machine without
// a running engine it checks the message names Docker; with one it checks
// the engine reported a version.
func TestPreflightOnThisMachine(t *testing.T) {
	start := time.Now()
	e, err := Preflight(context.Background(), ExecRunner{}, 0)
	t.Logf("preflight took %s", time.Since(start))
	if err != nil {
		if !errors.Is(err, ErrNoEngine) || !strings.Contains(err.Error(), "Docker") {
			t.Fatalf("preflight error does not say that Docker is missing: %v", err)
		}
		t.Logf("no engine here: %v", err)
		return
	}
	if e.ServerVersion == "" {
		t.Errorf("engine %s answered without a version", e.Name)
	}
}

// fakeKind records calls to the kind library.
type fakeKind struct {
	engine     string
	createErr  error
	created    []string
	optsCount  int
	deleted    [][2]string
	kubeconfig string
	nodes      []nodes.Node
}

func (f *fakeKind) Create(name string, options ...cluster.CreateOption) error {
	f.created = append(f.created, name)
	f.optsCount = len(options)
	return f.createErr
}
func (f *fakeKind) Delete(name, kubeconfig string) error {
	f.deleted = append(f.deleted, [2]string{name, kubeconfig})
	return nil
}
func (f *fakeKind) KubeConfig(name string, internal bool) (string, error) {
	if internal {
		return "", errors.New("benchctl must ask for the host-reachable kubeconfig")
	}
	return f.kubeconfig, nil
}
func (f *fakeKind) ListInternalNodes(string) ([]nodes.Node, error) { return f.nodes, nil }

func upRunner() *fakeRunner {
	return &fakeRunner{Path: map[string]bool{"docker": true}, replies: map[string]reply{"docker": {out: "28.2.2"}}}
}

func newTestProvider(r Runner, fk *fakeKind, probeErr error) (*Provider, *int) {
	kinds := 0
	p := &Provider{
		Runner:           r,
		PreflightTimeout: time.Second,
		newKind: func(engine string) kindAPI {
			kinds++
			fk.engine = engine
			return fk
		},
		probe: func(context.Context, string, string) (existing.ClusterInfo, error) {
			if probeErr != nil {
				return existing.ClusterInfo{}, probeErr
			}
			return existing.ClusterInfo{Version: "v1.33.1", NodesKnown: true, Nodes: 3, ReadyNodes: 3}, nil
		},
	}
	return p, &kinds
}

func TestCreate(t *testing.T) {
	const kc = "apiVersion: v1\nkind: Config\ncurrent-context: kind-benchctl-dev\n"
	tests := []struct {
		name        string
		runner      *fakeRunner
		spec        provision.Spec
		kind        *fakeKind
		probeErr    error
		wantErr     []string
		wantKind    bool // the kind library was used at all
		wantDeleted bool
	}{
		{
			name:    "preflight fails before anything else",
			runner:  &fakeRunner{Path: map[string]bool{"docker": true}, replies: map[string]reply{"docker": {out: dockerDown, err: errExit1}}},
			spec:    provision.Spec{Name: "dev", Nodes: 2, KubernetesVersion: "bogus"},
			kind:    &fakeKind{},
			wantErr: []string{"no container engine is running", "`docker info` said"},
		},
		{
			name:    "bad version after a good preflight",
			runner:  upRunner(),
			spec:    provision.Spec{Name: "dev", KubernetesVersion: "1.33"},
			kind:    &fakeKind{},
			wantErr: []string{"full version"},
		},
		{
			name:     "kind create fails",
			runner:   upRunner(),
			spec:     provision.Spec{Name: "dev", Nodes: 2},
			kind:     &fakeKind{createErr: errors.New("failed to pull image")},
			wantErr:  []string{"kind create cluster benchctl-dev (docker 28.2.2): failed to pull image"},
			wantKind: true,
		},
		{
			name:        "created but unreachable is removed",
			runner:      upRunner(),
			spec:        provision.Spec{Name: "dev", Nodes: 2},
			kind:        &fakeKind{kubeconfig: kc},
			probeErr:    errors.New("connection refused"),
			wantErr:     []string{"was created but does not answer: connection refused"},
			wantKind:    true,
			wantDeleted: true,
		},
		{
			name:     "success",
			runner:   upRunner(),
			spec:     provision.Spec{Name: "dev", Nodes: 2, KubernetesVersion: "1.33.1"},
			kind:     &fakeKind{kubeconfig: kc},
			wantKind: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			p, kinds := newTestProvider(tt.runner, tt.kind, tt.probeErr)
			c := &provision.Cluster{Name: tt.spec.Name, CreatedBy: provision.CreatedByBenchctl, Nodes: tt.spec.Nodes, Dir: dir}
			err := p.Create(context.Background(), tt.spec, c)
			if (*kinds > 0) != tt.wantKind {
				t.Errorf("kind library used = %v, want %v", *kinds > 0, tt.wantKind)
			}
			if got := len(tt.kind.deleted) > 0; got != tt.wantDeleted {
				t.Errorf("deleted = %v, want %v", tt.kind.deleted, tt.wantDeleted)
			}
			if tt.wantDeleted {
				want := [2]string{"benchctl-dev", filepath.Join(dir, KubeconfigFile)}
				if tt.kind.deleted[0] != want {
					t.Errorf("deleted %v, want %v", tt.kind.deleted[0], want)
				}
			}
			if len(tt.wantErr) > 0 {
				providertest.RequireErr(t, err, nil, tt.wantErr...)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.kind.created[0] != "benchctl-dev" || tt.kind.engine != "docker" {
				t.Errorf("created %v with %q", tt.kind.created, tt.kind.engine)
			}
			kcPath := filepath.Join(dir, KubeconfigFile)
			if c.Kubeconfig != kcPath {
				t.Errorf("Kubeconfig = %q, want %q", c.Kubeconfig, kcPath)
			}
			for file, want := range map[string]string{KubeconfigFile: kc, ConfigFile: "kindest/node:v1.33.1"} {
				path := filepath.Join(dir, file)
				providertest.RequireMode0600(t, path)
				b, _ := os.ReadFile(path)
				if !strings.Contains(string(b), want) {
					t.Errorf("%s = %q, want it to contain %q", file, b, want)
				}
			}
			wantFP := provision.Fingerprint{Provider: "kind", KubernetesVersion: "v1.33.1", Nodes: 3, Options: map[string]string{
				"nodeImage": "kindest/node:v1.33.1", "engine": "docker 28.2.2", "kindVersion": "0.33.0", "workers": "2", "readyNodes": "3",
			}}
			if !reflect.DeepEqual(c.Fingerprint, wantFP) {
				t.Errorf("fingerprint = %+v\nwant %+v", c.Fingerprint, wantFP)
			}
			if c.Extra[ExtraKindName] != "benchctl-dev" {
				t.Errorf("Extra = %v", c.Extra)
			}
		})
	}
}

func TestDelete(t *testing.T) {
	dir := t.TempDir()
	fk := &fakeKind{}
	p, _ := newTestProvider(upRunner(), fk, nil)
	user := &provision.Cluster{Name: "dev", CreatedBy: provision.CreatedByUser, Dir: dir, Extra: map[string]string{ExtraKindName: "benchctl-dev"}}
	if err := p.Delete(context.Background(), user); err == nil || !strings.Contains(err.Error(), "not created by benchctl") {
		t.Errorf("Delete of a user's cluster = %v, want a refusal", err)
	}
	if len(fk.deleted) != 0 {
		t.Fatalf("deleted %v", fk.deleted)
	}
	ours := &provision.Cluster{Name: "dev", CreatedBy: provision.CreatedByBenchctl, Dir: dir, Kubeconfig: filepath.Join(dir, "kubeconfig"), Extra: map[string]string{ExtraKindName: "benchctl-dev"}}
	if err := p.Delete(context.Background(), ours); err != nil {
		t.Fatal(err)
	}
	// Never an empty kubeconfig path: kind would then edit ~/.kube/config.
	if want := [][2]string{{"benchctl-dev", filepath.Join(dir, "kubeconfig")}}; !reflect.DeepEqual(fk.deleted, want) {
		t.Errorf("deleted %v, want %v", fk.deleted, want)
	}
	// A record from a create that died before the kubeconfig was written.
	fk.deleted = nil
	early := &provision.Cluster{Name: "dev", CreatedBy: provision.CreatedByBenchctl, Dir: dir}
	if err := p.Delete(context.Background(), early); err != nil {
		t.Fatal(err)
	}
	if want := [][2]string{{"benchctl-dev", filepath.Join(dir, "kubeconfig")}}; !reflect.DeepEqual(fk.deleted, want) {
		t.Errorf("deleted %v, want %v", fk.deleted, want)
	}
}

// fakeNode is a kind node that runs nothing: it answers `containerd config
// dump` and records what `ctr images import -` reads from stdin.
type fakeNode struct {
	name     string
	imported bytes.Buffer
	cmds     []string
}

func (n *fakeNode) String() string              { return n.name }
func (n *fakeNode) Role() (string, error)       { return "worker", nil }
func (n *fakeNode) IP() (string, string, error) { return "10.0.0.2", "", nil }
func (n *fakeNode) SerialLogs(io.Writer) error  { return nil }
func (n *fakeNode) Command(c string, a ...string) kindexec.Cmd {
	return n.CommandContext(context.Background(), c, a...)
}
func (n *fakeNode) CommandContext(_ context.Context, c string, a ...string) kindexec.Cmd {
	n.cmds = append(n.cmds, c+" "+strings.Join(a, " "))
	return &fakeCmd{node: n, argv: append([]string{c}, a...)}
}

type fakeCmd struct {
	node   *fakeNode
	argv   []string
	stdin  io.Reader
	stdout io.Writer
}

func (c *fakeCmd) Run() error {
	switch c.argv[0] {
	case "containerd":
		_, err := io.WriteString(c.stdout, "version = 3\n[plugins.'io.containerd.cri.v1.images']\nsnapshotter = 'overlayfs'\n")
		return err
	case "ctr":
		_, err := io.Copy(&c.node.imported, c.stdin)
		return err
	}
	return fmt.Errorf("unexpected command %v", c.argv)
}
func (c *fakeCmd) SetEnv(...string) kindexec.Cmd      { return c }
func (c *fakeCmd) SetStdin(r io.Reader) kindexec.Cmd  { c.stdin = r; return c }
func (c *fakeCmd) SetStdout(w io.Writer) kindexec.Cmd { c.stdout = w; return c }
func (c *fakeCmd) SetStderr(io.Writer) kindexec.Cmd   { return c }

func TestLoadImagesEveryNodeGetsTheWholeArchive(t *testing.T) {
	archive := filepath.Join(t.TempDir(), "images.tar")
	content := bytes.Repeat([]byte("layer-bytes-"), 10000)
	if err := os.WriteFile(archive, content, 0o600); err != nil {
		t.Fatal(err)
	}
	a, b := &fakeNode{name: "benchctl-dev-control-plane"}, &fakeNode{name: "benchctl-dev-worker"}
	fk := &fakeKind{nodes: []nodes.Node{a, b}}
	p, _ := newTestProvider(upRunner(), fk, nil)
	c := &provision.Cluster{Name: "dev", Extra: map[string]string{ExtraKindName: "benchctl-dev"}}
	if err := p.LoadImages(context.Background(), c, archive); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*fakeNode{a, b} {
		if !bytes.Equal(n.imported.Bytes(), content) {
			t.Errorf("node %s imported %d bytes, want %d", n.name, n.imported.Len(), len(content))
		}
		if want := "ctr --namespace=k8s.io images import --all-platforms --digests --snapshotter=overlayfs -"; n.cmds[len(n.cmds)-1] != want {
			t.Errorf("node %s ran %q, want %q", n.name, n.cmds[len(n.cmds)-1], want)
		}
	}

	tests := []struct {
		name    string
		archive string
		nodes   []nodes.Node
		wantErr string
	}{
		{"missing archive", filepath.Join(t.TempDir(), "nope.tar"), []nodes.Node{a}, "image archive"},
		{"no nodes", archive, nil, "has no nodes; is it running?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fk := &fakeKind{nodes: tt.nodes}
			p, _ := newTestProvider(upRunner(), fk, nil)
			err := p.LoadImages(context.Background(), c, tt.archive)
			providertest.RequireErr(t, err, nil, tt.wantErr)
		})
	}
}

func TestDryRun(t *testing.T) {
	var b strings.Builder
	if err := New().DryRun(context.Background(), provision.Spec{Name: "dev", Nodes: 1, KubernetesVersion: "1.33.1"}, "/state/clusters/dev", &b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"/state/clusters/dev/kind-config.yaml (mode 0600)", "name: benchctl-dev", "role: worker", "/state/clusters/dev/kubeconfig (mode 0600)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("dry run output lacks %q:\n%s", want, b.String())
		}
	}
}

// fakeDocker answers the preflight and kind's first calls, then fails at
// the network step, so the real kind library runs up to its first change.
const fakeDocker = `#!/bin/sh
echo "$*" >> "$FAKE_DOCKER_LOG"
case "$*" in
  "info --format {{.ServerVersion}}") echo 99.0.0 ;;
  "info --format {{json .}}") echo '{"CgroupVersion":"2","MemoryLimit":true,"PidsLimit":true,"CPUShares":true}' ;;
  ps*) ;;
  "inspect --type=image "*) ;;
  network*) echo "fake docker: no networks here" >&2; exit 1 ;;
  *) echo "fake docker: unexpected: $*" >&2; exit 1 ;;
esac
`

// TestCreateDrivesTheKindLibrary runs Create with the real kind library
// against a fake docker CLI: it checks the generated config reaches kind
// (the image it looks for), that kind's error comes back wrapped, and that
// ~/.kube/config is left alone.
func TestCreateDrivesTheKindLibrary(t *testing.T) {
	bin, home := t.TempDir(), t.TempDir()
	log := filepath.Join(t.TempDir(), "docker.log")
	if err := os.WriteFile(filepath.Join(bin, "docker"), []byte(fakeDocker), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("HOME", home)
	t.Setenv("KUBECONFIG", "")
	t.Setenv("FAKE_DOCKER_LOG", log)

	dir := t.TempDir()
	c := &provision.Cluster{Name: "dev", CreatedBy: provision.CreatedByBenchctl, Nodes: 1, Dir: dir}
	err := New().Create(context.Background(), provision.Spec{Name: "dev", Nodes: 1, KubernetesVersion: "1.33.1"}, c)
	providertest.RequireErr(t, err, nil, "kind create cluster benchctl-dev (docker 99.0.0)", "failed to ensure docker network")
	b, rerr := os.ReadFile(log)
	if rerr != nil {
		t.Fatal(rerr)
	}
	calls := string(b)
	for _, want := range []string{"info --format {{.ServerVersion}}\n", "inspect --type=image kindest/node:v1.33.1\n", "io.x-k8s.kind.cluster=benchctl-dev"} {
		if !strings.Contains(calls, want) {
			t.Errorf("docker was not called with %q; calls:\n%s", want, calls)
		}
	}
	if _, err := os.Stat(filepath.Join(home, ".kube")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("~/.kube was touched: %v", err)
	}
}
