package deploy

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/benchctl/benchctl/controller/chart"
)

func bundled() Source {
	return Source{Bundled: []string{"benchctl", "controller"}, BundledChart: chart.FS(), BundledVersion: "v0", BundledCommit: "c0"}
}

func writeConfig(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestInputsHash: the hash covers what changes behaviour, not names.
func TestInputsHash(t *testing.T) {
	hash := func(config string, set ...string) string {
		t.Helper()
		p, err := Prepare(context.Background(), Options{Config: config, Set: set, Source: bundled()})
		if err != nil {
			t.Fatal(err)
		}
		return p.InputsHash
	}
	base := hash("default")
	tests := []struct {
		name string
		got  string
		same bool
	}{
		{"an empty overlay under another name", hash(writeConfig(t, "again.yaml", "# same\nconfig: {}\n")), true},
		{"the defaults spelt out", hash(writeConfig(t, "spelt.yaml", "# same\nconfig:\n  workers: 8\n")), true},
		{"another address", hash("default", "config.http.address=127.0.0.1:9999"), true},
		{"another blob directory", hash("default", "config.blobstore.url=file:///elsewhere?create_dir=1"), true},
		{"another blob store", hash("default", "config.blobstore.url=mem://"), false},
		{"more workers", hash("default", "config.workers=16"), false},
		{"a named config that changes something", hash("streak-1"), false},
	}
	for _, tt := range tests {
		if (tt.got == base) != tt.same {
			t.Errorf("%s: same hash = %v, want %v", tt.name, tt.got == base, tt.same)
		}
	}
}

// TestPrepareBlame: an error names the input that set the bad value.
func TestPrepareBlame(t *testing.T) {
	values := writeConfig(t, "more.yaml", "config:\n  workflowStore: Bogus\n")
	tests := []struct {
		name string
		opts Options
		want []string
		not  string
	}{
		{"--set", Options{Set: []string{"config.workflowStore=Bogus"}}, []string{"--set config.workflowStore=Bogus", "config.workflowStore"}, "default.yaml"},
		{"-f", Options{ValuesFiles: []string{values}}, []string{"more.yaml:2", "config.workflowStore"}, "default.yaml"},
		{"the config file", Options{Config: writeConfig(t, "mine.yaml", "# why\nconfig:\n  workflowStore: Bogus\n")}, []string{"mine.yaml:3"}, "--set"},
		{"a missing -f file", Options{ValuesFiles: []string{"/nonexistent.yaml"}}, []string{"-f /nonexistent.yaml"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.opts
			o.Source = bundled()
			_, err := Prepare(context.Background(), o)
			if err == nil {
				t.Fatal("accepted")
			}
			if _, ok := err.(*ConfigError); !ok {
				t.Errorf("err is %T, want *ConfigError", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err %q lacks %q", err, w)
				}
			}
			if tt.not != "" && strings.Contains(err.Error(), tt.not) {
				t.Errorf("err %q blames %q", err, tt.not)
			}
		})
	}
}

func TestBehaviour(t *testing.T) {
	b, err := Behaviour([]byte("workers: 8\nhttp:\n  address: 127.0.0.1:1\nblobstore:\n  url: s3://bucket/x?region=a\nevents:\n  sink: log\n  file: /tmp/e\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := b["http"].(map[string]any)["address"]; ok {
		t.Error("address kept")
	}
	if b["blobstore"].(map[string]any)["url"] != "s3://" || b["events"].(map[string]any)["file"] != nil || b["workers"] != float64(8) {
		t.Errorf("behaviour = %v", b)
	}
}
