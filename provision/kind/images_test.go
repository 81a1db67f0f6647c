package kind

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"sigs.k8s.io/kind/pkg/cluster/nodes"

	"github.com/benchctl/benchctl/provision"
	"github.com/benchctl/benchctl/provision/internal/provider/providertest"
)

// imageArchive writes a docker-save tarball of a small random image, the
// format `benchctl images build` writes and kind's loader takes.
func imageArchive(t *testing.T, ref string) (string, []byte) {
	t.Helper()
	img, err := random.Image(2048, 2)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), strings.ReplaceAll(tag.RepositoryStr(), "/", "_")+".tar")
	if err := tarball.WriteToFile(path, tag, img); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, b
}

// TestLoadImageArchives: every node imports every archive, whole and in
// order, through containerd's importer, after one engine preflight.
func TestLoadImageArchives(t *testing.T) {
	flow, flowBytes := imageArchive(t, "ghcr.io/benchctl/benchflow:0123456789ab")
	task, taskBytes := imageArchive(t, "ghcr.io/benchctl/benchtask:0123456789ab")
	a, b := &fakeNode{name: "benchctl-dev-control-plane"}, &fakeNode{name: "benchctl-dev-worker"}
	fk := &fakeKind{nodes: []nodes.Node{a, b}}
	r := upRunner()
	p, kinds := newTestProvider(r, fk, nil)
	c := &provision.Cluster{Name: "dev", Extra: map[string]string{ExtraKindName: "benchctl-dev"}}
	if err := p.LoadImageArchives(context.Background(), c, flow, task); err != nil {
		t.Fatal(err)
	}
	want := append(append([]byte{}, flowBytes...), taskBytes...)
	const importCmd = "ctr --namespace=k8s.io images import --all-platforms --digests --snapshotter=overlayfs -"
	for _, n := range []*fakeNode{a, b} {
		if !bytes.Equal(n.imported.Bytes(), want) {
			t.Errorf("node %s imported %d bytes, want both archives (%d bytes) in order", n.name, n.imported.Len(), len(want))
		}
		imports := 0
		for _, cmd := range n.cmds {
			if cmd == importCmd {
				imports++
			}
		}
		if imports != 2 {
			t.Errorf("node %s ran %q, want 2 imports", n.name, n.cmds)
		}
	}
	if len(r.calls) != 1 || *kinds != 1 || fk.engine != "docker" {
		t.Errorf("preflight calls %q, kind providers %d (engine %q): want one of each, docker", r.calls, *kinds, fk.engine)
	}
}

func TestLoadImageArchivesFails(t *testing.T) {
	archive, _ := imageArchive(t, "ghcr.io/benchctl/benchflow:x")
	node := &fakeNode{name: "benchctl-dev-control-plane"}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name     string
		runner   *fakeRunner
		nodes    []nodes.Node
		archives []string
		ctx      context.Context
		is       error
		want     []string
		// preflight says whether the engine was asked at all.
		preflight bool
	}{
		{name: "no engine on PATH", runner: &fakeRunner{Path: map[string]bool{}}, nodes: []nodes.Node{node}, archives: []string{archive},
			is: ErrNoEngine, want: []string{"kind cluster benchctl-dev", "kind needs Docker or Podman", "neither `docker` nor `podman` is on PATH"}},
		{name: "engine not running", runner: &fakeRunner{Path: map[string]bool{"docker": true}, replies: map[string]reply{"docker": {out: dockerDown, err: errExit1}}},
			nodes: []nodes.Node{node}, archives: []string{archive}, is: ErrNoEngine, preflight: true,
			want: []string{"kind needs Docker or Podman", "Is the docker daemon running?"}},
		{name: "missing archive", runner: upRunner(), nodes: []nodes.Node{node}, archives: []string{archive, filepath.Join(t.TempDir(), "nope.tar")},
			is: os.ErrNotExist, want: []string{"image archive", "nope.tar"}},
		{name: "directory", runner: upRunner(), nodes: []nodes.Node{node}, archives: []string{t.TempDir()}, want: []string{"is not a file"}},
		{name: "no archive", runner: upRunner(), nodes: []nodes.Node{node}, want: []string{"no image archive given"}},
		{name: "no nodes", runner: upRunner(), archives: []string{archive}, preflight: true, want: []string{"has no nodes; is it running?"}},
		{name: "interrupted", runner: upRunner(), nodes: []nodes.Node{node}, archives: []string{archive}, ctx: cancelled, is: context.Canceled, preflight: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fk := &fakeKind{nodes: tt.nodes}
			p, _ := newTestProvider(tt.runner, fk, nil)
			ctx := tt.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			c := &provision.Cluster{Name: "dev", Extra: map[string]string{ExtraKindName: "benchctl-dev"}}
			err := p.LoadImageArchives(ctx, c, tt.archives...)
			providertest.RequireErr(t, err, tt.is, tt.want...)
			if asked := len(tt.runner.calls) > 0; asked != tt.preflight {
				t.Errorf("engine asked: %v, want %v (calls %q)", asked, tt.preflight, tt.runner.calls)
			}
		})
	}
}

// TestLoadImageArchivesOnThisMachine runs the real preflight: without a
// running engine (as on CI here) loading fails saying Docker or Podman is
// needed, before any kind call.
func TestLoadImageArchivesOnThisMachine(t *testing.T) {
	archive, _ := imageArchive(t, "ghcr.io/benchctl/benchflow:x")
	p := New()
	if _, err := p.Preflight(context.Background()); err == nil {
		t.Skip("a container engine runs here; loading would touch a real cluster")
	}
	c := &provision.Cluster{Name: "absent", Extra: map[string]string{ExtraKindName: "benchctl-absent"}}
	err := p.LoadImageArchives(context.Background(), c, archive)
	if !errors.Is(err, ErrNoEngine) || !strings.Contains(err.Error(), "Docker or Podman") {
		t.Fatalf("err = %v, want one saying Docker or Podman is needed", err)
	}
	t.Logf("as expected: %v", err)
}
