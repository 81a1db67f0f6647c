package gke

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/benchctl/benchctl/provision"
	"github.com/benchctl/benchctl/provision/existing"
	"github.com/benchctl/benchctl/provision/internal/provider/providertest"
)

const dir = "/state/clusters/bench"

func TestPlanGolden(t *testing.T) {
	tests := []struct {
		name       string
		spec       provision.Spec
		create     string
		creds      string
		del        string
		perZone    bool
		wantLocStr string
	}{
		{
			name:   "zonal with everything",
			spec:   provision.Spec{Name: "bench", Nodes: 3, Project: "my-proj-123", Zone: "us-central1-a", NodeType: "n2-standard-4", KubernetesVersion: "v1.33.5-gke.1080000"},
			create: "KUBECONFIG=/state/clusters/bench/kubeconfig gcloud container clusters create bench --project=my-proj-123 --zone=us-central1-a --num-nodes=3 --machine-type=n2-standard-4 --cluster-version=1.33.5-gke.1080000 --labels=created-by=benchctl,benchctl-cluster=bench --quiet",
			creds:  "KUBECONFIG=/state/clusters/bench/kubeconfig gcloud container clusters get-credentials bench --project=my-proj-123 --zone=us-central1-a --quiet",
			del:    "KUBECONFIG=/state/clusters/bench/kubeconfig gcloud container clusters delete bench --project=my-proj-123 --zone=us-central1-a --quiet",
		},
		{
			name:    "regional: nodes per zone, default machine type, no version",
			spec:    provision.Spec{Name: "bench", Nodes: 1, Project: "my-proj-123", Region: "europe-west4"},
			create:  "KUBECONFIG=/state/clusters/bench/kubeconfig gcloud container clusters create bench --project=my-proj-123 --region=europe-west4 --num-nodes=1 --machine-type=e2-standard-2 --labels=created-by=benchctl,benchctl-cluster=bench --quiet",
			creds:   "KUBECONFIG=/state/clusters/bench/kubeconfig gcloud container clusters get-credentials bench --project=my-proj-123 --region=europe-west4 --quiet",
			del:     "KUBECONFIG=/state/clusters/bench/kubeconfig gcloud container clusters delete bench --project=my-proj-123 --region=europe-west4 --quiet",
			perZone: true,
		},
		{
			name:   "regional control plane, nodes in one zone",
			spec:   provision.Spec{Name: "bench", Nodes: 2, Project: "my-proj-123", Region: "europe-west4", Zone: "europe-west4-b", KubernetesVersion: "1.33"},
			create: "KUBECONFIG=/state/clusters/bench/kubeconfig gcloud container clusters create bench --project=my-proj-123 --region=europe-west4 --node-locations=europe-west4-b --num-nodes=2 --machine-type=e2-standard-2 --cluster-version=1.33 --labels=created-by=benchctl,benchctl-cluster=bench --quiet",
			creds:  "KUBECONFIG=/state/clusters/bench/kubeconfig gcloud container clusters get-credentials bench --project=my-proj-123 --region=europe-west4 --quiet",
			del:    "KUBECONFIG=/state/clusters/bench/kubeconfig gcloud container clusters delete bench --project=my-proj-123 --region=europe-west4 --quiet",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan, err := MakePlan(tt.spec, dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct{ name, got, want string }{
				{"create", plan.Create.String(), tt.create},
				{"get-credentials", plan.GetCredentials.String(), tt.creds},
				{"delete", plan.Delete.String(), tt.del},
			} {
				if c.got != c.want {
					t.Errorf("%s:\n got %s\nwant %s", c.name, c.got, c.want)
				}
			}
			if plan.PerZoneNodes != tt.perZone {
				t.Errorf("PerZoneNodes = %v", plan.PerZoneNodes)
			}
		})
	}
}

func TestPlanValidation(t *testing.T) {
	ok := provision.Spec{Name: "bench", Nodes: 1, Project: "my-proj-123", Zone: "us-central1-a"}
	with := func(f func(*provision.Spec)) provision.Spec { s := ok; f(&s); return s }
	tests := []struct {
		name    string
		spec    provision.Spec
		wantErr string
	}{
		{"no project", with(func(s *provision.Spec) { s.Project = "" }), "--provider gke needs --project"},
		{"bad project", with(func(s *provision.Spec) { s.Project = "My_Project" }), `--project "My_Project" is not a Google Cloud project ID`},
		{"no location", with(func(s *provision.Spec) { s.Zone = "" }), "--provider gke needs --zone (a zonal cluster, e.g. us-central1-a) or --region"},
		{"AWS-style region", with(func(s *provision.Spec) { s.Zone = ""; s.Region = "us-west-2" }), `--region "us-west-2" does not look like a Google Cloud region`},
		{"bad zone", with(func(s *provision.Spec) { s.Zone = "us-central1" }), `--zone "us-central1" does not look like a Google Cloud zone`},
		{"zone outside region", with(func(s *provision.Spec) { s.Region = "europe-west4" }), "--zone us-central1-a is not in --region europe-west4"},
		{"no nodes", with(func(s *provision.Spec) { s.Nodes = 0 }), "at least 1 node"},
		{"bad version", with(func(s *provision.Spec) { s.KubernetesVersion = "1" }), `--kubernetes-version "1"`},
		{"name starting with a digit", with(func(s *provision.Spec) { s.Name = "1bench" }), "GKE cluster names start with a lower-case letter"},
		{"latest is fine", with(func(s *provision.Spec) { s.KubernetesVersion = "latest" }), ""},
		{"domain-scoped project is fine", with(func(s *provision.Spec) { s.Project = "example.com:my-proj" }), ""},
		{"project number is fine", with(func(s *provision.Spec) { s.Project = "123456789012" }), ""},
		{"project too short", with(func(s *provision.Spec) { s.Project = "abc" }), "is not a Google Cloud project ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := MakePlan(tt.spec, dir)
			providertest.CheckErr(t, err, tt.wantErr)
		})
	}
}

// fakeRunner records commands and plays gcloud: get-credentials writes the
// file KUBECONFIG names, describe answers with labels.
type fakeRunner struct {
	providertest.Path
	runs           []string // "verb" of each command: create, get-credentials, describe, delete
	last           map[string]Command
	createErr      error
	credsErr       error
	describeOut    string
	describeStderr string
	describeErr    error
}

func (f *fakeRunner) record(c Command) string {
	verb := c.Args[2]
	f.runs = append(f.runs, verb)
	if f.last == nil {
		f.last = map[string]Command{}
	}
	f.last[verb] = c
	return verb
}

func (f *fakeRunner) Run(_ context.Context, c Command, _ io.Writer) error {
	switch f.record(c) {
	case "create":
		return f.createErr
	case "get-credentials":
		if f.credsErr != nil {
			return f.credsErr
		}
		kc, _ := strings.CutPrefix(c.Env[0], "KUBECONFIG=")
		return os.WriteFile(kc, []byte("apiVersion: v1\nkind: Config\n"), 0o644)
	case "delete":
		return nil
	}
	return errors.New("unexpected " + c.String())
}

func (f *fakeRunner) Output(_ context.Context, c Command) ([]byte, []byte, error) {
	if f.record(c) != "describe" {
		return nil, nil, errors.New("unexpected " + c.String())
	}
	return []byte(f.describeOut), []byte(f.describeStderr), f.describeErr
}

func bothTools() map[string]bool {
	return map[string]bool{"gcloud": true, "gke-gcloud-auth-plugin": true}
}

func TestDryRunOutput(t *testing.T) {
	spec := provision.Spec{Name: "bench", Nodes: 3, Project: "my-proj-123", Zone: "us-central1-a", DryRun: true}
	r := &fakeRunner{Path: map[string]bool{"gcloud": true}}
	var b strings.Builder
	if err := (&Provider{Runner: r}).DryRun(context.Background(), spec, dir, &b); err != nil {
		t.Fatal(err)
	}
	want := `# gke dry run for cluster "bench": nothing is run and nothing is written.
# note: a real run would stop here: gke-gcloud-auth-plugin (the GKE kubeconfig runs it for a token) is not on PATH: run ` + "`gcloud components install gke-gcloud-auth-plugin`" + ` (or install the google-cloud-cli-gke-gcloud-auth-plugin package)
# 1. create the cluster (KUBECONFIG keeps gcloud away from ~/.kube/config):
KUBECONFIG=/state/clusters/bench/kubeconfig gcloud container clusters create bench --project=my-proj-123 --zone=us-central1-a --num-nodes=3 --machine-type=e2-standard-2 --labels=created-by=benchctl,benchctl-cluster=bench --quiet
# 2. write its credentials to /state/clusters/bench/kubeconfig (mode 0600):
KUBECONFIG=/state/clusters/bench/kubeconfig gcloud container clusters get-credentials bench --project=my-proj-123 --zone=us-central1-a --quiet
# 3. read the server version and nodes through /state/clusters/bench/kubeconfig
# teardown would check the created-by=benchctl label, then delete:
KUBECONFIG=/state/clusters/bench/kubeconfig gcloud container clusters describe bench --project=my-proj-123 --zone=us-central1-a '--format=json(resourceLabels)'
KUBECONFIG=/state/clusters/bench/kubeconfig gcloud container clusters delete bench --project=my-proj-123 --zone=us-central1-a --quiet
`
	if b.String() != want {
		t.Errorf("dry run:\n%s\nwant:\n%s", b.String(), want)
	}
	if len(r.runs) != 0 {
		t.Errorf("dry run ran %v", r.runs)
	}

	regional := provision.Spec{Name: "bench", Nodes: 1, Project: "my-proj-123", Region: "us-central1"}
	b.Reset()
	if err := (&Provider{Runner: &fakeRunner{Path: bothTools()}}).DryRun(context.Background(), regional, dir, &b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "# note: a regional cluster gets --num-nodes nodes in each of the region's zones") {
		t.Errorf("regional dry run does not warn about per-zone nodes:\n%s", b.String())
	}
}

func TestCreate(t *testing.T) {
	spec := provision.Spec{Name: "bench", Nodes: 2, Project: "my-proj-123", Zone: "us-central1-a", NodeType: "n2-standard-4"}
	tests := []struct {
		name     string
		runner   *fakeRunner
		spec     provision.Spec
		probeErr error
		wantIs   error
		wantErr  []string
		wantRuns []string
	}{
		{
			name:    "gcloud missing",
			runner:  &fakeRunner{},
			spec:    spec,
			wantIs:  ErrCLIMissing,
			wantErr: []string{"gcloud (creates and deletes GKE clusters) is not on PATH: install the Google Cloud CLI from https://cloud.google.com/sdk/docs/install"},
		},
		{
			name:    "auth plugin missing",
			runner:  &fakeRunner{Path: map[string]bool{"gcloud": true}},
			spec:    spec,
			wantIs:  ErrCLIMissing,
			wantErr: []string{"gke-gcloud-auth-plugin", "gcloud components install gke-gcloud-auth-plugin"},
		},
		{
			name:    "flags are checked first",
			runner:  &fakeRunner{},
			spec:    provision.Spec{Name: "bench", Nodes: 2, Zone: "us-central1-a"},
			wantErr: []string{"needs --project"},
		},
		{
			name:     "create fails: nothing deleted",
			runner:   &fakeRunner{Path: bothTools(), createErr: errors.New("exit status 1")},
			spec:     spec,
			wantErr:  []string{"gcloud container clusters create bench (zone us-central1-a, project my-proj-123) failed: exit status 1", "remove it with: gcloud container clusters delete bench --project=my-proj-123 --zone=us-central1-a --quiet"},
			wantRuns: []string{"create"},
		},
		{
			name:     "credentials fail: the new cluster is deleted",
			runner:   &fakeRunner{Path: bothTools(), credsErr: errors.New("exit status 1")},
			spec:     spec,
			wantErr:  []string{"get-credentials bench: exit status 1"},
			wantRuns: []string{"create", "get-credentials", "delete"},
		},
		{
			name:     "unreachable: the new cluster is deleted",
			runner:   &fakeRunner{Path: bothTools()},
			spec:     spec,
			probeErr: errors.New("gke-gcloud-auth-plugin: not logged in"),
			wantErr:  []string{"GKE cluster bench was created but does not answer"},
			wantRuns: []string{"create", "get-credentials", "delete"},
		},
		{
			name:     "dry run",
			runner:   &fakeRunner{Path: bothTools()},
			spec:     provision.Spec{Name: "bench", Nodes: 2, Project: "my-proj-123", Zone: "us-central1-a", DryRun: true},
			wantIs:   ErrDryRun,
			wantErr:  []string{"dry run"},
			wantRuns: nil,
		},
		{
			name:     "success",
			runner:   &fakeRunner{Path: bothTools()},
			spec:     spec,
			wantRuns: []string{"create", "get-credentials"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := t.TempDir()
			kc := filepath.Join(d, KubeconfigFile)
			p := &Provider{Runner: tt.runner, Log: io.Discard, Out: io.Discard,
				probe: func(_ context.Context, path, _ string) (existing.ClusterInfo, error) {
					if path != kc {
						t.Errorf("probed %s, want %s", path, kc)
					}
					if tt.probeErr != nil {
						return existing.ClusterInfo{}, tt.probeErr
					}
					return existing.ClusterInfo{Version: "v1.33.5-gke.1080000", NodesKnown: true, Nodes: 2, ReadyNodes: 2, InstanceTypes: []string{"n2-standard-4"}}, nil
				}}
			c := &provision.Cluster{Name: "bench", CreatedBy: provision.CreatedByBenchctl, Nodes: 2, Dir: d}
			err := p.Create(context.Background(), tt.spec, c)
			if !reflect.DeepEqual(tt.runner.runs, tt.wantRuns) {
				t.Errorf("ran %v, want %v", tt.runner.runs, tt.wantRuns)
			}
			for verb, cmd := range tt.runner.last {
				if !reflect.DeepEqual(cmd.Env, []string{"KUBECONFIG=" + kc}) {
					t.Errorf("%s ran with env %v; every gcloud call must set KUBECONFIG to the state dir", verb, cmd.Env)
				}
			}
			if tt.wantRuns == nil && tt.runner.runs != nil {
				t.Errorf("ran %v", tt.runner.runs)
			}
			if len(tt.wantErr) > 0 || tt.wantIs != nil {
				providertest.RequireErr(t, err, tt.wantIs, tt.wantErr...)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			providertest.RequireMode0600(t, kc)
			wantFP := provision.Fingerprint{Provider: "gke", KubernetesVersion: "v1.33.5-gke.1080000", Nodes: 2, Options: map[string]string{
				"zone": "us-central1-a", "nodeType": "n2-standard-4", "requestedNodes": "2", "readyNodes": "2", "observedInstanceTypes": "n2-standard-4",
			}}
			if !reflect.DeepEqual(c.Fingerprint, wantFP) {
				t.Errorf("fingerprint %+v\nwant %+v", c.Fingerprint, wantFP)
			}
			wantExtra := map[string]string{ExtraClusterName: "bench", ExtraProject: "my-proj-123", ExtraRegion: "", ExtraZone: "us-central1-a", ExtraNodeType: "n2-standard-4", ExtraVersion: ""}
			if !reflect.DeepEqual(c.Extra, wantExtra) {
				t.Errorf("extra %v, want %v", c.Extra, wantExtra)
			}
		})
	}
}

func TestDelete(t *testing.T) {
	d := t.TempDir()
	kc := filepath.Join(d, KubeconfigFile)
	extra := map[string]string{ExtraClusterName: "bench", ExtraProject: "my-proj-123", ExtraZone: "us-central1-a"}
	ours := provision.Cluster{Name: "bench", CreatedBy: provision.CreatedByBenchctl, Dir: d, Kubeconfig: kc, Extra: extra}
	tests := []struct {
		name     string
		c        provision.Cluster
		runner   *fakeRunner
		wantRuns []string
		wantIs   error
		wantErr  string
	}{
		{"labelled ours", ours, &fakeRunner{Path: bothTools(), describeOut: `{"resourceLabels": {"created-by": "benchctl", "benchctl-cluster": "bench"}}`},
			[]string{"describe", "delete"}, nil, ""},
		{"same name, not ours", ours, &fakeRunner{Path: bothTools(), describeOut: `{"resourceLabels": {"team": "data"}}`},
			[]string{"describe"}, ErrNotOurs, "refusing to delete GKE cluster bench (zone us-central1-a, project my-proj-123)"},
		{"no labels at all", ours, &fakeRunner{Path: bothTools(), describeOut: `{}`},
			[]string{"describe"}, ErrNotOurs, "refusing to delete"},
		{"already gone", ours, &fakeRunner{Path: bothTools(), describeErr: errors.New("exit status 1"),
			describeStderr: "ERROR: (gcloud.container.clusters.describe) ResponseError: code=404, message=Not found: projects/my-proj-123/zones/us-central1-a/clusters/bench."},
			[]string{"describe"}, nil, ""},
		{"describe fails otherwise", ours, &fakeRunner{Path: bothTools(), describeErr: errors.New("exit status 1"),
			describeStderr: "ERROR: (gcloud.container.clusters.describe) You do not currently have an active account selected."},
			[]string{"describe"}, nil, "You do not currently have an active account selected"},
		{"record says the user's", provision.Cluster{Name: "bench", CreatedBy: provision.CreatedByUser, Dir: d, Extra: extra}, &fakeRunner{Path: bothTools()},
			nil, nil, "refusing to delete"},
		{"create died before gcloud ran", provision.Cluster{Name: "bench", CreatedBy: provision.CreatedByBenchctl, Dir: d}, &fakeRunner{Path: bothTools()},
			nil, nil, ""},
		{"gcloud missing", ours, &fakeRunner{}, nil, ErrCLIMissing, "cannot delete GKE cluster bench"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := (&Provider{Runner: tt.runner, Log: io.Discard}).Delete(context.Background(), &tt.c)
			if !reflect.DeepEqual(tt.runner.runs, tt.wantRuns) {
				t.Errorf("ran %v, want %v", tt.runner.runs, tt.wantRuns)
			}
			if del, ok := tt.runner.last["delete"]; ok {
				want := "KUBECONFIG=" + kc + " gcloud container clusters delete bench --project=my-proj-123 --zone=us-central1-a --quiet"
				if del.String() != want {
					t.Errorf("delete ran\n %s\nwant\n %s", del, want)
				}
			}
			if tt.wantErr == "" && tt.wantIs == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			providertest.RequireErr(t, err, tt.wantIs, tt.wantErr)
		})
	}
}

// TestGcloudAcceptsTheArguments runs the real gcloud, when installed, on
// every generated command. gcloud parses arguments before it needs an
// account, so with an empty config directory each call must fail for
// want of credentials, never with "unrecognized arguments". The API
// endpoint is pointed at a closed loopback port as well, so even a machine
// with ambient Google credentials cannot create anything.
func TestGcloudAcceptsTheArguments(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the real gcloud (about 1 s per call)")
	}
	if _, err := exec.LookPath("gcloud"); err != nil {
		t.Skip("gcloud is not installed")
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("CLOUDSDK_CONFIG", t.TempDir())
	t.Setenv("CLOUDSDK_CORE_DISABLE_PROMPTS", "1")
	t.Setenv("CLOUDSDK_API_ENDPOINT_OVERRIDES_CONTAINER", "http://127.0.0.1:1/")
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "")
	t.Setenv("NO_GCE_CHECK", "True")
	t.Setenv("GCE_METADATA_HOST", "127.0.0.1:1")
	t.Setenv("GCE_METADATA_IP", "127.0.0.1:1")

	d := t.TempDir()
	plans := map[string]provision.Spec{
		"zonal":                 {Name: "bench", Nodes: 3, Project: "my-proj-123", Zone: "us-central1-a", NodeType: "n2-standard-4", KubernetesVersion: "1.33.5-gke.1080000"},
		"regional, pinned zone": {Name: "bench", Nodes: 2, Project: "my-proj-123", Region: "europe-west4", Zone: "europe-west4-b", KubernetesVersion: "latest"},
	}
	for name, spec := range plans {
		plan, err := MakePlan(spec, d)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []Command{plan.Create, plan.GetCredentials, plan.Describe, plan.Delete} {
			t.Run(name+"/"+c.Args[2], func(t *testing.T) {
				_, stderr, err := ExecRunner{}.Output(context.Background(), c)
				msg := string(stderr)
				if err == nil {
					t.Fatalf("%s succeeded without credentials", c)
				}
				if strings.Contains(msg, "unrecognized arguments") || strings.Contains(msg, "argument --") || strings.Contains(msg, "Invalid value") {
					t.Fatalf("gcloud rejected the arguments of\n %s\n%s", c, msg)
				}
				if want := "ERROR: (gcloud.container.clusters." + c.Args[2] + ")"; !strings.Contains(msg, want) {
					t.Errorf("stderr lacks %q:\n%s", want, msg)
				}
			})
		}
	}
	if _, err := os.Stat(filepath.Join(home, ".kube")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("~/.kube was touched: %v", err)
	}
}
