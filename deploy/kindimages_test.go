package deploy

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/benchctl/benchctl/deploy/images"
	"github.com/benchctl/benchctl/provision"
)

// fakeLoader stands in for kind's node image loader, which needs Docker.
type fakeLoader struct {
	archives []string
	err      error
}

func (f *fakeLoader) LoadImageArchives(_ context.Context, _ *provision.Cluster, archives ...string) error {
	f.archives = append(f.archives, archives...)
	return f.err
}

// TestKindImagesBuiltAndLoaded: on kind without --image-repo, deploy
// builds the images of the controller's source tree, writes them under
// the cluster's state directory and hands every archive to the loader; a
// loader's failure (no Docker) is the deploy's.
func TestKindImagesBuiltAndLoaded(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the images (-short)")
	}
	noDocker := errors.New("kind needs Docker or Podman; neither is running")
	tests := []struct {
		name    string
		loader  *fakeLoader
		wantErr string
	}{
		{"loaded", &fakeLoader{}, ""},
		{"no engine", &fakeLoader{err: noDocker}, "Docker or Podman"},
		{"no loader", nil, "no image loader"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &provision.Cluster{Name: "k", Provider: provision.ProviderKind, Dir: t.TempDir()}
			opts := Options{}
			if tt.loader != nil {
				opts.ImageLoader = tt.loader
			}
			build := &ControllerBuild{SourceDir: "..", Version: "v0.0.0-test", Commit: "0123456789ab"}
			repo, err := loadImages(context.Background(), c, opts, build)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if repo != images.DefaultRepo || len(tt.loader.archives) != len(images.Names()) {
				t.Fatalf("repo %q, %d archives loaded; want %q and one per image %v", repo, len(tt.loader.archives), images.DefaultRepo, images.Names())
			}
			for _, a := range tt.loader.archives {
				if fi, err := os.Stat(a); err != nil || fi.Size() == 0 || !strings.HasPrefix(a, filepath.Join(c.Dir, "images", build.Commit)) {
					t.Errorf("archive %s: %v (want a non-empty file under the cluster's state directory)", a, err)
				}
			}
		})
	}
}
