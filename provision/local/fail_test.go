package local

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/benchctl/benchctl/provision"
)

// fakeCache builds a cache dir whose binaries are shell scripts, so a
// process that dies during startup can be simulated.
func fakeCache(t *testing.T, scripts map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	v := PinnedVersions()
	paths := map[string]string{
		"etcd":                    filepath.Join(dir, "bin", "etcd-"+v.Etcd, "etcd"),
		"kube-apiserver":          filepath.Join(dir, "bin", "kubernetes-"+v.Kubernetes, "kube-apiserver"),
		"kube-scheduler":          filepath.Join(dir, "bin", "kubernetes-"+v.Kubernetes, "kube-scheduler"),
		"kube-controller-manager": filepath.Join(dir, "bin", "kubernetes-"+v.Kubernetes, "kube-controller-manager"),
		"kwok":                    filepath.Join(dir, "bin", "kwok-"+v.KWOK, "kwok"),
	}
	for name, p := range paths {
		body, ok := scripts[name]
		if !ok {
			body = "exec sleep 60"
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestCreateFailures(t *testing.T) {
	tests := []struct {
		name    string
		scripts map[string]string // nil: no binaries at all
		spec    provision.Spec
		want    []string
	}{
		{
			name: "binaries missing",
			spec: provision.Spec{Nodes: 1},
			want: []string{"not built", "make setup"},
		},
		{
			name:    "etcd dies",
			scripts: map[string]string{"etcd": "echo 'listen tcp 127.0.0.1: bind: address already in use' >&2; exit 3"},
			spec:    provision.Spec{Nodes: 1},
			want:    []string{"etcd exited during startup", "exit status 3", "address already in use"},
		},
		{
			name:    "wrong kubernetes version",
			scripts: map[string]string{},
			spec:    provision.Spec{Nodes: 1, KubernetesVersion: "v1.20.0"},
			want:    []string{"--kubernetes-version v1.20.0 is not available locally"},
		},
		{
			name:    "no nodes",
			scripts: map[string]string{},
			spec:    provision.Spec{Nodes: 0},
			want:    []string{"--nodes must be at least 1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cache := t.TempDir()
			if tt.scripts != nil {
				cache = fakeCache(t, tt.scripts)
			}
			store := provision.NewStore(t.TempDir())
			reg := provision.Registry{provision.ProviderLocal: New(store, cache, nil)}
			tt.spec.Name, tt.spec.Provider = "x", provision.ProviderLocal
			_, err := provision.Create(context.Background(), store, reg, tt.spec)
			if err == nil {
				t.Fatal("Create succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			// The failed create leaves no record and no process behind.
			if list, _ := store.List(); len(list) != 0 {
				t.Errorf("state left behind: %+v", list[0])
			}
		})
	}
}

func TestControlPlaneDown(t *testing.T) {
	self, err := procStartTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	up := func(name string) provision.Process {
		return provision.Process{Name: name, PID: os.Getpid(), StartTime: self}
	}
	// A recorded PID whose start time differs is another process: dead.
	gone := func(name string) provision.Process {
		return provision.Process{Name: name, PID: os.Getpid(), StartTime: self + 1}
	}
	tests := []struct {
		name  string
		procs []provision.Process
		want  []string
	}{
		{"all up", []provision.Process{up("etcd"), up("kube-apiserver"), up("kube-scheduler"), up("kube-controller-manager"), up("kwok")}, nil},
		{"after a reboot", []provision.Process{gone("etcd"), gone("kube-apiserver"), gone("kube-scheduler"), gone("kube-controller-manager"), gone("kwok"), up("benchadmin-default")},
			[]string{"etcd", "kube-apiserver", "kube-scheduler", "kube-controller-manager", "kwok"}},
		{"a host controller down is not the control plane", []provision.Process{up("etcd"), up("kube-apiserver"), gone("benchflow-default")}, nil},
		{"apiserver down", []provision.Process{up("etcd"), gone("kube-apiserver"), up("kwok")}, []string{"kube-apiserver"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ControlPlaneDown(&provision.Cluster{Processes: tt.procs})
			if !slices.Equal(got, tt.want) {
				t.Errorf("ControlPlaneDown = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestStartProcessDropsInheritedDescriptors(t *testing.T) {
	// A descriptor opened without O_CLOEXEC, as a shell's flock leaves one.
	lock := filepath.Join(t.TempDir(), "lock")
	fd, err := syscall.Open(lock, syscall.O_CREAT|syscall.O_RDONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	logPath := filepath.Join(t.TempDir(), "log")
	r, err := StartProcess("ls-fd", "/bin/sh", []string{"-c", "ls -l /proc/self/fd/"}, logPath)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-r.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("sh did not exit")
	}
	out, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "->") {
		t.Fatalf("no descriptors listed: %s", out)
	}
	if strings.Contains(string(out), lock) {
		t.Errorf("the started process holds the inherited %s:\n%s", lock, out)
	}
}
