// Package localtest starts a local cluster for a test and tears it down
// when the test ends, and injects faults into one (RestartProcess).
package localtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/benchctl/benchctl/provision"
	"github.com/benchctl/benchctl/provision/local"
)

// EnvRequire, when set, turns a missing local cluster build into a test
// failure instead of a skip. CI sets it.
const EnvRequire = "BENCHCTL_REQUIRE_CLUSTER"

// Cluster is a running local cluster.
type Cluster struct {
	Kubeconfig string
	RESTConfig *rest.Config
	Clientset  kubernetes.Interface
	Record     *provision.Cluster
}

// Start provisions a local cluster with the given number of fake nodes and
// registers its teardown (which also checks that no process survives).
func Start(t testing.TB, nodes int) *Cluster {
	t.Helper()
	cacheDir := local.DefaultCacheDir()
	if _, err := local.FindBinaries(cacheDir); err != nil {
		if errors.Is(err, local.ErrNotBuilt) && os.Getenv(EnvRequire) == "" {
			t.Skipf("no local cluster: %v (set %s=1 to fail instead)", err, EnvRequire)
		}
		t.Fatal(err)
	}
	store := provision.NewStore(t.TempDir())
	prov := local.New(store, cacheDir, testWriter{t})
	reg := provision.Registry{provision.ProviderLocal: prov}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := provision.Create(ctx, store, reg, provision.Spec{Name: "test", Provider: provision.ProviderLocal, Nodes: nodes})
	if err != nil {
		t.Fatalf("provision local cluster: %v", err)
	}
	t.Cleanup(func() {
		procs := c.Processes
		if _, err := provision.Delete(context.Background(), store, reg, c.Name); err != nil {
			t.Errorf("teardown: %v", err)
		}
		for name, up := range local.RunningProcesses(&provision.Cluster{Processes: procs}) {
			if up {
				t.Errorf("%s survived teardown", name)
			}
		}
	})
	cfg, err := c.RESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 500, 1000
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &Cluster{Kubeconfig: c.Kubeconfig, RESTConfig: cfg, Clientset: cs, Record: c}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// RestartProcess stops the local cluster's recorded host process name
// (SIGTERM, as a supervisor restarting it would), leaves it down for
// down, then starts it again with the same command line and log, and
// records the new process in the cluster's record so that teardown stops
// it. It is the fault the reliability tests inject: an API server (or
// etcd, or KWOK) restart.
func RestartProcess(ctx context.Context, store *provision.Store, cluster, name string, down time.Duration) (*provision.Process, error) {
	old, err := recordedProcess(store, cluster, name)
	if err != nil {
		return nil, err
	}
	if err := local.StopProcess(ctx, old, 10*time.Second); err != nil {
		return nil, fmt.Errorf("stop %s: %w", name, err)
	}
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(down):
	}
	r, err := local.StartProcess(name, old.Args[0], old.Args[1:], old.Log)
	if err != nil {
		return nil, err
	}
	// Under the record's lock: a run may have changed the record while
	// the process was down.
	_, err = store.Update(cluster, func(c *provision.Cluster) error {
		for i := range c.Processes {
			if c.Processes[i].Name == name {
				c.Processes[i] = r.Proc
				return nil
			}
		}
		c.Processes = append(c.Processes, r.Proc)
		return nil
	})
	return &r.Proc, err
}

// PauseProcess freezes the local cluster's recorded host process name
// with SIGSTOP for pause, then resumes it with SIGCONT: a process that is
// alive but answers nothing, as a disk that stalls fsync leaves etcd. It
// resumes the process even when ctx ends first, so a cancelled test never
// leaves a cluster frozen.
func PauseProcess(ctx context.Context, store *provision.Store, cluster, name string, pause time.Duration) error {
	p, err := recordedProcess(store, cluster, name)
	if err != nil {
		return err
	}
	pid := p.PID
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		return fmt.Errorf("pause %s (pid %d): %w", name, pid, err)
	}
	t := time.NewTimer(pause)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		return fmt.Errorf("resume %s (pid %d): %w", name, pid, err)
	}
	return ctx.Err()
}

// recordedProcess is the host process name as the cluster's record has it.
func recordedProcess(store *provision.Store, cluster, name string) (provision.Process, error) {
	c, err := store.Load(cluster)
	if err != nil {
		return provision.Process{}, err
	}
	i := slices.IndexFunc(c.Processes, func(p provision.Process) bool { return p.Name == name })
	if i < 0 {
		return provision.Process{}, fmt.Errorf("cluster %s has no process %s", cluster, name)
	}
	return c.Processes[i], nil
}
