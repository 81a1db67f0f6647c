package deploy

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"

	"github.com/benchctl/benchctl/provision"
)

// TestInClusterManifests renders the chart as Apply would for a
// controller that runs in the cluster (kind, eks, gke, existing), up to
// the API server: the images deploy points it at, the probes, the port
// and pods the harness port-forwards to, and RBAC that grants only what
// the controller uses, in its own namespace.
func TestInClusterManifests(t *testing.T) {
	// What the controller calls (controller/engine), by API group and
	// resource; anything else in a rule is a grant it does not use.
	used := map[string][]string{
		"flow.benchctl.dev/workflows": {"get", "list", "watch", "update", "create", "delete"},
		"/pods":                       {"get", "list", "watch", "create", "delete"},
		"/events":                     {"create"},
		"coordination.k8s.io/leases":  {"get", "create", "update"},
	}
	tests := []struct {
		name       string
		set        []string
		port       int
		wantGroups []string // resources the Role must grant
	}{
		{"default", nil, 8080, []string{"flow.benchctl.dev/workflows", "/pods"}},
		{"kube events, leader election, another port",
			[]string{"config.events.sink=kube", "config.leaderElection.enabled=true", "service.port=9090"}, 9090,
			[]string{"flow.benchctl.dev/workflows", "/pods", "/events", "coordination.k8s.io/leases"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			p, err := Prepare(ctx, Options{Config: "default", Set: tt.set, Source: bundled(), ImageRepo: "registry.example/bench"})
			if err != nil {
				t.Fatal(err)
			}
			_, vals, err := p.Plan(provision.ProviderEKS)
			if err != nil {
				t.Fatal(err)
			}
			m, err := p.manifest(ctx, vals)
			if err != nil {
				t.Fatal(err)
			}
			objs := splitManifest(t, m)
			ns := p.Options.Namespace

			dep := one[appsv1.Deployment](t, objs, "Deployment")
			if len(dep.Spec.Template.Spec.Containers) != 1 {
				t.Fatalf("%d containers, want 1", len(dep.Spec.Template.Spec.Containers))
			}
			c := dep.Spec.Template.Spec.Containers[0]
			if want := "registry.example/bench/benchflow:c0"; c.Image != want {
				t.Errorf("image %s, want %s", c.Image, want)
			}
			// The port the harness forwards to: what Connect derives from
			// the effective config of a controller started with these args.
			addr := ""
			for _, a := range c.Args {
				if v, ok := strings.CutPrefix(a, "--http-address="); ok {
					addr = v
				}
			}
			port, err := controllerPort(&Deployment{EffectiveConfig: "http:\n  address: " + addr + "\n"})
			if err != nil || port != tt.port {
				t.Errorf("Connect would forward to port %d (%v) from --http-address=%s, want %d", port, err, addr, tt.port)
			}
			if len(c.Ports) != 1 || c.Ports[0].Name != "http" || int(c.Ports[0].ContainerPort) != port {
				t.Errorf("container ports %+v, want http on %d", c.Ports, port)
			}
			for name, pr := range map[string]*corev1.Probe{"/healthz": c.LivenessProbe, "/readyz": c.ReadinessProbe} {
				if pr == nil || pr.HTTPGet == nil || pr.HTTPGet.Path != name || pr.HTTPGet.Port.String() != "http" {
					t.Errorf("probe for %s: %+v", name, pr)
				}
			}
			sel, err := labels.Parse(controllerSelector(p.Options.Release))
			if err != nil {
				t.Fatal(err)
			}
			if !sel.Matches(labels.Set(dep.Spec.Template.Labels)) {
				t.Errorf("the port-forward selector %s does not select the pods (labels %v)", sel, dep.Spec.Template.Labels)
			}
			if sc := dep.Spec.Template.Spec.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
				t.Error("the controller pod may run as root")
			}
			if c.SecurityContext == nil || c.SecurityContext.ReadOnlyRootFilesystem == nil || !*c.SecurityContext.ReadOnlyRootFilesystem {
				t.Error("the controller's root filesystem is writable")
			}

			cm := one[corev1.ConfigMap](t, objs, "ConfigMap")
			if !strings.Contains(cm.Data["config.yaml"], "registry.example/bench/benchtask:c0") {
				t.Errorf("task pods do not run the pushed benchtask image:\n%s", cm.Data["config.yaml"])
			}

			// RBAC: a Role in the release's namespace, bound to the
			// Deployment's service account; nothing cluster-wide.
			for _, o := range objs {
				if o.Kind == "ClusterRole" || o.Kind == "ClusterRoleBinding" {
					t.Errorf("the chart grants cluster-wide access: %s %s", o.Kind, o.Name)
				}
				if o.Kind != "CustomResourceDefinition" && o.Namespace != ns {
					t.Errorf("%s %s is in namespace %q, outside the release's %s", o.Kind, o.Name, o.Namespace, ns)
				}
			}
			role := one[rbacv1.Role](t, objs, "Role")
			var granted []string
			for _, r := range role.Rules {
				for _, g := range r.APIGroups {
					for _, res := range r.Resources {
						key := g + "/" + res
						granted = append(granted, key)
						for _, v := range r.Verbs {
							if !slices.Contains(used[key], v) {
								t.Errorf("the Role grants %s on %s, which the controller does not use", v, key)
							}
						}
					}
				}
			}
			slices.Sort(granted)
			want := slices.Clone(tt.wantGroups)
			slices.Sort(want)
			if !slices.Equal(granted, want) {
				t.Errorf("the Role grants %v, want %v", granted, want)
			}
			rb := one[rbacv1.RoleBinding](t, objs, "RoleBinding")
			sa := dep.Spec.Template.Spec.ServiceAccountName
			if rb.RoleRef.Kind != "Role" || rb.RoleRef.Name != role.Name || len(rb.Subjects) != 1 ||
				rb.Subjects[0].Kind != "ServiceAccount" || rb.Subjects[0].Name != sa || rb.Subjects[0].Namespace != ns {
				t.Errorf("RoleBinding %+v does not bind Role %s to service account %s/%s", rb, role.Name, ns, sa)
			}
		})
	}
}

// object is a rendered manifest document: its kind and place, and its
// YAML.
type object struct {
	Kind      string
	Name      string
	Namespace string
	raw       []byte
}

func splitManifest(t *testing.T, m string) []object {
	t.Helper()
	var objs []object
	for _, doc := range strings.Split(m, "\n---") {
		var h struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name      string `json:"name"`
				Namespace string `json:"namespace"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal([]byte(doc), &h); err != nil {
			t.Fatalf("manifest document does not parse: %v\n%s", err, doc)
		}
		if h.Kind != "" {
			objs = append(objs, object{h.Kind, h.Metadata.Name, h.Metadata.Namespace, []byte(doc)})
		}
	}
	return objs
}

// one decodes the only object of kind (the controller's, not the admin
// service's, when the chart has two).
func one[T any](t *testing.T, objs []object, kind string) *T {
	t.Helper()
	var found []object
	for _, o := range objs {
		if o.Kind == kind && !strings.Contains(o.Name, "admin") {
			found = append(found, o)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d %s objects in the manifest, want 1", len(found), kind)
	}
	v := new(T)
	if err := yaml.UnmarshalStrict(found[0].raw, v); err != nil {
		t.Fatal(fmt.Errorf("%s %s: %w", kind, found[0].Name, err))
	}
	return v
}
