package deploy

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

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
		{"another admin address", hash("default", "config.events.admin.url=http://127.0.0.1:1"), true},
		{"another event sink", hash("default", "config.events.sink=log"), false},
		{"another admin database", hash("default", "admin.database.dsn=postgres://u:pw@db/x"), false},
	}
	// A password is not behaviour (and is redacted before hashing).
	if hash("default", "admin.database.dsn=postgres://u:pw@db/x") != hash("default", "admin.database.dsn=postgres://u:other@db/x") {
		t.Error("two admin passwords hash apart")
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

// TestPrepareAdmin: the admin sink gets the chart's Service URL when it
// has none, and a DSN's password never reaches the inputs a manifest
// records.
func TestPrepareAdmin(t *testing.T) {
	tests := []struct {
		name      string
		set       []string
		wantAdmin bool
	}{
		{"the default config reports to the admin service", nil, true},
		{"events-log", []string{"config.events.sink=log"}, false},
		{"admin disabled", []string{"admin.enabled=false", "config.events.sink=none"}, false},
		{"a PostgreSQL DSN", []string{"admin.database.dsn=postgres://bench:s3cret@db:5432/events"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Prepare(context.Background(), Options{Set: tt.set, Source: bundled()})
			if err != nil {
				t.Fatal(err)
			}
			if p.admin != tt.wantAdmin {
				t.Fatalf("admin = %v, want %v", p.admin, tt.wantAdmin)
			}
			b, _ := yaml.Marshal(p.Inputs)
			if strings.Contains(string(b), "s3cret") {
				t.Fatalf("the DSN's password is in the inputs:\n%s", b)
			}
			if strings.Contains(string(b), "admin.svc") {
				t.Fatalf("the admin URL (it only locates the service) is in the inputs:\n%s", b)
			}
		})
	}
	// An admin sink without a URL and without the chart's service cannot work.
	_, err := Prepare(context.Background(), Options{Set: []string{"admin.enabled=false"}, Source: bundled()})
	if err == nil || !strings.Contains(err.Error(), "events.admin.url") {
		t.Fatalf("err = %v, want one naming events.admin.url", err)
	}
}

func TestAdminServiceURL(t *testing.T) {
	for _, tt := range []struct{ release, want string }{
		{"benchflow", "http://benchflow-admin.ns.svc:8089"},
		{"bench", "http://bench-benchflow-admin.ns.svc:8089"},
	} {
		if got := adminServiceURL(tt.release, "ns", map[string]any{}); got != tt.want {
			t.Errorf("release %s: %s, want %s", tt.release, got, tt.want)
		}
	}
}
