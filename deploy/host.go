package deploy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/benchctl/benchctl/provision"
	"github.com/benchctl/benchctl/provision/local"
)

// Chart values that the local provider sets. The local cluster has no
// kubelet, so the chart's Deployment runs no replicas and benchctl runs the
// controller on the host from the rendered ConfigMap instead.
const (
	valReplicas    = "replicaCount"
	valHTTPAddress = "config.http.address"
	valBlobURL     = "config.blobstore.url"
	valTaskOutputs = "config.taskOutputs"
	valTaskImage   = "config.taskPod.image"
	valImageRepo   = "image.repository"
	valImageTag    = "image.tag"
)

// hostController is a controller process run on the host for a local
// cluster.
type hostController struct {
	dir     string
	address string
}

// prepareHost picks the controller's loopback address and blobstore
// directory and forces the values that make the rendered config run on the
// host.
func prepareHost(c *provision.Cluster, name string, vals map[string]any) (*hostController, error) {
	if err := checkLoopback(vals, valHTTPAddress); err != nil {
		return nil, err
	}
	ports, err := local.FreePorts(1)
	if err != nil {
		return nil, err
	}
	h := &hostController{
		dir:     filepath.Join(c.Dir, "controllers", name),
		address: "127.0.0.1:" + strconv.Itoa(ports[0]),
	}
	if err := os.MkdirAll(h.dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", h.dir, err)
	}
	setValue(vals, valReplicas, 0)
	setValue(vals, valHTTPAddress, h.address)
	setValue(vals, valBlobURL, "file://"+filepath.Join(h.dir, "blobs")+"?create_dir=1&no_tmp_dir=1&metadata=skip")
	// No code runs in KWOK pods: the controller writes task outputs on
	// their behalf (see the controller's taskOutputs documentation).
	setValue(vals, valTaskOutputs, "simulate")
	return h, nil
}

// checkLoopback refuses a value that would bind a host process beyond
// loopback: on this host the controller's endpoints (metrics, spans,
// pprof) are for benchctl alone.
func checkLoopback(vals map[string]any, path string) error {
	v := vals
	parts := strings.Split(path, ".")
	for _, k := range parts[:len(parts)-1] {
		m, ok := v[k].(map[string]any)
		if !ok {
			return nil
		}
		v = m
	}
	addr, ok := v[parts[len(parts)-1]].(string)
	if !ok || addr == "" {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return &ConfigError{Err: fmt.Errorf("%s %q: %w", path, addr, err)}
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return &ConfigError{Err: fmt.Errorf("%s %q: a controller on this host binds loopback only (its metrics, spans and profiles are for benchctl); leave it unset", path, addr)}
	}
	return nil
}

// start writes the rendered config, gets a token for the chart's service
// account (so the controller runs with exactly the chart's RBAC), starts
// the process and waits for /readyz.
func (h *hostController) start(ctx context.Context, c *provision.Cluster, store *provision.Store, opts Options, build *ControllerBuild, manifest string, d *Deployment) error {
	cm, sa, err := manifestObjects(manifest)
	if err != nil {
		return err
	}
	if len(cm.Data) != 1 {
		return fmt.Errorf("chart ConfigMap %s has %d data keys, want exactly one (the controller config)", cm.Name, len(cm.Data))
	}
	cfgPath := filepath.Join(h.dir, "config.yaml")
	for _, v := range cm.Data {
		if err := provision.WriteFile0600(cfgPath, []byte(v)); err != nil {
			return fmt.Errorf("write controller config: %w", err)
		}
	}
	kubeconfig, err := saKubeconfig(ctx, c, opts.Namespace, sa, filepath.Join(h.dir, "kubeconfig"))
	if err != nil {
		return err
	}

	args := append(append([]string{}, build.Command[1:]...), "--config", cfgPath, "--kubeconfig", kubeconfig, "--namespace", opts.Namespace)
	d.Endpoint = "http://" + h.address
	proc, err := startHostProcess(ctx, c, store, hostProcessName(opts.Name), build.Command[0], args, d.Endpoint, opts.Timeout, "controller")
	d.Process = proc
	return err
}

// startHostProcess starts a named host process in place of an earlier one
// of that name, records it with the cluster (so teardown stops it too),
// and waits until endpoint/readyz answers. The process is returned, and
// recorded, even when it then fails to become ready.
func startHostProcess(ctx context.Context, c *provision.Cluster, store *provision.Store, name, bin string, args []string, endpoint string, timeout time.Duration, what string) (*provision.Process, error) {
	if err := stopRecorded(ctx, c, store, name); err != nil {
		return nil, err
	}
	logPath := filepath.Join(c.Dir, "logs", name+".log")
	if err := os.MkdirAll(filepath.Dir(logPath), 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", filepath.Dir(logPath), err)
	}
	_ = os.Remove(logPath)
	r, err := local.StartProcess(name, bin, args, logPath)
	if err != nil {
		return nil, err
	}
	fresh, err := store.Update(c.Name, func(fresh *provision.Cluster) error {
		fresh.Processes = append(fresh.Processes, r.Proc)
		return nil
	})
	if err != nil {
		return &r.Proc, err
	}
	*c = *fresh
	return &r.Proc, waitReady(ctx, endpoint, timeout, r, logPath, what)
}

// hostProcessName names a deployment's controller process in the cluster
// record.
func hostProcessName(name string) string { return "benchflow-" + name }

// stopRecorded stops a host process of this name recorded with the
// cluster (a previous deploy of the same release) and forgets it.
// The record is read afresh under its lock: another benchctl may have
// changed it since c was loaded, and writing c back would undo that.
func stopRecorded(ctx context.Context, c *provision.Cluster, store *provision.Store, name string) error {
	if !slices.ContainsFunc(c.Processes, func(p provision.Process) bool { return p.Name == name }) {
		return nil
	}
	var errs []error
	fresh, err := store.Update(c.Name, func(fresh *provision.Cluster) error {
		var keep []provision.Process
		for _, p := range fresh.Processes {
			if p.Name == name {
				errs = append(errs, local.StopProcess(ctx, p, 10*time.Second))
				continue
			}
			keep = append(keep, p)
		}
		fresh.Processes = keep
		return nil
	})
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	*c = *fresh
	return errors.Join(errs...)
}

// manifestObjects finds the controller's ConfigMap and ServiceAccount in a
// rendered release.
func manifestObjects(manifest string) (*corev1.ConfigMap, string, error) {
	var cm *corev1.ConfigMap
	sa := ""
	for _, doc := range strings.Split(manifest, "\n---") {
		var meta metav1.TypeMeta
		if err := utilyaml.Unmarshal([]byte(doc), &meta); err != nil || meta.Kind == "" {
			continue
		}
		switch meta.Kind {
		case "ConfigMap":
			cm = &corev1.ConfigMap{}
			if err := utilyaml.Unmarshal([]byte(doc), cm); err != nil {
				return nil, "", fmt.Errorf("decode chart ConfigMap: %w", err)
			}
		case "ServiceAccount":
			var obj corev1.ServiceAccount
			if err := utilyaml.Unmarshal([]byte(doc), &obj); err != nil {
				return nil, "", fmt.Errorf("decode chart ServiceAccount: %w", err)
			}
			sa = obj.Name
		}
	}
	if cm == nil {
		return nil, "", errors.New("the chart rendered no ConfigMap holding the controller config")
	}
	if sa == "" {
		return nil, "", errors.New("the chart rendered no ServiceAccount for the controller")
	}
	return cm, sa, nil
}

// saKubeconfig writes (mode 0600) a kubeconfig that authenticates as the
// chart's service account with a token from the TokenRequest API.
func saKubeconfig(ctx context.Context, c *provision.Cluster, ns, sa, path string) (string, error) {
	rc, err := c.RESTConfig()
	if err != nil {
		return "", err
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return "", err
	}
	expiry := int64((7 * 24 * time.Hour).Seconds())
	tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiry},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("token for service account %s/%s: %w", ns, sa, err)
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["cluster"] = &clientcmdapi.Cluster{Server: rc.Host, CertificateAuthorityData: rc.CAData}
	cfg.AuthInfos[sa] = &clientcmdapi.AuthInfo{Token: tr.Status.Token}
	cfg.Contexts["controller"] = &clientcmdapi.Context{Cluster: "cluster", AuthInfo: sa, Namespace: ns}
	cfg.CurrentContext = "controller"
	b, err := clientcmd.Write(*cfg)
	if err != nil {
		return "", err
	}
	if err := provision.WriteFile0600(path, b); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return path, nil
}
