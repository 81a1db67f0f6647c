package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefaultsValid(t *testing.T) {
	if err := Defaults().Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr []string // substrings of the error
		check   func(t *testing.T, c Config)
	}{
		{name: "empty is defaults", in: "", check: func(t *testing.T, c Config) {
			if c.Workers != 8 || c.WorkflowStore != StoreResourceVersionCache || c.Blobstore.CacheSizeBytes != 0 || c.MaxParallelism != 0 {
				t.Fatalf("not the defaults: %+v", c)
			}
		}},
		{name: "overrides keep other defaults", in: `
workers: 3
maxStreakLength: 1
downstreamEvalDuration: 250ms
workflowStore: PassThrough
kubeClient:
  qps: 50
blobstore:
  url: mem://
  cacheSizeBytes: 1Mi
taskPod:
  tolerations:
  - {key: kwok.x-k8s.io/node, operator: Exists, effect: NoSchedule}
`, check: func(t *testing.T, c Config) {
			if c.Workers != 3 || c.MaxStreakLength != 1 || c.DownstreamEvalDuration.D() != 250*time.Millisecond {
				t.Fatalf("overrides lost: %+v", c)
			}
			if c.KubeClient.QPS != 50 || c.KubeClient.Burst != 200 {
				t.Fatalf("kubeClient = %+v, want qps 50 and default burst 200", c.KubeClient)
			}
			if c.Blobstore.CacheSizeBytes != 1<<20 || c.Blobstore.URL != "mem://" {
				t.Fatalf("blobstore = %+v", c.Blobstore)
			}
			if len(c.TaskPod.Tolerations) != 1 || c.TaskPod.Tolerations[0].Operator != "Exists" {
				t.Fatalf("tolerations = %+v", c.TaskPod.Tolerations)
			}
		}},
		{name: "unknown top-level field", in: "workers: 2\nwokers: 3\n", wantErr: []string{"cfg.yaml", "line 2", "wokers"}},
		{name: "unknown nested field", in: "kubeClient:\n  qps: 5\n  brust: 10\n", wantErr: []string{"line 3", "brust"}},
		{name: "bad duration", in: "workflowReevalDuration: soon\n", wantErr: []string{"line 1", "duration"}},
		{name: "bad size", in: "blobstore:\n  cacheSizeBytes: lots\n", wantErr: []string{"line 2", "size"}},
		{name: "bad policy", in: "workflowStore: Sometimes\n", wantErr: []string{"workflowStore", "Sometimes"}},
		{name: "zero workers", in: "workers: 0\n", wantErr: []string{"workers"}},
		{name: "file sink needs a path", in: "events:\n  sink: file\n", wantErr: []string{"events.file"}},
		{name: "admin sink needs a URL", in: "events:\n  sink: admin\n", wantErr: []string{"events.admin.url"}},
		{name: "admin sink URL needs a scheme", in: "events:\n  sink: admin\n  admin:\n    url: 127.0.0.1:8089\n", wantErr: []string{"events.admin.url", "127.0.0.1:8089"}},
		{name: "admin sink retries", in: "events:\n  admin:\n    retries: -1\n", wantErr: []string{"events.admin", "retries"}},
		{name: "admin sink", in: "events:\n  sink: admin\n  admin:\n    url: http://127.0.0.1:8089\n    retries: 1\n", check: func(t *testing.T, c Config) {
			if c.Events.Sink != EventSinkAdmin || c.Events.Admin.URL != "http://127.0.0.1:8089" || c.Events.Admin.Retries != 1 || c.Events.Admin.Timeout != Duration(5*time.Second) {
				t.Fatalf("events = %+v", c.Events)
			}
		}},
		{name: "bad otlp endpoint", in: "telemetry:\n  otlpEndpoint: localhost:4318\n", wantErr: []string{"telemetry.otlpEndpoint"}},
		{name: "bad task outputs", in: "taskOutputs: maybe\n", wantErr: []string{"taskOutputs"}},
		{name: "bad launch-plan rate", in: "launchPlans:\n  createQPS: 0\n", wantErr: []string{"launchPlans", "createQPS"}},
		{name: "bad launch-plan cache", in: "launchPlans:\n  cacheSize: 0\n", wantErr: []string{"launchPlans.cacheSize"}},
		{name: "named configs differ from the defaults", in: "maxParallelism: 25\nblobstore:\n  cacheSizeBytes: 64Mi\n", check: func(t *testing.T, c Config) {
			d := Defaults()
			if c.MaxParallelism == d.MaxParallelism || c.Blobstore.CacheSizeBytes == d.Blobstore.CacheSizeBytes {
				t.Fatalf("max-parallelism-25 / blob-cache-64mb would equal the defaults: %d %d", d.MaxParallelism, d.Blobstore.CacheSizeBytes)
			}
		}},
		{name: "two documents", in: "workers: 1\n---\nworkers: 2\n", wantErr: []string{"more than one"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("cfg.yaml", []byte(tt.in))
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("no error, want one containing %q", tt.wantErr)
				}
				for _, s := range tt.wantErr {
					if !strings.Contains(err.Error(), s) {
						t.Fatalf("error %q does not contain %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestYAMLRoundTrip(t *testing.T) {
	c := Defaults()
	c.Workers = 5
	c.DownstreamEvalDuration = Duration(40 * time.Millisecond)
	c.TaskPod.NodeSelector = map[string]string{"type": "kwok"}
	b, err := c.YAML()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatalf("reload of rendered config: %v\n%s", err, b)
	}
	again, _ := got.YAML()
	if string(again) != string(b) {
		t.Fatalf("round trip changed the config:\n%s\nvs\n%s", b, again)
	}
	if !strings.Contains(string(b), "downstreamEvalDuration: 40ms") {
		t.Fatalf("durations not rendered as strings:\n%s", b)
	}
}

func TestLoadMissingFile(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "nope.yaml")); err == nil || !strings.Contains(err.Error(), "nope.yaml") {
		t.Fatalf("err = %v, want one naming the file", err)
	}
}

func TestEffectiveMaxParallelism(t *testing.T) {
	c := Defaults()
	if got := c.EffectiveMaxParallelism(0); got != 0 {
		t.Fatalf("default = %d, want 0 (unbounded)", got)
	}
	c.MaxParallelism = 25
	if got := c.EffectiveMaxParallelism(0); got != 25 {
		t.Fatalf("configured = %d", got)
	}
	if got := c.EffectiveMaxParallelism(3); got != 3 {
		t.Fatalf("requested = %d", got)
	}
}
