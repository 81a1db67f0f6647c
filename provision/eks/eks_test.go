package eks

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/benchctl/benchctl/provision"
	"github.com/benchctl/benchctl/provision/existing"
	"github.com/benchctl/benchctl/provision/internal/provider/providertest"
)

func TestConfigGolden(t *testing.T) {
	tests := []struct {
		name string
		spec provision.Spec
		want string
	}{
		{
			name: "all flags",
			spec: provision.Spec{Name: "bench", Nodes: 3, KubernetesVersion: "v1.33", Region: "eu-west-1", Zone: "eu-west-1b", NodeType: "c6i.xlarge"},
			want: `apiVersion: eksctl.io/v1alpha5
kind: ClusterConfig
managedNodeGroups:
- availabilityZones:
  - eu-west-1b
  desiredCapacity: 3
  instanceType: c6i.xlarge
  labels:
    benchctl.dev/cluster: bench
  maxSize: 3
  minSize: 3
  name: benchctl-workers
  tags:
    benchctl.dev/cluster: bench
    created-by: benchctl
metadata:
  name: bench
  region: eu-west-1
  tags:
    benchctl.dev/cluster: bench
    created-by: benchctl
  version: "1.33"
`,
		},
		{
			name: "defaults: EKS picks the version, m5.large, any zone",
			spec: provision.Spec{Name: "b", Nodes: 1, Region: "us-west-2"},
			want: `apiVersion: eksctl.io/v1alpha5
kind: ClusterConfig
managedNodeGroups:
- desiredCapacity: 1
  instanceType: m5.large
  labels:
    benchctl.dev/cluster: b
  maxSize: 1
  minSize: 1
  name: benchctl-workers
  tags:
    benchctl.dev/cluster: b
    created-by: benchctl
metadata:
  name: b
  region: us-west-2
  tags:
    benchctl.dev/cluster: b
    created-by: benchctl
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan, err := MakePlan(tt.spec, "/state/clusters/"+tt.spec.Name)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(plan.ConfigYAML); got != tt.want {
				t.Errorf("config:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name    string
		spec    provision.Spec
		wantErr string
	}{
		{"no region", provision.Spec{Name: "a", Nodes: 1}, "--provider eks needs --region"},
		{"zone only", provision.Spec{Name: "a", Nodes: 1, Zone: "us-west-2a"}, "--provider eks needs --region"},
		{"bad region", provision.Spec{Name: "a", Nodes: 1, Region: "us-central1"}, `--region "us-central1" does not look like an AWS region`},
		{"zone elsewhere", provision.Spec{Name: "a", Nodes: 1, Region: "us-west-2", Zone: "eu-west-1a"}, `--zone "eu-west-1a" is not in --region us-west-2`},
		{"no nodes", provision.Spec{Name: "a", Region: "us-west-2"}, "at least 1 worker"},
		{"patch version", provision.Spec{Name: "a", Nodes: 1, Region: "us-west-2", KubernetesVersion: "1.33.2"}, "EKS runs minor versions such as 1.33"},
		{"ok gov region", provision.Spec{Name: "a", Nodes: 1, Region: "us-gov-west-1"}, ""},
		{"ok sovereign region", provision.Spec{Name: "a", Nodes: 1, Region: "eusc-de-east-1"}, ""},
		{"GCP-style zone as region", provision.Spec{Name: "a", Nodes: 1, Region: "us-central1-a"}, `does not look like an AWS region`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Config(tt.spec)
			providertest.CheckErr(t, err, tt.wantErr)
		})
	}
}

// fakeRunner records commands and plays eksctl: on create it writes the
// kubeconfig where --kubeconfig says, as eksctl does.
type fakeRunner struct {
	providertest.Path
	runs      []Command
	createErr error
	deleteErr error
}

func (f *fakeRunner) Run(_ context.Context, c Command, _ io.Writer) error {
	f.runs = append(f.runs, c)
	switch strings.Join(c.Args[:2], " ") {
	case "create cluster":
		if f.createErr != nil {
			return f.createErr
		}
		for _, a := range c.Args {
			if kc, ok := strings.CutPrefix(a, "--kubeconfig="); ok {
				return os.WriteFile(kc, []byte("apiVersion: v1\nkind: Config\n"), 0o644)
			}
		}
		return errors.New("no --kubeconfig")
	case "delete cluster":
		return f.deleteErr
	}
	return errors.New("unexpected command " + c.String())
}

func allTools() map[string]bool { return map[string]bool{"eksctl": true, "aws": true} }

func TestDryRunOutput(t *testing.T) {
	spec := provision.Spec{Name: "bench", Nodes: 2, Region: "us-west-2", NodeType: "m5.xlarge", KubernetesVersion: "1.33", DryRun: true}
	tests := []struct {
		name   string
		runner *fakeRunner
		note   string
	}{
		{"tools present", &fakeRunner{Path: allTools()}, ""},
		{"eksctl missing", &fakeRunner{Path: map[string]bool{"aws": true}}, "# note: a real run would stop here: eksctl (creates and deletes EKS clusters) is not on PATH: install it from https://eksctl.io/installation/ (a single binary from https://github.com/eksctl-io/eksctl/releases)\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			p := &Provider{Runner: tt.runner}
			if err := p.DryRun(context.Background(), spec, "/state/clusters/bench", &b); err != nil {
				t.Fatal(err)
			}
			want := `# eks dry run for cluster "bench": nothing is run and nothing is written.
` + tt.note + `# 1. write /state/clusters/bench/eksctl.yaml (mode 0600):
apiVersion: eksctl.io/v1alpha5
kind: ClusterConfig
managedNodeGroups:
- desiredCapacity: 2
  instanceType: m5.xlarge
  labels:
    benchctl.dev/cluster: bench
  maxSize: 2
  minSize: 2
  name: benchctl-workers
  tags:
    benchctl.dev/cluster: bench
    created-by: benchctl
metadata:
  name: bench
  region: us-west-2
  tags:
    benchctl.dev/cluster: bench
    created-by: benchctl
  version: "1.33"
# 2. create the cluster; its kubeconfig goes only to the state directory:
KUBECONFIG=/state/clusters/bench/kubeconfig eksctl create cluster --config-file=/state/clusters/bench/eksctl.yaml --kubeconfig=/state/clusters/bench/kubeconfig
# 3. read the server version and nodes through /state/clusters/bench/kubeconfig (mode 0600)
# teardown would run:
KUBECONFIG=/state/clusters/bench/kubeconfig eksctl delete cluster --name=bench --region=us-west-2 --wait
`
			if b.String() != want {
				t.Errorf("dry run output:\n%s\nwant:\n%s", b.String(), want)
			}
			if len(tt.runner.runs) != 0 {
				t.Errorf("dry run ran %v", tt.runner.runs)
			}
		})
	}
}

func TestCommandStringQuotes(t *testing.T) {
	c := Command{Name: "eksctl", Args: []string{"create", "cluster", "--config-file=/my state/eksctl.yaml"}, Env: []string{"KUBECONFIG=/my state/kubeconfig"}}
	want := `KUBECONFIG='/my state/kubeconfig' eksctl create cluster '--config-file=/my state/eksctl.yaml'`
	if c.String() != want {
		t.Errorf("got  %s\nwant %s", c, want)
	}
}

func TestCreate(t *testing.T) {
	spec := provision.Spec{Name: "bench", Nodes: 2, Region: "us-west-2", Zone: "us-west-2a"}
	tests := []struct {
		name       string
		runner     *fakeRunner
		spec       provision.Spec
		probeErr   error
		wantErr    []string
		wantIs     error
		wantRuns   []string // first two args of each command run
		wantRecord bool
	}{
		{
			name:    "eksctl and aws missing",
			runner:  &fakeRunner{},
			spec:    spec,
			wantIs:  ErrCLIMissing,
			wantErr: []string{"eksctl (creates and deletes EKS clusters) is not on PATH: install it from https://eksctl.io/installation/", "aws or aws-iam-authenticator"},
		},
		{
			name:    "bad flags are reported before missing tools",
			runner:  &fakeRunner{},
			spec:    provision.Spec{Name: "bench", Nodes: 2},
			wantErr: []string{"needs --region"},
		},
		{
			name:     "create fails: no automatic delete, but the command to run",
			runner:   &fakeRunner{Path: allTools(), createErr: errors.New("exit status 1")},
			spec:     spec,
			wantErr:  []string{"eksctl create cluster bench in us-west-2 failed: exit status 1", "remove them with: eksctl delete cluster --name=bench --region=us-west-2 --wait"},
			wantRuns: []string{"create cluster"},
		},
		{
			name:     "created but unreachable: deleted again",
			runner:   &fakeRunner{Path: allTools()},
			spec:     spec,
			probeErr: errors.New("exec plugin: aws: no credentials"),
			wantErr:  []string{"EKS cluster bench was created but does not answer: exec plugin: aws: no credentials"},
			wantRuns: []string{"create cluster", "delete cluster"},
		},
		{
			name:     "created, unreachable, and the delete fails too",
			runner:   &fakeRunner{Path: allTools(), deleteErr: errors.New("exit status 1")},
			spec:     spec,
			probeErr: errors.New("timeout"),
			wantErr:  []string{"was created but does not answer: timeout", "removing it also failed: exit status 1; remove it by hand with: eksctl delete cluster --name=bench --region=us-west-2 --wait"},
			wantRuns: []string{"create cluster", "delete cluster"},
		},
		{
			name:       "success",
			runner:     &fakeRunner{Path: allTools()},
			spec:       spec,
			wantRuns:   []string{"create cluster"},
			wantRecord: true,
		},
		{
			name:    "dry run creates nothing",
			runner:  &fakeRunner{Path: allTools()},
			spec:    provision.Spec{Name: "bench", Nodes: 2, Region: "us-west-2", DryRun: true},
			wantIs:  ErrDryRun,
			wantErr: []string{"dry run"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			p := &Provider{Runner: tt.runner, Log: io.Discard, Out: io.Discard,
				probe: func(_ context.Context, kc, _ string) (existing.ClusterInfo, error) {
					if kc != filepath.Join(dir, KubeconfigFile) {
						t.Errorf("probed %s", kc)
					}
					if tt.probeErr != nil {
						return existing.ClusterInfo{}, tt.probeErr
					}
					return existing.ClusterInfo{Version: "v1.33.5-eks-3025e55", NodesKnown: true, Nodes: 2, ReadyNodes: 2, InstanceTypes: []string{"m5.large"}}, nil
				}}
			c := &provision.Cluster{Name: "bench", CreatedBy: provision.CreatedByBenchctl, Nodes: 2, Dir: dir}
			err := p.Create(context.Background(), tt.spec, c)
			var runs []string
			for _, r := range tt.runner.runs {
				runs = append(runs, strings.Join(r.Args[:2], " "))
			}
			if !reflect.DeepEqual(runs, tt.wantRuns) {
				t.Errorf("ran %v, want %v", runs, tt.wantRuns)
			}
			for _, r := range tt.runner.runs {
				if !reflect.DeepEqual(r.Env, []string{"KUBECONFIG=" + filepath.Join(dir, KubeconfigFile)}) {
					t.Errorf("%s ran with env %v; KUBECONFIG must point at the state dir", r, r.Env)
				}
			}
			if !tt.wantRecord {
				providertest.RequireErr(t, err, tt.wantIs, tt.wantErr...)
				if tt.wantIs != nil {
					if entries, _ := os.ReadDir(dir); len(entries) != 0 {
						t.Errorf("state dir has %v; nothing should be written", entries)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{KubeconfigFile, ConfigFile} {
				providertest.RequireMode0600(t, filepath.Join(dir, f))
			}
			wantFP := provision.Fingerprint{Provider: "eks", KubernetesVersion: "v1.33.5-eks-3025e55", Nodes: 2, Options: map[string]string{
				"region": "us-west-2", "zone": "us-west-2a", "nodeType": "m5.large", "requestedNodes": "2", "readyNodes": "2", "observedInstanceTypes": "m5.large",
			}}
			if !reflect.DeepEqual(c.Fingerprint, wantFP) {
				t.Errorf("fingerprint %+v\nwant %+v", c.Fingerprint, wantFP)
			}
			if c.Kubeconfig != filepath.Join(dir, KubeconfigFile) {
				t.Errorf("kubeconfig %q", c.Kubeconfig)
			}
		})
	}
}

func TestDelete(t *testing.T) {
	dir := t.TempDir()
	kc := filepath.Join(dir, KubeconfigFile)
	extra := map[string]string{ExtraClusterName: "bench", ExtraRegion: "us-west-2"}
	tests := []struct {
		name    string
		c       provision.Cluster
		runner  *fakeRunner
		wantRun string
		wantErr string
	}{
		{"not ours", provision.Cluster{Name: "bench", CreatedBy: provision.CreatedByUser, Dir: dir, Extra: extra}, &fakeRunner{Path: allTools()}, "", "refusing to delete"},
		{"ours", provision.Cluster{Name: "bench", CreatedBy: provision.CreatedByBenchctl, Dir: dir, Kubeconfig: kc, Extra: extra}, &fakeRunner{Path: allTools()},
			"KUBECONFIG=" + kc + " eksctl delete cluster --name=bench --region=us-west-2 --wait", ""},
		{"create died before eksctl ran", provision.Cluster{Name: "bench", CreatedBy: provision.CreatedByBenchctl, Dir: dir}, &fakeRunner{Path: allTools()}, "", ""},
		{"eksctl missing", provision.Cluster{Name: "bench", CreatedBy: provision.CreatedByBenchctl, Dir: dir, Extra: extra}, &fakeRunner{}, "", "eksctl (creates and deletes EKS clusters) is not on PATH"},
		{"eksctl fails", provision.Cluster{Name: "bench", CreatedBy: provision.CreatedByBenchctl, Dir: dir, Extra: extra}, &fakeRunner{Path: allTools(), deleteErr: errors.New("exit status 1")},
			"KUBECONFIG=" + kc + " eksctl delete cluster --name=bench --region=us-west-2 --wait", "eksctl delete cluster bench in us-west-2: exit status 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := (&Provider{Runner: tt.runner, Log: io.Discard}).Delete(context.Background(), &tt.c)
			var ran string
			if len(tt.runner.runs) > 0 {
				ran = tt.runner.runs[0].String()
			}
			if ran != tt.wantRun {
				t.Errorf("ran %q, want %q", ran, tt.wantRun)
			}
			providertest.CheckErr(t, err, tt.wantErr)
		})
	}
}
