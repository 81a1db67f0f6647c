package deploy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBuiltinConfigs(t *testing.T) {
	all, err := Configs()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"default", "workers-800", "streak-1", "passthrough-store", "offload-closure", "blob-cache-64mb", "max-parallelism-25", "reeval-fast"}
	have := map[string]NamedConfig{}
	for _, c := range all {
		have[c.Name] = c
		if c.Description == "" {
			t.Errorf("config %s has no description line", c.Name)
		}
	}
	for _, name := range want {
		if _, ok := have[name]; !ok {
			t.Errorf("missing built-in config %s", name)
		}
	}
	if all[0].Name != DefaultConfig {
		t.Errorf("first config = %s, want default", all[0].Name)
	}
	// Every non-default config must change something.
	for _, c := range all {
		if c.Name != DefaultConfig && len(c.Values) == 0 {
			t.Errorf("config %s changes nothing", c.Name)
		}
	}
}

func TestLoadConfigErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	chartValues := map[string]any{"config": map[string]any{}, "replicaCount": 1, "image": map[string]any{}}
	tests := []struct {
		name string
		arg  string
		want string
	}{
		{"unknown name", "no-such-config", `unknown config "no-such-config": use one of default,`},
		{"missing file", filepath.Join(dir, "absent.yaml"), "absent.yaml: no such file"},
		{"not a mapping", write("list.yaml", "- a\n- b\n"), "list.yaml:1: a config is a mapping of chart values, got a list"},
		{"bad yaml", write("bad.yaml", "config: [\n"), "bad.yaml: yaml:"},
		{"misspelt top-level key", write("typo.yaml", "# why\nconfg:\n  workers: 2\n"), `typo.yaml:2: unknown chart value "confg" (the chart has: config, image, replicaCount)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := LoadConfig(tt.arg)
			if err == nil {
				err = c.CheckKeys(chartValues)
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestLoadConfigFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "mine.yaml")
	if err := os.WriteFile(p, []byte("# My experiment.\nconfig:\n  workers: 3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "mine" || c.Description != "My experiment." || c.Values["config"].(map[string]any)["workers"] != 3 {
		t.Fatalf("got %+v", c)
	}
	if err := c.CheckKeys(map[string]any{"config": nil}); err != nil {
		t.Fatal(err)
	}
}
