package existing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/benchctl/benchctl/provision"
	"github.com/benchctl/benchctl/provision/internal/provider/providertest"
)

// fakeAPI is a minimal kube-apiserver: /version and /api/v1/nodes. It
// counts non-GET requests so tests can assert benchctl only reads.
type fakeAPI struct {
	version      string
	nodes        []corev1.Node
	forbidNodes  bool
	failVersion  bool
	writes       atomic.Int32
	nodeRequests atomic.Int32
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		f.writes.Add(1)
		http.Error(w, "read-only fake", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/version":
		if f.failVersion {
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		_ = json.NewEncoder(w).Encode(version.Info{GitVersion: f.version, Major: "1", Minor: "36"})
	case "/api/v1/nodes":
		f.nodeRequests.Add(1)
		if f.forbidNodes {
			w.WriteHeader(http.StatusForbidden)
			_ = json.NewEncoder(w).Encode(metav1.Status{
				TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
				Status:   metav1.StatusFailure, Reason: metav1.StatusReasonForbidden, Code: http.StatusForbidden,
				Message: `nodes is forbidden: User "bob" cannot list resource "nodes"`,
			})
			return
		}
		_ = json.NewEncoder(w).Encode(corev1.NodeList{
			TypeMeta: metav1.TypeMeta{Kind: "NodeList", APIVersion: "v1"},
			Items:    f.nodes,
		})
	default:
		http.NotFound(w, r)
	}
}

func node(name string, ready bool, instanceType string) corev1.Node {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	n := corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{}},
		Status:     corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: st}}},
	}
	if instanceType != "" {
		n.Labels[instanceTypeLabel] = instanceType
	}
	return n
}

// writeKubeconfig writes a kubeconfig with one context per server and
// current-context set to current.
func writeKubeconfig(t *testing.T, current string, servers map[string]string) string {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	for name, server := range servers {
		cfg.Clusters[name] = &clientcmdapi.Cluster{Server: server}
		cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: "t-" + name}
		cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	}
	cfg.CurrentContext = current
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// deadServer returns a loopback URL nothing listens on.
func deadServer(t *testing.T) string {
	t.Helper()
	s := httptest.NewServer(http.NotFoundHandler())
	url := s.URL
	s.Close()
	return url
}

func TestProbe(t *testing.T) {
	tests := []struct {
		name    string
		api     *fakeAPI
		want    ClusterInfo // Server is filled in by the test
		wantErr string
	}{
		{
			name: "nodes counted, ready and instance types observed",
			api: &fakeAPI{version: "v1.36.3", nodes: []corev1.Node{
				node("a", true, "m5.large"), node("b", true, "m5.large"), node("c", false, "m5.xlarge"),
			}},
			want: ClusterInfo{Version: "v1.36.3", NodesKnown: true, Nodes: 3, ReadyNodes: 2, InstanceTypes: []string{"m5.large", "m5.xlarge"}},
		},
		{
			name: "no nodes is a known zero",
			api:  &fakeAPI{version: "v1.33.1"},
			want: ClusterInfo{Version: "v1.33.1", NodesKnown: true},
		},
		{
			name: "forbidden node list leaves the count unknown",
			api:  &fakeAPI{version: "v1.36.3", forbidNodes: true, nodes: []corev1.Node{node("a", true, "")}},
			want: ClusterInfo{Version: "v1.36.3", NodesKnown: false},
		},
		{
			name:    "server error on version",
			api:     &fakeAPI{failVersion: true},
			wantErr: "cannot reach the Kubernetes API server",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.api)
			defer srv.Close()
			kc := writeKubeconfig(t, "live", map[string]string{"live": srv.URL})
			got, err := Probe(context.Background(), kc, "live")
			providertest.CheckErr(t, err, tt.wantErr)
			if tt.wantErr != "" {
				return
			}
			tt.want.Server = srv.URL
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Probe = %+v, want %+v", got, tt.want)
			}
			if n := tt.api.writes.Load(); n != 0 {
				t.Errorf("probe sent %d write requests; it must only read", n)
			}
		})
	}
}

func TestCreateUsesTheNamedContextOnly(t *testing.T) {
	api := &fakeAPI{version: "v1.36.3", nodes: []corev1.Node{node("a", true, ""), node("b", true, "")}}
	srv := httptest.NewServer(api)
	defer srv.Close()
	// current-context points at a dead server: only honouring --context
	// reaches the live one.
	kc := writeKubeconfig(t, "other", map[string]string{"live": srv.URL, "other": deadServer(t)})

	p := &Provider{ProbeTimeout: 5 * time.Second}
	c := &provision.Cluster{Name: "mine", CreatedBy: provision.CreatedByBenchctl, Nodes: 7}
	if err := p.Create(context.Background(), provision.Spec{Name: "mine", Provider: provision.ProviderExisting, Kubeconfig: kc, Context: "live", Nodes: 7}, c); err != nil {
		t.Fatal(err)
	}
	want := provision.Cluster{
		Name: "mine", CreatedBy: provision.CreatedByUser, Kubeconfig: kc, Context: "live", Nodes: 2,
		Fingerprint: provision.Fingerprint{Provider: "existing", KubernetesVersion: "v1.36.3", Nodes: 2, Options: map[string]string{"readyNodes": "2"}},
	}
	if !reflect.DeepEqual(*c, want) {
		t.Errorf("cluster = %+v\nwant      %+v", *c, want)
	}
	if api.writes.Load() != 0 {
		t.Error("create wrote to the user's cluster")
	}

	got, err := p.Kubeconfig(context.Background(), c)
	if err != nil || got != kc {
		t.Errorf("Kubeconfig = %q, %v; want the user's own path %q", got, err, kc)
	}
	fp, err := p.Fingerprint(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if fp.KubernetesVersion != "v1.36.3" || fp.Nodes != 2 || fp.Provider != "existing" {
		t.Errorf("Fingerprint = %+v", fp)
	}
	if api.nodeRequests.Load() != 2 {
		t.Errorf("node list requests = %d, want 2 (create and fingerprint each read live)", api.nodeRequests.Load())
	}
}

func TestCreateErrors(t *testing.T) {
	api := &fakeAPI{version: "v1.36.3"}
	srv := httptest.NewServer(api)
	defer srv.Close()
	kc := writeKubeconfig(t, "live", map[string]string{"live": srv.URL, "dead": deadServer(t)})
	tests := []struct {
		name    string
		spec    provision.Spec
		wantErr []string
	}{
		{"no flags", provision.Spec{}, []string{"--kubeconfig and --context", "missing: --kubeconfig and --context"}},
		{"no context", provision.Spec{Kubeconfig: kc}, []string{"missing: --context"}},
		{"no kubeconfig", provision.Spec{Context: "live"}, []string{"missing: --kubeconfig"}},
		{"file missing", provision.Spec{Kubeconfig: filepath.Join(t.TempDir(), "nope"), Context: "live"}, []string{"--kubeconfig", "no such file"}},
		{"directory", provision.Spec{Kubeconfig: t.TempDir(), Context: "live"}, []string{"is a directory"}},
		{"unknown context", provision.Spec{Kubeconfig: kc, Context: "prod"}, []string{`context "prod" not found`, "the file has: dead, live"}},
		{"unreachable", provision.Spec{Kubeconfig: kc, Context: "dead"}, []string{"cannot reach the Kubernetes API server", `context "dead"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &provision.Cluster{Name: "x"}
			err := (&Provider{ProbeTimeout: 5 * time.Second}).Create(context.Background(), tt.spec, c)
			providertest.RequireErr(t, err, nil, tt.wantErr...)
		})
	}
}

func TestDeleteRefuses(t *testing.T) {
	c := &provision.Cluster{Name: "prod", Provider: "existing", CreatedBy: provision.CreatedByUser, Kubeconfig: "/home/u/.kube/config", Context: "prod"}
	err := New().Delete(context.Background(), c)
	if !errors.Is(err, ErrNeverDeleted) {
		t.Fatalf("Delete = %v, want ErrNeverDeleted", err)
	}
	// Even a record that claims benchctl made it is refused by this
	// provider: an existing cluster is never benchctl's.
	c.CreatedBy = provision.CreatedByBenchctl
	if err := New().Delete(context.Background(), c); !errors.Is(err, ErrNeverDeleted) {
		t.Fatalf("Delete = %v, want ErrNeverDeleted", err)
	}
}

func TestFingerprintOptions(t *testing.T) {
	tests := []struct {
		name  string
		info  ClusterInfo
		extra map[string]string
		want  provision.Fingerprint
	}{
		{
			name:  "known nodes with extras",
			info:  ClusterInfo{Version: "v1.33.5-eks-1", NodesKnown: true, Nodes: 3, ReadyNodes: 3, InstanceTypes: []string{"m5.large"}},
			extra: map[string]string{"region": "eu-west-1", "zone": ""},
			want: provision.Fingerprint{Provider: "eks", KubernetesVersion: "v1.33.5-eks-1", Nodes: 3, Options: map[string]string{
				"region": "eu-west-1", "readyNodes": "3", "observedInstanceTypes": "m5.large",
			}},
		},
		{
			name: "unknown nodes",
			info: ClusterInfo{Version: "v1.36.3"},
			want: provision.Fingerprint{Provider: "existing", KubernetesVersion: "v1.36.3", Options: map[string]string{"nodes": "unknown (listing nodes is forbidden)"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.info.Fingerprint(tt.want.Provider, tt.extra)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestDryRunPrintsAndTouchesNothing(t *testing.T) {
	api := &fakeAPI{version: "v1.36.3"}
	srv := httptest.NewServer(api)
	defer srv.Close()
	kc := writeKubeconfig(t, "live", map[string]string{"live": srv.URL})
	var b strings.Builder
	if err := New().DryRun(context.Background(), provision.Spec{Kubeconfig: kc, Context: "live"}, "", &b); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("context %q of %s", "live", kc); !strings.Contains(b.String(), want) {
		t.Errorf("dry run output %q does not name %s", b.String(), want)
	}
	if api.nodeRequests.Load() != 0 {
		t.Error("dry run contacted the cluster")
	}
}
