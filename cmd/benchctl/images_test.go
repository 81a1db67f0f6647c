package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/benchctl/benchctl/deploy/images"
)

// TestImagesUsageErrors: bad input to 'images' exits 2 with one line
// naming it, before anything is built.
func TestImagesUsageErrors(t *testing.T) {
	out := t.TempDir()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"images", "nosuch"}, `unknown command "nosuch"`},
		{[]string{"images", "build"}, "needs --output-dir"},
		{[]string{"images", "build", "--output-dir", out, "--platform", "windows/amd64"}, `--platform "windows/amd64"`},
		{[]string{"images", "build", "--output-dir", out, "--platform", "linux/amd64,linux/amd64"}, "given twice"},
		{[]string{"images", "build", "--output-dir", out, "-o", "xml"}, `--output "xml"`},
		{[]string{"images", "build", "--output-dir", out, "--image", "benchweb"}, `--image "benchweb"`},
		{[]string{"images", "build", "--output-dir", out, "--controller-source", filepath.Join(out, "absent")}, "is not a directory"},
		{[]string{"images", "build", "--output-dir", out, "--controller-source", out}, "not a benchctl source tree"},
		{[]string{"images", "build", "--output-dir", out, "--tag", "a:b"}, "image reference"},
		{[]string{"images", "push"}, "needs --image-repo"},
		{[]string{"images", "push", "--image-repo", "Not/Lower"}, "image reference"},
		{[]string{"images", "push", "--image-repo", "r.example/x", "extra"}, "takes 0 argument"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, stderr, code := runCLI(t, tt.args...)
			if code != exitUsage {
				t.Fatalf("exit %d, want %d: %s", code, exitUsage, stderr)
			}
			// The one line is the error; a progress line may precede it.
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			msg := lines[len(lines)-1]
			if !strings.HasPrefix(msg, "error: ") || !strings.Contains(msg, tt.want) {
				t.Errorf("error %q: want one line containing %q", stderr, tt.want)
			}
		})
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("bad input wrote %v", entries)
	}
}

// TestImagesBuildJSON builds the task image (the quickest) through the
// CLI and reads the archive it lists.
func TestImagesBuildJSON(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	stdout, stderr, code := runCLI(t, "images", "build", "--controller-source", root, "--image", "benchtask", "--tag", "cli", "--output-dir", out, "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var res images.Result
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout)
	}
	if len(res.Images) != 1 || res.Images[0].Ref != images.DefaultRepo+"/benchtask:cli" || len(res.Images[0].Manifests) != 1 {
		t.Fatalf("result %+v", res)
	}
	m := res.Images[0].Manifests[0]
	if m.Platform != images.HostPlatform() || m.Archive != filepath.Join(out, "benchtask.tar") {
		t.Errorf("manifest %+v", m)
	}
	if st, err := os.Stat(m.Archive); err != nil || st.Size() == 0 {
		t.Errorf("archive %s: %v", m.Archive, err)
	}
}
