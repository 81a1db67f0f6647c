package deploy

import (
	"context"
	"errors"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestConfigNames: a config's name (its file's name) becomes a deployment
// name, a namespace and file names, so it must be a short DNS label.
func TestConfigNames(t *testing.T) {
	tests := []struct {
		file string
		ok   bool
	}{
		{"default-b.yaml", true},
		{"x.yml", true},
		{strings.Repeat("a", 40) + ".yaml", true},
		{strings.Repeat("a", 41) + ".yaml", false},
		{"My_Config.yaml", false},
		{"two.dots.yaml", false},
		{"-lead.yaml", false},
		{"with space.yaml", false},
		{".yaml", false},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			p := writeConfig(t, tt.file, "# why\nconfig: {}\n")
			_, err := LoadConfig(p)
			if tt.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			if msg := err.Error(); strings.Contains(msg, "\n") || !strings.HasPrefix(msg, p+": config name ") || !strings.Contains(msg, "1-40 lower-case letters") {
				t.Errorf("err = %q, want one line naming the file and the rule", msg)
			}
		})
	}
}

// TestConfigValues: what a config holds reaches Helm as written, or is
// refused on one line naming the file, the line and the key.
func TestConfigValues(t *testing.T) {
	tests := []struct {
		name string
		body string
		set  []string
		want string // in p.Values' YAML, or in the error
		err  bool
	}{
		// copyValues could not encode a NaN as JSON and returned an empty
		// map: the whole config (workers: 3 too) was silently dropped.
		{"NaN", "# x\nconfig:\n  workers: 3\n  taskPod:\n    nodeSelector: {zone: .nan}\n", nil,
			"c.yaml:5: config.taskPod.nodeSelector.zone: .nan is not a finite number, which chart values cannot hold", true},
		{"infinity in a list", "# x\nconfig:\n  a: [1, -.inf]\n", nil, "c.yaml:3: config.a[1]: -.inf is not a finite number", true},
		// yaml.v3 decoded the date as a time.Time, which reached Helm as
		// 2024-01-01T00:00:00Z.
		{"date-like string", "# x\nconfig:\n  workers: 3\n  taskPod:\n    nodeSelector: {zone: 2024-01-01}\n", nil, "zone: \"2024-01-01\"", false},
		{"integer key", "# x\nconfig:\n  taskPod:\n    nodeSelector: {1: a}\n", nil, "\"1\": a", false},
		{"aliases", "# x\nnodeSelector: &s {zone: a}\nconfig:\n  taskPod:\n    nodeSelector: *s\n", nil, "nodeSelector:\n      zone: a", false},
		{"duplicate key", "# x\nconfig:\n  workers: 2\n  workers: 3\n", nil, "c.yaml:4: config.workers: duplicate key (first at line 3)", true},
		{"merge key", "# x\nbase: &b {workers: 2}\nconfig:\n  <<: *b\n", nil, "c.yaml:4: config: unsupported key (merge keys and complex keys are not supported)", true},
		{"alias bomb", "config:\n  a: &a [x, x, x, x, x, x, x, x, x, x]\n  b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n  c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n  d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n  e: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n", nil,
			"through its aliases) to more than 10000 values", true},
		// The --set key's index was not matched against the schema
		// error's path, so the error blamed the named config.
		{"--set with a list index", "# x\nconfig: {}\n", []string{"config.taskPod.tolerations[0].operator=Bogus"},
			"--set config.taskPod.tolerations[0].operator=Bogus: config.taskPod.tolerations.0.operator: value must be one of", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Prepare(context.Background(), Options{Config: writeConfig(t, "c.yaml", tt.body), Set: tt.set, Source: bundled()})
			if tt.err {
				if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("err = %v, want one line with %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b, err := yaml.Marshal(p.Values)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), tt.want) {
				t.Errorf("values lack %q:\n%s", tt.want, b)
			}
		})
	}
}

// TestRedactedRecords: credentials in values never reach what a
// deployment records (its values and inputs) or what a report records
// (its behaviour).
func TestRedactedRecords(t *testing.T) {
	set := []string{
		"admin.database.dsn=postgres://bench:s3cret@db:5432/events",
		"config.telemetry.otlpEndpoint=https://otel:t0ken@collector:4318",
	}
	p, err := Prepare(context.Background(), Options{Set: set, Source: bundled()})
	if err != nil {
		t.Fatal(err)
	}
	for what, v := range map[string]map[string]any{"values": redactValues(p.Values), "inputs": p.Inputs} {
		b, _ := yaml.Marshal(v)
		if strings.Contains(string(b), "s3cret") || strings.Contains(string(b), "t0ken") {
			t.Errorf("a credential is in the %s:\n%s", what, b)
		}
		if !strings.Contains(string(b), "otel:xxxxx@collector") {
			t.Errorf("the %s lack the redacted endpoint:\n%s", what, b)
		}
	}
	// An error quotes the --set argument that set a bad value: not the
	// password beside it.
	_, err = Prepare(context.Background(), Options{Set: []string{"admin.database.dsn=postgres://u:s3cret@db/x,config.workflowStore=Bogus"}, Source: bundled()})
	if err == nil || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "--set admin.database.dsn=postgres://u:xxxxx@db/x,config.workflowStore=Bogus") {
		t.Errorf("err = %v, want the --set argument with its password masked", err)
	}
	b, err := Behaviour([]byte("blobstore:\n  url: s3://bucket?access_key=AK&secret_key=SK\ntelemetry:\n  otlpEndpoint: https://u:pw@collector\n  headers: {authorization: Bearer abcdefgh12345}\nworkers: 8\n"))
	if err != nil {
		t.Fatal(err)
	}
	y, _ := yaml.Marshal(b)
	for _, secret := range []string{"AK", "SK", "pw@", "abcdefgh12345"} {
		if strings.Contains(string(y), secret) {
			t.Errorf("behaviour holds %q:\n%s", secret, y)
		}
	}
	if !strings.Contains(string(y), "https://u:xxxxx@collector") || !strings.Contains(string(y), "url: s3://") {
		t.Errorf("behaviour = \n%s", y)
	}
}

// TestBlameSet: a value is blamed on the --set argument that sets it, as
// Helm parses the argument (the fuzzer found the textual match wrong for
// the last three).
func TestBlameSet(t *testing.T) {
	c, err := parseConfig("c", "built-in", "c.yaml", []byte("# x\nconfig:\n  workers: 2\n  taskPod:\n    tolerations: [{key: a}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		set  string
		keys string
		want string
	}{
		{"config.workers=3", "config.workers", "--set config.workers=3"},
		{"config.workers=3", "config", "--set config.workers=3"},
		{"config=null", "config.workers", "--set config=null"},
		{"config.other=1", "config.workers", "c.yaml:3"},
		{"a=1,config.workers=3", "config.workers", "--set a=1,config.workers=3"},
		{"config.taskPod.tolerations[0].key=b", "config.taskPod.tolerations.0.key", "--set config.taskPod.tolerations[0].key=b"},
		{"x\\.y=1", "x.y", "--set x\\.y=1"},
		// Helm reads the key as runes: invalid UTF-8 becomes U+FFFD.
		{"k\x90=1", "k\uFFFD", "--set k\x90=1"},
		// Helm ignores "config." (no value): it sets nothing.
		{"config.", "config.workers", "c.yaml:3"},
	}
	for _, tt := range tests {
		keys := strings.Split(tt.keys, ".")
		if tt.keys == "x.y" {
			keys = []string{"x.y"}
		}
		if got := (inputs{set: []string{tt.set}}).blame(c, keys); got != tt.want {
			t.Errorf("--set %q, %s: blamed on %q, want %q", tt.set, tt.keys, got, tt.want)
		}
	}
}

// TestHostControllerBindsLoopbackOnly: on a cluster whose controller runs
// on this host, an HTTP address beyond loopback is refused as bad config.
func TestHostControllerBindsLoopbackOnly(t *testing.T) {
	tests := []struct {
		addr    string
		wantErr bool
	}{{"", false}, {"127.0.0.1:8080", false}, {"localhost:0", false}, {"[::1]:9000", false},
		{"0.0.0.0:8080", true}, {":8080", true}, {"10.0.0.5:8080", true}, {"nonsense", true}}
	for _, tt := range tests {
		vals := map[string]any{"config": map[string]any{"http": map[string]any{"address": tt.addr}}}
		err := checkLoopback(vals, valHTTPAddress)
		var ce *ConfigError
		if (err != nil) != tt.wantErr || (err != nil && !errors.As(err, &ce)) {
			t.Errorf("%q: err %v, want a config error: %v", tt.addr, err, tt.wantErr)
		}
	}
}
