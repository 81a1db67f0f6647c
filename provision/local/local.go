// Package local is the default provider: a real control plane on loopback
// with no Docker. etcd, kube-apiserver, kube-scheduler,
// kube-controller-manager (garbage collector and namespace controllers) and
// KWOK run as host processes that outlive benchctl; KWOK simulates nodes
// and pod lifecycles (see stages.yaml). The binaries come from the Go
// module proxy through `make setup`.
package local

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/benchctl/benchctl/provision"
)

const (
	// nodeAnnotation marks the nodes KWOK manages.
	nodeAnnotation = "kwok.x-k8s.io/node"
	// serviceIP is the first address of the service range.
	serviceIP    = "10.96.0.1"
	serviceRange = "10.96.0.0/16"

	readyTimeout = 90 * time.Second
)

// Process names, in start order.
const (
	procEtcd       = "etcd"
	procAPIServer  = "kube-apiserver"
	procScheduler  = "kube-scheduler"
	procController = "kube-controller-manager"
	procKWOK       = "kwok"
)

// componentQPS and componentBurst are the client limits of the scheduler
// and the controller-manager: KWOK's "unlimited" (kwokctl's clusters use
// the same), so that neither throttles what the controller under test
// asks of the cluster.
const (
	componentQPS   = "5000"
	componentBurst = "10000"
)

// Provider runs local clusters.
type Provider struct {
	store    *provision.Store
	cacheDir string
	progress io.Writer
}

// New returns the local provider. It checkpoints the cluster record in
// store as each process starts, so a crash mid-create leaves nothing
// unrecorded; progress (may be nil) receives one line per step.
func New(store *provision.Store, cacheDir string, progress io.Writer) *Provider {
	if progress == nil {
		progress = io.Discard
	}
	return &Provider{store: store, cacheDir: cacheDir, progress: progress}
}

// Create starts the processes and returns once /readyz answers and every
// fake node is Ready. On failure it stops whatever it started.
func (p *Provider) Create(ctx context.Context, spec provision.Spec, c *provision.Cluster) (err error) {
	start := time.Now()
	bins, err := FindBinaries(p.cacheDir)
	if err != nil {
		return err
	}
	if spec.KubernetesVersion != "" && strings.TrimPrefix(spec.KubernetesVersion, "v") != strings.TrimPrefix(bins.Versions.Kubernetes, "v") {
		return fmt.Errorf("the local provider runs Kubernetes %s (pinned in provision/local/toolchain/versions.env); --kubernetes-version %s is not available locally", bins.Versions.Kubernetes, spec.KubernetesVersion)
	}
	if spec.Nodes < 1 {
		return fmt.Errorf("--nodes must be at least 1, got %d", spec.Nodes)
	}
	c.Nodes = spec.Nodes

	defer func() {
		if err != nil {
			if derr := p.stopAll(context.WithoutCancel(ctx), c); derr != nil {
				err = errors.Join(err, derr)
			}
		}
	}()

	logs := filepath.Join(c.Dir, "logs")
	for _, d := range []string{logs, filepath.Join(c.Dir, "etcd"), filepath.Join(c.Dir, "certs")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
	}
	pk, err := generatePKI(filepath.Join(c.Dir, "pki"))
	if err != nil {
		return err
	}
	ports, err := FreePorts(6)
	if err != nil {
		return err
	}
	c.Ports = map[string]int{
		"etcd-client": ports[0], "etcd-peer": ports[1], "kube-apiserver": ports[2],
		"kube-scheduler": ports[3], "kube-controller-manager": ports[4], "kwok": ports[5],
	}
	server := "https://127.0.0.1:" + strconv.Itoa(c.Ports["kube-apiserver"])
	c.Kubeconfig = filepath.Join(c.Dir, "kubeconfig")
	c.Context = c.Name
	if err := writeKubeconfig(c.Kubeconfig, c.Name, server, pk); err != nil {
		return err
	}
	kwokCfg := filepath.Join(c.Dir, "kwok.yaml")
	if err := writeKWOKConfig(kwokCfg, 32); err != nil {
		return err
	}

	procs := map[string]*Running{}
	launch := func(name, bin string, args []string) error {
		r, err := StartProcess(name, bin, args, filepath.Join(logs, name+".log"))
		if err != nil {
			return err
		}
		procs[name] = r
		c.Processes = append(c.Processes, r.Proc)
		// Checkpoint: teardown must know every PID even if we die now.
		return p.store.Save(c)
	}
	// died names the first process that exited, with its log tail.
	died := func() error {
		for _, name := range []string{procEtcd, procAPIServer, procScheduler, procController, procKWOK} {
			r, ok := procs[name]
			if !ok {
				continue
			}
			if done, err := r.Exited(); done {
				return fmt.Errorf("%s exited during startup (%v); last lines of %s:\n%s", name, err, r.Proc.Log, LogTail(r.Proc.Log, 20))
			}
		}
		return nil
	}
	step := func(format string, args ...any) {
		fmt.Fprintf(p.progress, "  %5.1fs  %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}

	etcdURL := "http://127.0.0.1:" + strconv.Itoa(c.Ports["etcd-client"])
	peerURL := "http://127.0.0.1:" + strconv.Itoa(c.Ports["etcd-peer"])
	etcdArgs := []string{
		"--name=benchctl", "--data-dir=" + filepath.Join(c.Dir, "etcd"),
		"--listen-client-urls=" + etcdURL, "--advertise-client-urls=" + etcdURL,
		"--listen-peer-urls=" + peerURL, "--initial-advertise-peer-urls=" + peerURL,
		"--initial-cluster=benchctl=" + peerURL, "--log-level=warn",
	}
	if spec.UnsafeNoFsync {
		etcdArgs = append(etcdArgs, "--unsafe-no-fsync")
	}
	if err := launch(procEtcd, bins.Etcd, etcdArgs); err != nil {
		return err
	}
	plain := &http.Client{Timeout: 2 * time.Second}
	if err := waitFor(ctx, readyTimeout, died, func() bool { return httpOK(ctx, plain, etcdURL+"/health") }); err != nil {
		return fmt.Errorf("etcd not healthy at %s: %w", etcdURL, err)
	}
	step("etcd %s healthy", bins.Versions.Etcd)

	if err := launch(procAPIServer, bins.APIServer, []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(c.Ports["kube-apiserver"]),
		"--cert-dir=" + filepath.Join(c.Dir, "certs"),
		"--tls-cert-file=" + pk.ServingCert, "--tls-private-key-file=" + pk.ServingKey,
		"--client-ca-file=" + pk.CACert,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + pk.SAPub, "--service-account-signing-key-file=" + pk.SAKey,
		"--service-cluster-ip-range=" + serviceRange,
		"--authorization-mode=RBAC",
		// No endpoints reconciler on loopback: it would publish 127.0.0.1 as
		// the kubernetes service endpoint, which the apiserver rejects.
		"--endpoint-reconciler-type=none",
		// No token controller runs, so pods cannot get service-account
		// tokens; and nodes are created Ready by benchctl and KWOK, so the
		// not-ready taint that the node-lifecycle controller would lift is
		// not added.
		"--disable-admission-plugins=ServiceAccount,TaintNodesByCondition",
	}); err != nil {
		return err
	}
	restCfg, err := c.RESTConfig()
	if err != nil {
		return fmt.Errorf("load kubeconfig %s: %w", c.Kubeconfig, err)
	}
	restCfg.QPS, restCfg.Burst = 100, 200
	cs, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return fmt.Errorf("build client: %w", err)
	}
	readyz := func() bool {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(rctx)
		return err == nil
	}
	if err := waitFor(ctx, readyTimeout, died, readyz); err != nil {
		return fmt.Errorf("kube-apiserver not ready at %s/readyz: %w", server, err)
	}
	step("kube-apiserver %s ready at %s", bins.Versions.Kubernetes, server)

	kc := "--kubeconfig=" + c.Kubeconfig
	if err := launch(procScheduler, bins.Scheduler, []string{
		kc, "--authentication-kubeconfig=" + c.Kubeconfig, "--authorization-kubeconfig=" + c.Kubeconfig,
		"--leader-elect=false", "--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(c.Ports["kube-scheduler"]),
		"--cert-dir=" + filepath.Join(c.Dir, "certs"),
		// The scheduler's own client defaults to 50 requests a second: it
		// binds one pod per request, so a 10,000-item map waited 200 s
		// for its bindings, whatever the controller did. As kwokctl does
		// for its clusters, the limit is lifted.
		"--kube-api-qps=" + componentQPS, "--kube-api-burst=" + componentBurst,
	}); err != nil {
		return err
	}
	if err := launch(procController, bins.ControllerManager, []string{
		kc, "--authentication-kubeconfig=" + c.Kubeconfig, "--authorization-kubeconfig=" + c.Kubeconfig,
		"--leader-elect=false", "--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(c.Ports["kube-controller-manager"]),
		"--cert-dir=" + filepath.Join(c.Dir, "certs"),
		// Owner references must cascade (pods and launch-plan children go
		// with their workflow) and namespaces must empty on delete.
		"--controllers=garbagecollector,namespace",
		"--use-service-account-credentials=false",
		// Its client defaults to 20 requests a second: the garbage
		// collector would take 500 s to delete a 10,000-item map's pods
		// after the execution, loading the next one.
		"--kube-api-qps=" + componentQPS, "--kube-api-burst=" + componentBurst,
	}); err != nil {
		return err
	}
	if err := launch(procKWOK, bins.KWOK, []string{
		kc, "--config=" + kwokCfg,
		"--manage-all-nodes=false", "--manage-nodes-with-annotation-selector=" + nodeAnnotation + "=fake",
		"--node-ip=127.0.0.1",
		"--server-address=127.0.0.1:" + strconv.Itoa(c.Ports["kwok"]),
	}); err != nil {
		return err
	}

	if err := createNodes(ctx, cs, spec.Nodes); err != nil {
		return err
	}
	// The scheduler, controller-manager and KWOK come up in parallel with
	// node creation; check each answers before declaring the cluster ready.
	insecure := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		// Health endpoints on loopback, served with self-signed certs.
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec
	}}
	checks := map[string]string{
		procScheduler:  "https://127.0.0.1:" + strconv.Itoa(c.Ports["kube-scheduler"]) + "/healthz",
		procController: "https://127.0.0.1:" + strconv.Itoa(c.Ports["kube-controller-manager"]) + "/healthz",
		procKWOK:       "http://127.0.0.1:" + strconv.Itoa(c.Ports["kwok"]) + "/healthz",
	}
	for _, name := range []string{procScheduler, procController, procKWOK} {
		url := checks[name]
		if err := waitFor(ctx, readyTimeout, died, func() bool { return httpOK(ctx, insecure, url) }); err != nil {
			return fmt.Errorf("%s not healthy at %s: %w", name, url, err)
		}
	}
	step("kube-scheduler, kube-controller-manager and kwok %s healthy", bins.Versions.KWOK)
	if err := waitFor(ctx, readyTimeout, died, func() bool { return nodesReady(ctx, cs, spec.Nodes) }); err != nil {
		return fmt.Errorf("%d fake nodes not Ready: %w", spec.Nodes, err)
	}
	step("%d node(s) Ready", spec.Nodes)

	sv, err := cs.Discovery().ServerVersion()
	if err != nil {
		return fmt.Errorf("read server version: %w", err)
	}
	fsync := "on"
	if spec.UnsafeNoFsync {
		fsync = "off (--unsafe-no-fsync)"
	}
	c.SimulatedNodes = true
	c.Fingerprint = provision.Fingerprint{
		Provider:          provision.ProviderLocal,
		KubernetesVersion: sv.GitVersion,
		Nodes:             spec.Nodes,
		Options: map[string]string{
			"etcd":               bins.Versions.Etcd,
			"etcdFsync":          fsync,
			"kwok":               bins.Versions.KWOK,
			"scheduler":          "kube-scheduler " + bins.Versions.Kubernetes,
			"controllerManager":  "garbagecollector,namespace",
			"componentClientQPS": componentQPS + "/" + componentBurst,
			"admissionDisabled":  "ServiceAccount,TaintNodesByCondition",
		},
	}
	return nil
}

// StopProcesses stops exactly the recorded processes.
func (p *Provider) StopProcesses(ctx context.Context, c *provision.Cluster) error {
	return p.stopAll(ctx, c)
}

// Delete stops exactly the recorded processes; the caller removes state.
func (p *Provider) Delete(ctx context.Context, c *provision.Cluster) error {
	return p.stopAll(ctx, c)
}

// stopAll stops processes in reverse start order, KWOK first and etcd
// last, so nothing writes to a store that is already gone.
func (p *Provider) stopAll(ctx context.Context, c *provision.Cluster) error {
	var errs []error
	for i := len(c.Processes) - 1; i >= 0; i-- {
		if err := StopProcess(ctx, c.Processes[i], 10*time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Kubeconfig returns the admin kubeconfig path.
func (p *Provider) Kubeconfig(_ context.Context, c *provision.Cluster) (string, error) {
	if c.Kubeconfig == "" {
		return "", fmt.Errorf("cluster %q has no kubeconfig yet (its creation did not finish)", c.Name)
	}
	return c.Kubeconfig, nil
}

// Fingerprint returns what Create recorded.
func (p *Provider) Fingerprint(_ context.Context, c *provision.Cluster) (provision.Fingerprint, error) {
	return c.Fingerprint, nil
}

// controlPlane names the processes a local cluster cannot work without;
// deploy starts the host controllers and admin services it needs.
var controlPlane = []string{"etcd", "kube-apiserver", "kube-scheduler", "kube-controller-manager", "kwok"}

// ControlPlaneDown names the recorded control-plane processes of a local
// cluster that no longer run, in start order: all of them after the
// machine restarted.
func ControlPlaneDown(c *provision.Cluster) []string {
	var down []string
	for _, name := range controlPlane {
		for _, pr := range c.Processes {
			if pr.Name == name && !Alive(pr) {
				down = append(down, name)
			}
		}
	}
	return down
}

// RunningProcesses reports which recorded processes are running, by name.
func RunningProcesses(c *provision.Cluster) map[string]bool {
	out := map[string]bool{}
	for _, pr := range c.Processes {
		out[pr.Name] = Alive(pr)
	}
	return out
}

func nodeName(i int) string { return fmt.Sprintf("kwok-node-%d", i) }

func createNodes(ctx context.Context, cs kubernetes.Interface, n int) error {
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := nodeName(i)
			_, err := cs.CoreV1().Nodes().Create(ctx, &corev1.Node{
				ObjectMeta: metav1.ObjectMeta{
					Name:        name,
					Annotations: map[string]string{nodeAnnotation: "fake"},
					Labels: map[string]string{
						"type": "kwok", "kubernetes.io/hostname": name,
						"kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
					},
				},
			}, metav1.CreateOptions{})
			if err != nil && !apierrors.IsAlreadyExists(err) {
				errs[i] = fmt.Errorf("create node %s: %w", name, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func nodesReady(ctx context.Context, cs kubernetes.Interface, n int) bool {
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	list, err := cs.CoreV1().Nodes().List(rctx, metav1.ListOptions{})
	if err != nil {
		return false
	}
	ready := 0
	for _, node := range list.Items {
		if node.Annotations[nodeAnnotation] != "fake" {
			continue
		}
		for _, cond := range node.Status.Conditions {
			if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
				ready++
			}
		}
	}
	return ready >= n
}

func httpOK(ctx context.Context, c *http.Client, url string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := c.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode == http.StatusOK
}

// waitFor polls cond until it holds, a process dies (died returns an
// error), the context ends or the timeout passes.
func waitFor(ctx context.Context, timeout time.Duration, died func() error, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for {
		if err := died(); err != nil {
			return err
		}
		if cond() {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
