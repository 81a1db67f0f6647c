package local

import (
	"bufio"
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

//go:embed toolchain/versions.env
var versionsEnv []byte

// Versions are the pinned versions of the local cluster's binaries, read
// from toolchain/versions.env, the file the build script also reads.
type Versions struct {
	Kubernetes string
	Etcd       string
	KWOK       string
}

// PinnedVersions parses the embedded versions.env.
func PinnedVersions() Versions {
	v := Versions{}
	sc := bufio.NewScanner(bytes.NewReader(versionsEnv))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		k, val, ok := strings.Cut(line, "=")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		switch k {
		case "KUBERNETES_VERSION":
			v.Kubernetes = val
		case "ETCD_VERSION":
			v.Etcd = val
		case "KWOK_VERSION":
			v.KWOK = val
		}
	}
	return v
}

// DefaultCacheDir is where `make setup` puts the binaries:
// $BENCHCTL_CACHE_DIR, else $XDG_CACHE_HOME/benchctl, else ~/.cache/benchctl.
func DefaultCacheDir() string {
	if d := os.Getenv("BENCHCTL_CACHE_DIR"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "benchctl")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "benchctl-cache")
	}
	return filepath.Join(home, ".cache", "benchctl")
}

// Binaries are the paths of the local cluster's executables.
type Binaries struct {
	Etcd, APIServer, Scheduler, ControllerManager, Kubectl, KWOK string
	Versions                                                     Versions
}

// ErrNotBuilt means the local cluster's binaries are missing.
var ErrNotBuilt = errors.New("local cluster binaries are not built")

// FindBinaries locates the pinned binaries under cacheDir and fails with
// the command that builds them when any is missing.
func FindBinaries(cacheDir string) (Binaries, error) {
	v := PinnedVersions()
	bin := filepath.Join(cacheDir, "bin")
	k8s := filepath.Join(bin, "kubernetes-"+v.Kubernetes)
	b := Binaries{
		Etcd:              filepath.Join(bin, "etcd-"+v.Etcd, "etcd"),
		APIServer:         filepath.Join(k8s, "kube-apiserver"),
		Scheduler:         filepath.Join(k8s, "kube-scheduler"),
		ControllerManager: filepath.Join(k8s, "kube-controller-manager"),
		Kubectl:           filepath.Join(k8s, "kubectl"),
		KWOK:              filepath.Join(bin, "kwok-"+v.KWOK, "kwok"),
		Versions:          v,
	}
	var missing []string
	for _, p := range []string{b.Etcd, b.APIServer, b.Scheduler, b.ControllerManager, b.KWOK} {
		st, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) || (err == nil && st.Mode()&0o111 == 0) {
			missing = append(missing, p)
		} else if err != nil {
			return b, fmt.Errorf("check %s: %w", p, err)
		}
	}
	if len(missing) > 0 {
		return b, fmt.Errorf("%w: missing %s; run `make setup` in the benchctl source tree (builds etcd %s, Kubernetes %s and KWOK %s from the Go module proxy into %s; about 10 minutes cold, seconds warm)",
			ErrNotBuilt, strings.Join(missing, ", "), v.Etcd, v.Kubernetes, v.KWOK, bin)
	}
	return b, nil
}
