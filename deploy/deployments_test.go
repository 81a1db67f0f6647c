package deploy

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/benchctl/benchctl/provision"
)

func TestDeploymentsListsTheRecords(t *testing.T) {
	tests := []struct {
		name  string
		files []string
		want  []string
	}{
		{"none yet", nil, nil},
		{"records, escaped names, and other files", []string{"default.yaml", "head%2Fbase.yaml", "notes.txt"}, []string{"default", "head/base"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &provision.Cluster{Name: "c", Dir: t.TempDir()}
			for _, f := range tt.files {
				p := filepath.Join(c.Dir, "deployments", f)
				if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			got, err := Deployments(c)
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("Deployments = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}
