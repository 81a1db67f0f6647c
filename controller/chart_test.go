package controller_test

import (
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"

	"github.com/benchctl/benchctl/controller/config"
)

const chartDir = "chart"

func loadChart(t *testing.T) *chart.Chart {
	t.Helper()
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// render renders the chart with overrides, validating them against
// values.schema.json as helm install does.
func render(t *testing.T, ch *chart.Chart, overrides map[string]any) (map[string]string, error) {
	t.Helper()
	vals, err := chartutil.ToRenderValues(ch, overrides,
		chartutil.ReleaseOptions{Name: "benchflow", Namespace: "bench", IsInstall: true}, chartutil.DefaultCapabilities)
	if err != nil {
		return nil, err
	}
	return engine.Render(ch, vals)
}

func manifest[T any](t *testing.T, out map[string]string, file string) T {
	t.Helper()
	var obj T
	src, ok := out["benchflow/templates/"+file]
	if !ok {
		t.Fatalf("no template %s", file)
	}
	if err := yaml.UnmarshalStrict([]byte(src), &obj); err != nil {
		t.Fatalf("%s: %v\n%s", file, err, src)
	}
	return obj
}

func TestChartLint(t *testing.T) {
	for _, tt := range []struct {
		name   string
		values map[string]any
	}{
		{"defaults", nil},
		{"local provider", map[string]any{"replicaCount": 0, "config": map[string]any{"workers": 4, "events": map[string]any{"sink": "kube"}}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res := lint.All(chartDir, tt.values, "bench", false)
			for _, m := range res.Messages {
				if m.Severity >= support.WarningSev {
					t.Errorf("lint: %s", m)
				}
			}
		})
	}
}

func TestChartRendersTheControllerConfig(t *testing.T) {
	ch := loadChart(t)
	if ch.Metadata.Name != "benchflow" {
		t.Fatalf("chart name %q", ch.Metadata.Name)
	}
	if len(ch.CRDObjects()) != 1 {
		t.Fatalf("chart has %d CRDs, want the Workflow CRD", len(ch.CRDObjects()))
	}
	out, err := render(t, ch, nil)
	if err != nil {
		t.Fatal(err)
	}
	cm := manifest[corev1.ConfigMap](t, out, "configmap.yaml")
	cfg, err := config.Parse("configmap config.yaml", []byte(cm.Data["config.yaml"]))
	if err != nil {
		t.Fatalf("rendered config does not load: %v", err)
	}
	// values.yaml lists every default: they must not drift from the code.
	// The one chart default that differs: events go to the release's
	// admin service.
	got, _ := cfg.YAML()
	def := config.Defaults()
	def.Events.Sink, def.Events.Admin.URL = config.EventSinkAdmin, "http://benchflow-admin.bench.svc:8089"
	want, _ := def.YAML()
	if string(got) != string(want) {
		t.Fatalf("values.yaml config differs from config.Defaults():\n%s\nvs\n%s", got, want)
	}

	dep := manifest[appsv1.Deployment](t, out, "deployment.yaml")
	c := dep.Spec.Template.Spec.Containers[0]
	if !slices.Contains(c.Args, "--http-address=0.0.0.0:8080") || *dep.Spec.Replicas != 1 {
		t.Fatalf("deployment args %v replicas %d", c.Args, *dep.Spec.Replicas)
	}
	if c.Env[0].ValueFrom.FieldRef.FieldPath != "metadata.namespace" {
		t.Fatal("POD_NAMESPACE not from the downward API")
	}
	manifest[corev1.Service](t, out, "service.yaml")
	manifest[corev1.ServiceAccount](t, out, "serviceaccount.yaml")
	manifest[rbacv1.RoleBinding](t, out, "rolebinding.yaml")

	// Overrides reach the config; the local provider's zero replicas too.
	out, err = render(t, ch, map[string]any{"replicaCount": 0, "config": map[string]any{
		"workers": 3, "downstreamEvalDuration": "250ms", "blobstore": map[string]any{"cacheSizeBytes": "1Gi"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	cm = manifest[corev1.ConfigMap](t, out, "configmap.yaml")
	if cfg, err = config.Parse("configmap", []byte(cm.Data["config.yaml"])); err != nil {
		t.Fatal(err)
	}
	if cfg.Workers != 3 || cfg.DownstreamEvalDuration.String() != "250ms" || cfg.Blobstore.CacheSizeBytes != 1<<30 || cfg.MaxStreakLength != 8 {
		t.Fatalf("overrides lost: %+v", cfg)
	}
	if dep := manifest[appsv1.Deployment](t, out, "deployment.yaml"); *dep.Spec.Replicas != 0 {
		t.Fatalf("replicas %d, want 0", *dep.Spec.Replicas)
	}
}

func TestChartRBACIsMinimal(t *testing.T) {
	ch := loadChart(t)
	tests := []struct {
		name      string
		values    map[string]any
		wantRules map[string][]string // "group/resource" -> verbs
	}{
		{"log events, one replica", nil, map[string][]string{
			"flow.benchctl.dev/workflows": {"get", "list", "watch", "update", "create", "delete"},
			"/pods":                       {"get", "list", "watch", "create", "delete"},
		}},
		{"kube events and leader election", map[string]any{"config": map[string]any{
			"events": map[string]any{"sink": "kube"}, "leaderElection": map[string]any{"enabled": true},
		}}, map[string][]string{
			"flow.benchctl.dev/workflows": {"get", "list", "watch", "update", "create", "delete"},
			"/pods":                       {"get", "list", "watch", "create", "delete"},
			"/events":                     {"create"},
			"coordination.k8s.io/leases":  {"get", "create", "update"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := render(t, ch, tt.values)
			if err != nil {
				t.Fatal(err)
			}
			role := manifest[rbacv1.Role](t, out, "role.yaml")
			got := map[string][]string{}
			for _, r := range role.Rules {
				for _, g := range r.APIGroups {
					for _, res := range r.Resources {
						got[g+"/"+res] = r.Verbs
					}
				}
			}
			if len(got) != len(tt.wantRules) {
				t.Fatalf("rules %v, want %v", got, tt.wantRules)
			}
			for k, v := range tt.wantRules {
				if !slices.Equal(got[k], v) {
					t.Fatalf("%s verbs %v, want %v", k, got[k], v)
				}
			}
		})
	}
}

func TestChartSchemaRejectsBadValues(t *testing.T) {
	ch := loadChart(t)
	for _, tt := range []struct {
		name   string
		values map[string]any
		want   string
	}{
		{"unknown config field", map[string]any{"config": map[string]any{"wokers": 3}}, "wokers"},
		{"zero workers", map[string]any{"config": map[string]any{"workers": 0}}, "workers"},
		{"bad store policy", map[string]any{"config": map[string]any{"workflowStore": "Sometimes"}}, "workflowStore"},
		{"bad duration", map[string]any{"config": map[string]any{"workflowReevalDuration": "soon"}}, "workflowReevalDuration"},
		{"unknown top-level value", map[string]any{"replicas": 2}, "replicas"},
		{"bad event sink", map[string]any{"config": map[string]any{"events": map[string]any{"sink": "kafka"}}}, "sink"},
		{"bad admin DSN", map[string]any{"admin": map[string]any{"database": map[string]any{"dsn": "mysql://x"}}}, "dsn"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := render(t, ch, tt.values)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one naming %q", err, tt.want)
			}
		})
	}
}

// docs splits a rendered template into its objects, by kind.
func docs(t *testing.T, src string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, d := range strings.Split(src, "\n---") {
		var meta struct{ Kind string }
		if err := yaml.Unmarshal([]byte(d), &meta); err != nil {
			t.Fatalf("%v\n%s", err, d)
		}
		if meta.Kind != "" {
			out[meta.Kind] = append(out[meta.Kind], d)
		}
	}
	return out
}

func TestChartAdminService(t *testing.T) {
	ch := loadChart(t)
	tests := []struct {
		name       string
		values     map[string]any
		wantKinds  []string
		wantDBArg  string
		wantURL    string
		wantSecret string
	}{
		{"defaults: SQLite in the pod", nil, []string{"Deployment", "Service", "ServiceAccount"}, "--db=sqlite:///data/benchadmin.db", "http://benchflow-admin.bench.svc:8089", ""},
		{"PostgreSQL DSN in a Secret", map[string]any{"admin": map[string]any{"database": map[string]any{"dsn": "postgres://u:pw@db:5432/events"}}},
			[]string{"Deployment", "Secret", "Service", "ServiceAccount"}, "--db-file=/etc/benchadmin/dsn", "http://benchflow-admin.bench.svc:8089", "benchflow-admin"},
		{"existing Secret", map[string]any{"admin": map[string]any{"database": map[string]any{"existingSecret": "pg"}}},
			[]string{"Deployment", "Service", "ServiceAccount"}, "--db-file=/etc/benchadmin/dsn", "http://benchflow-admin.bench.svc:8089", "pg"},
		{"explicit URL kept", map[string]any{"config": map[string]any{"events": map[string]any{"admin": map[string]any{"url": "http://elsewhere:1"}}}},
			[]string{"Deployment", "Service", "ServiceAccount"}, "--db=sqlite:///data/benchadmin.db", "http://elsewhere:1", ""},
		{"disabled", map[string]any{"admin": map[string]any{"enabled": false}, "config": map[string]any{"events": map[string]any{"sink": "log"}}}, nil, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := render(t, ch, tt.values)
			if err != nil {
				t.Fatal(err)
			}
			cm := manifest[corev1.ConfigMap](t, out, "configmap.yaml")
			cfg, err := config.Parse("configmap", []byte(cm.Data["config.yaml"]))
			if err != nil {
				t.Fatalf("rendered config does not load: %v", err)
			}
			if cfg.Events.Admin.URL != tt.wantURL {
				t.Fatalf("admin URL %q, want %q", cfg.Events.Admin.URL, tt.wantURL)
			}
			objs := docs(t, out["benchflow/templates/admin.yaml"])
			var kinds []string
			for k := range objs {
				kinds = append(kinds, k)
			}
			slices.Sort(kinds)
			if !slices.Equal(kinds, tt.wantKinds) {
				t.Fatalf("admin objects %v, want %v", kinds, tt.wantKinds)
			}
			if tt.wantKinds == nil {
				return
			}
			var sa corev1.ServiceAccount
			if err := yaml.UnmarshalStrict([]byte(objs["ServiceAccount"][0]), &sa); err != nil {
				t.Fatal(err)
			}
			var dep appsv1.Deployment
			if err := yaml.UnmarshalStrict([]byte(objs["Deployment"][0]), &dep); err != nil {
				t.Fatal(err)
			}
			pod := dep.Spec.Template.Spec
			// Least privilege: the service calls no Kubernetes API.
			if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken || pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken || pod.ServiceAccountName != sa.Name {
				t.Fatalf("admin service account %s mounts a token (sa %v, pod %v as %s)", sa.Name, sa.AutomountServiceAccountToken, pod.AutomountServiceAccountToken, pod.ServiceAccountName)
			}
			if !slices.Contains(pod.Containers[0].Args, tt.wantDBArg) || !slices.Contains(pod.Containers[0].Args, "--allow-remote") {
				t.Fatalf("admin args %v, want %s", pod.Containers[0].Args, tt.wantDBArg)
			}
			secret := ""
			for _, v := range pod.Volumes {
				if v.Secret != nil {
					secret = v.Secret.SecretName
				}
			}
			if secret != tt.wantSecret {
				t.Fatalf("DSN secret %q, want %q", secret, tt.wantSecret)
			}
			// The DSN (a credential) is in the Secret only, never in args or the ConfigMap.
			if strings.Contains(objs["Deployment"][0], "pw@") || strings.Contains(cm.Data["config.yaml"], "pw@") {
				t.Fatal("the DSN leaked out of its Secret")
			}
		})
	}
	// No role mentions the admin service account.
	out, err := render(t, ch, nil)
	if err != nil {
		t.Fatal(err)
	}
	rb := manifest[rbacv1.RoleBinding](t, out, "rolebinding.yaml")
	for _, s := range rb.Subjects {
		if strings.HasSuffix(s.Name, "-admin") {
			t.Fatalf("admin service account bound to %s", rb.RoleRef.Name)
		}
	}
}
