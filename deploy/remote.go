package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/benchctl/benchctl/deploy/images"
	"github.com/benchctl/benchctl/reports"
	"github.com/benchctl/benchctl/reports/redact"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
	"sigs.k8s.io/yaml"

	"github.com/benchctl/benchctl/controller/api/telemetry"
	"github.com/benchctl/benchctl/provision"
)

// setImages points the chart at images the cluster can pull. kind gets
// images built here and loaded into its nodes; cloud and existing clusters
// pull from --image-repo.
func setImages(c *provision.Cluster, imageRepo string, build *ControllerBuild, vals map[string]any, admin bool) error {
	tag := build.Commit
	repo := strings.TrimSuffix(imageRepo, "/")
	if repo == "" {
		if imagesNamed(vals, admin) {
			return nil // the user's --set or -f names every image
		}
		if c.Provider != provision.ProviderKind {
			return fmt.Errorf("--image-repo is required for provider %s: the cluster pulls REPO/benchflow:%s, REPO/benchtask:%s and REPO/benchadmin:%s; push them with 'benchctl images push --image-repo REPO' (or name every image with --set %s, %s and %s)", c.Provider, tag, tag, tag, valImageRepo, valTaskImage, valAdminRepo)
		}
		return errors.New("kind: no images to point the chart at; deploy builds and loads them itself, or pass --image-repo REPO after 'benchctl images push'")
	}
	setValue(vals, valImageRepo, repo+"/benchflow")
	setValue(vals, valImageTag, tag)
	setValue(vals, valAdminRepo, repo+"/benchadmin")
	setValue(vals, valAdminTag, tag)
	setValue(vals, valTaskImage, repo+"/benchtask:"+tag)
	return nil
}

// imagesNamed says whether the user's values name the controller's and
// the task pods' images (and the admin service's, when it runs): then
// the chart needs no --image-repo.
func imagesNamed(vals map[string]any, admin bool) bool {
	named := func(path string) bool { v, _ := lookup(vals, path).(string); return v != "" }
	return named(valImageRepo) && named(valTaskImage) && (!admin || named(valAdminRepo))
}

// ImageLoader loads image archives (docker-save tarballs) into every node
// of a cluster: kind's node image loader (provision/kind).
type ImageLoader interface {
	LoadImageArchives(ctx context.Context, c *provision.Cluster, archives ...string) error
}

// loadImages builds the controller's images from its source tree for the
// host's platform (kind's nodes run on this host), writes them under the
// cluster's state directory, and loads them into every node. It returns
// the repository the chart is then pointed at.
func loadImages(ctx context.Context, c *provision.Cluster, opts Options, build *ControllerBuild) (string, error) {
	if opts.ImageLoader == nil {
		return "", errors.New("kind: this deploy has no image loader; pass --image-repo with images pushed by 'benchctl images push'")
	}
	res, err := images.Build(ctx, images.Options{SourceDir: build.SourceDir, Platforms: []string{images.HostPlatform()},
		Version: build.Version, Commit: build.Commit, Tag: build.Commit})
	if err != nil {
		var ie *images.InputError
		if errors.As(err, &ie) && build.SourceDir == "" {
			return "", fmt.Errorf("kind: the bundled controller's images are built from a benchctl source tree, and none holds the working directory (%w); run from a checkout, give --controller-source DIR|REF, or pass --image-repo", err)
		}
		return "", fmt.Errorf("kind: build images: %w", err)
	}
	defer res.Close()
	dir := filepath.Join(c.Dir, "images", build.Commit)
	if err := res.WriteArchives(ctx, dir); err != nil {
		return "", fmt.Errorf("kind: write image archives: %w", err)
	}
	if err := opts.ImageLoader.LoadImageArchives(ctx, c, res.Archives()...); err != nil {
		return "", err
	}
	return res.Repo, nil
}

// Connect returns the controller's HTTP base URL. For a local cluster it
// is the host process's loopback address; elsewhere it port-forwards a
// loopback port to the controller pod until stop is called.
func Connect(ctx context.Context, c *provision.Cluster, d *Deployment) (endpoint string, stop func(), err error) {
	if d.Endpoint != "" {
		return d.Endpoint, func() {}, nil
	}
	port, err := controllerPort(d)
	if err != nil {
		return "", nil, err
	}
	return portForward(ctx, c, d.Namespace, controllerSelector(d.Release), port)
}

// controllerSelector selects the controller pods of release, as the
// chart labels them.
func controllerSelector(release string) string {
	return "app.kubernetes.io/name=benchflow,app.kubernetes.io/instance=" + release
}

// ConnectAdmin returns the admin service's HTTP base URL, as Connect does
// the controller's.
func ConnectAdmin(ctx context.Context, c *provision.Cluster, d *Deployment) (endpoint string, stop func(), err error) {
	if d.Admin == nil {
		return "", nil, fmt.Errorf("deployment %s has no admin service", d.Name)
	}
	if d.Admin.Endpoint != "" {
		return d.Admin.Endpoint, func() {}, nil
	}
	return portForward(ctx, c, d.Namespace, "app.kubernetes.io/name=benchflow-admin,app.kubernetes.io/instance="+d.Release, adminPort(d.Values))
}

// portForward forwards a loopback port to remotePort of a running pod
// matching selector, until stop is called.
func portForward(ctx context.Context, c *provision.Cluster, namespace, selector string, remotePort int) (endpoint string, stop func(), err error) {
	rc, err := c.RESTConfig()
	if err != nil {
		return "", nil, err
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return "", nil, err
	}
	pods, err := cs.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return "", nil, fmt.Errorf("find pod %s: %w", selector, err)
	}
	var pod *corev1.Pod
	for i := range pods.Items {
		if pods.Items[i].Status.Phase == corev1.PodRunning {
			pod = &pods.Items[i]
			break
		}
	}
	if pod == nil {
		return "", nil, fmt.Errorf("no running pod %s in namespace %s", selector, namespace)
	}
	transport, upgrader, err := spdy.RoundTripperFor(rc)
	if err != nil {
		return "", nil, err
	}
	u := cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(pod.Namespace).Name(pod.Name).SubResource("portforward").URL()
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, u)
	stopCh, readyCh := make(chan struct{}), make(chan struct{})
	pf, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{"0:" + strconv.Itoa(remotePort)}, stopCh, readyCh, io.Discard, io.Discard)
	if err != nil {
		return "", nil, fmt.Errorf("port-forward to %s: %w", pod.Name, err)
	}
	errCh := make(chan error, 1)
	go func() { errCh <- pf.ForwardPorts() }()
	select {
	case <-readyCh:
	case err := <-errCh:
		return "", nil, fmt.Errorf("port-forward to %s: %w", pod.Name, err)
	case <-ctx.Done():
		close(stopCh)
		return "", nil, ctx.Err()
	}
	ports, err := pf.GetPorts()
	if err != nil || len(ports) == 0 {
		close(stopCh)
		return "", nil, fmt.Errorf("port-forward to %s: no local port", pod.Name)
	}
	return "http://127.0.0.1:" + strconv.Itoa(int(ports[0].Local)), func() { close(stopCh) }, nil
}

// controllerPort is the port of the controller's HTTP address inside its
// pod, from the effective config.
func controllerPort(d *Deployment) (int, error) {
	var cfg struct {
		HTTP struct {
			Address string `json:"address"`
		} `json:"http"`
	}
	if err := yaml.Unmarshal([]byte(d.EffectiveConfig), &cfg); err != nil || cfg.HTTP.Address == "" {
		return 8080, nil
	}
	_, port, ok := strings.Cut(cfg.HTTP.Address, ":")
	if !ok {
		return 0, fmt.Errorf("controller http.address %q has no port", cfg.HTTP.Address)
	}
	return strconv.Atoi(port)
}

// fetchEffectiveConfig asks the running controller for its configuration
// after defaults: what the report records and hashes.
func fetchEffectiveConfig(ctx context.Context, c *provision.Cluster, d *Deployment) error {
	endpoint, stop, err := Connect(ctx, c, d)
	if err != nil {
		return err
	}
	defer stop()
	body, err := httpGet(ctx, endpoint+telemetry.PathConfig)
	if err != nil {
		return fmt.Errorf("controller config: %w", err)
	}
	d.EffectiveConfig = redact.String(string(body))
	if d.Behaviour, err = Behaviour(body); err != nil {
		return fmt.Errorf("controller config: %w", err)
	}
	if d.ConfigHash, err = reports.HashValues(d.Behaviour); err != nil {
		return err
	}
	if v, err := httpGet(ctx, endpoint+telemetry.PathVersion); err == nil {
		var info struct {
			Version string `json:"version"`
			Commit  string `json:"commit"`
		}
		if json.Unmarshal(v, &info) == nil {
			if info.Version != "" {
				d.Controller.Version = info.Version
			}
			if info.Commit != "" {
				d.Controller.Commit = info.Commit
			}
		}
	}
	return nil
}

func httpGet(ctx context.Context, u string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", u, resp.Status, bytes.TrimSpace(b))
	}
	return b, nil
}

func deploymentPath(c *provision.Cluster, name string) string {
	return filepath.Join(c.Dir, "deployments", url.PathEscape(name)+".yaml")
}

func saveDeployment(c *provision.Cluster, d *Deployment) error {
	b, err := yaml.Marshal(d)
	if err != nil {
		return err
	}
	p := deploymentPath(c, d.Name)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	if err := provision.WriteFile0600(p, b); err != nil {
		return fmt.Errorf("write deployment record: %w", err)
	}
	return nil
}

// Deployments names what is deployed on the cluster, sorted.
func Deployments(c *provision.Cluster) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(c.Dir, "deployments"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list deployments of cluster %s: %w", c.Name, err)
	}
	var names []string
	for _, e := range entries {
		stem, ok := strings.CutSuffix(e.Name(), ".yaml")
		if !ok || e.IsDir() {
			continue
		}
		if name, err := url.PathUnescape(stem); err == nil {
			names = append(names, name)
		}
	}
	return names, nil // ReadDir sorts by file name
}

// LoadDeployment reads the record of a deployment on the cluster.
func LoadDeployment(c *provision.Cluster, name string) (*Deployment, error) {
	b, err := os.ReadFile(deploymentPath(c, name))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("nothing is deployed as %q on cluster %q (run 'benchctl deploy --cluster %s --config %s')", name, c.Name, c.Name, name)
		}
		return nil, err
	}
	var d Deployment
	if err := yaml.UnmarshalStrict(b, &d); err != nil {
		return nil, fmt.Errorf("%s: %w", deploymentPath(c, name), err)
	}
	return &d, nil
}
