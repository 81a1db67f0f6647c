package provider

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/benchctl/benchctl/provision"
	"github.com/benchctl/benchctl/provision/internal/provider/providertest"
)

func TestUsage(t *testing.T) {
	if Usage(nil) != nil {
		t.Fatal("Usage(nil) is not nil")
	}
	cause := errors.New("--region is missing")
	err := fmt.Errorf("--provider eks: %w", Usage(cause))
	if !provision.IsUsageError(err) {
		t.Errorf("%v is not a usage error", err)
	}
	if !errors.Is(err, cause) || err.Error() != "--provider eks: --region is missing" {
		t.Errorf("err = %v; want it to wrap %v unchanged", err, cause)
	}
	if provision.IsUsageError(cause) {
		t.Error("an unmarked error counts as a usage error")
	}
}

func TestWriteFile0600(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile0600(path, []byte("new")); err != nil {
		t.Fatal(err)
	}
	// 0600 even over a 0644 file.
	providertest.RequireMode0600(t, path)
	if b, _ := os.ReadFile(path); string(b) != "new" {
		t.Errorf("content %q", b)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("dir has %v; the temporary file must be gone", entries)
	}
	err := WriteFile0600(filepath.Join(dir, "missing", "kubeconfig"), nil)
	if err == nil || !strings.Contains(err.Error(), "write "+filepath.Join(dir, "missing", "kubeconfig")) {
		t.Errorf("err = %v, want it to name the file", err)
	}
}

func TestOneLine(t *testing.T) {
	if got := OneLine("ERROR: a\n  b\tc\n"); got != "ERROR: a b c" {
		t.Errorf("got %q", got)
	}
	long := strings.Repeat("x", 500)
	if got := OneLine(long); got != long[:400]+"..." {
		t.Errorf("long message not capped at 400: %d chars", len(got))
	}
}

func TestCommandString(t *testing.T) {
	c := Command{Name: "gcloud", Args: []string{"container", "clusters", "describe", "--format=json(resourceLabels)"}, Env: []string{"KUBECONFIG=/my state/kubeconfig"}}
	if want := `KUBECONFIG='/my state/kubeconfig' gcloud container clusters describe '--format=json(resourceLabels)'`; c.String() != want {
		t.Errorf("String()\n got %s\nwant %s", c, want)
	}
	if want := `gcloud container clusters describe '--format=json(resourceLabels)'`; c.Manual() != want {
		t.Errorf("Manual()\n got %s\nwant %s", c.Manual(), want)
	}
}

type path map[string]bool

func (p path) LookPath(file string) (string, error) {
	if p[file] {
		return "/usr/bin/" + file, nil
	}
	return "", &exec.Error{Name: file, Err: exec.ErrNotFound}
}

var errMissing = errors.New("missing command-line tool")

func TestTools(t *testing.T) {
	tools := []Tool{
		{Names: []string{"eksctl"}, Purpose: "creates clusters", Install: "get eksctl"},
		{Names: []string{"aws", "aws-iam-authenticator"}, Purpose: "tokens", Install: "get the AWS CLI"},
	}
	tests := []struct {
		name    string
		path    path
		missing int
		wantErr string
	}{
		{"all there", path{"eksctl": true, "aws": true}, 0, ""},
		{"either name will do", path{"eksctl": true, "aws-iam-authenticator": true}, 0, ""},
		{"one missing", path{"aws": true}, 1, "missing command-line tool: eksctl (creates clusters) is not on PATH: get eksctl"},
		{"all missing, one message", path{}, 2, "missing command-line tool: eksctl (creates clusters) is not on PATH: get eksctl; aws or aws-iam-authenticator (tokens) is not on PATH: get the AWS CLI"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := len(MissingTools(tt.path, tools)); got != tt.missing {
				t.Errorf("%d missing, want %d", got, tt.missing)
			}
			err := RequireTools(tt.path, tools, errMissing)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || err.Error() != tt.wantErr || !errors.Is(err, errMissing) {
				t.Errorf("err = %v\nwant %s, wrapping the caller's sentinel", err, tt.wantErr)
			}
			var b strings.Builder
			WriteDryRunHeader(&b, "eks", "bench", tt.path, tools)
			want := "# eks dry run for cluster \"bench\": nothing is run and nothing is written.\n# note: a real run would stop here: " + strings.TrimPrefix(tt.wantErr, "missing command-line tool: ") + "\n"
			if b.String() != want {
				t.Errorf("dry-run header\n%s\nwant\n%s", b.String(), want)
			}
		})
	}
}

type runner struct {
	ran    []string
	ctxErr error
	left   time.Duration
	err    error
}

func (r *runner) Run(ctx context.Context, c Command, _ io.Writer) error {
	r.ran = append(r.ran, c.String())
	r.ctxErr = ctx.Err()
	if d, ok := ctx.Deadline(); ok {
		r.left = time.Until(d)
	}
	return r.err
}

func TestDeleteCreatedOutlivesACancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	del := Command{Name: "eksctl", Args: []string{"delete", "cluster", "--name=bench"}, Env: []string{"KUBECONFIG=/state/kubeconfig"}}

	r := &runner{}
	if err := DeleteCreated(ctx, r, io.Discard, 0, "EKS cluster", del); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r.ran, []string{del.String()}) || r.ctxErr != nil {
		t.Errorf("ran %v with context error %v; want the delete run with a live context", r.ran, r.ctxErr)
	}
	if r.left <= DefaultDeleteTimeout-time.Minute || r.left > DefaultDeleteTimeout {
		t.Errorf("deadline in %s, want DefaultDeleteTimeout (%s)", r.left, DefaultDeleteTimeout)
	}

	r = &runner{err: errors.New("exit status 1")}
	err := DeleteCreated(ctx, r, io.Discard, time.Minute, "EKS cluster", del)
	want := "removing it also failed: exit status 1; remove it by hand with: eksctl delete cluster --name=bench"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
	if r.left > time.Minute {
		t.Errorf("deadline in %s, want at most the 1m given", r.left)
	}
}

func TestCloudOptions(t *testing.T) {
	c := &provision.Cluster{Nodes: 3, Extra: map[string]string{ExtraRegion: "us-west-2", ExtraZone: "us-west-2a", ExtraNodeType: "m5.large", ExtraVersion: "1.33", "eksCluster": "bench"}}
	want := map[string]string{"region": "us-west-2", "zone": "us-west-2a", "nodeType": "m5.large", "requestedVersion": "1.33", "requestedNodes": "3"}
	if got := CloudOptions(c); !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

type info struct{ version string }

func (i info) Fingerprint(providerName string, options map[string]string) provision.Fingerprint {
	return provision.Fingerprint{Provider: providerName, KubernetesVersion: i.version, Options: options}
}

func TestClusters(t *testing.T) {
	dir := t.TempDir()
	kc := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kc, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	var probeErr error
	var probed []string
	cs := Clusters{
		Provider: "kind",
		Noun:     "kind cluster",
		Options:  func(c *provision.Cluster) map[string]string { return map[string]string{"name": c.Name} },
		Probe: func(_ context.Context, kubeconfig string) (Info, error) {
			probed = append(probed, kubeconfig)
			return info{"v1.33.1"}, probeErr
		},
	}
	ctx := context.Background()
	wantFP := provision.Fingerprint{Provider: "kind", KubernetesVersion: "v1.33.1", Options: map[string]string{"name": "dev"}}

	c := &provision.Cluster{Name: "dev", CreatedBy: provision.CreatedByBenchctl}
	if err := cs.Adopt(ctx, c, "benchctl-dev", kc); err != nil {
		t.Fatal(err)
	}
	if c.Kubeconfig != kc || !reflect.DeepEqual(c.Fingerprint, wantFP) {
		t.Errorf("adopted %+v", c)
	}
	if got, err := cs.Kubeconfig(c); err != nil || got != kc {
		t.Errorf("Kubeconfig = %q, %v", got, err)
	}
	if fp, err := cs.Fingerprint(ctx, c); err != nil || !reflect.DeepEqual(fp, wantFP) {
		t.Errorf("Fingerprint = %+v, %v", fp, err)
	}
	if err := cs.CheckOwned(c, "benchctl-dev"); err != nil {
		t.Errorf("CheckOwned of benchctl's cluster: %v", err)
	}
	if !reflect.DeepEqual(probed, []string{kc, kc}) {
		t.Errorf("probed %v", probed)
	}

	probeErr = errors.New("connection refused")
	fresh := &provision.Cluster{Name: "dev"}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"adopt an unreachable cluster", cs.Adopt(ctx, fresh, "benchctl-dev", kc), "kind cluster benchctl-dev was created but does not answer: connection refused"},
		{"fingerprint an unreachable cluster", func() error { _, err := cs.Fingerprint(ctx, c); return err }(), `fingerprint kind cluster "dev": connection refused`},
		{"no kubeconfig recorded", func() error { _, err := cs.Kubeconfig(fresh); return err }(), `kind cluster "dev" has no kubeconfig recorded; was its creation finished?`},
		{"kubeconfig gone", func() error {
			_, err := cs.Kubeconfig(&provision.Cluster{Name: "dev", Kubeconfig: filepath.Join(dir, "gone")})
			return err
		}(), `kind cluster "dev": kubeconfig: stat ` + filepath.Join(dir, "gone") + ": no such file or directory"},
		{"existing's wording", func() error { _, err := RecordedKubeconfig(fresh, "cluster", ""); return err }(), `cluster "dev" has no kubeconfig recorded`},
		{"the user's cluster", cs.CheckOwned(&provision.Cluster{Name: "dev", CreatedBy: provision.CreatedByUser}, "benchctl-dev"), `kind cluster "benchctl-dev" was not created by benchctl (created by "user"); refusing to delete it`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err == nil || tt.err.Error() != tt.want {
				t.Errorf("err = %v, want %s", tt.err, tt.want)
			}
		})
	}
	if fresh.Kubeconfig != "" || fresh.Fingerprint.Provider != "" {
		t.Errorf("a failed Adopt recorded %+v", fresh)
	}
}
