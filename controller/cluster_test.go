package controller_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	collectorpb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensions "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/benchctl/benchctl/controller"
	"github.com/benchctl/benchctl/controller/api/telemetry"
	"github.com/benchctl/benchctl/controller/api/v1alpha1"
	"github.com/benchctl/benchctl/controller/config"
	"github.com/benchctl/benchctl/controller/engine"
	"github.com/benchctl/benchctl/provision/local/localtest"
)

// cluster is a local cluster with the Workflow CRD installed.
type cluster struct {
	rest *rest.Config
	kube kubernetes.Interface
	wfs  engine.WorkflowClient
}

func startCluster(t testing.TB) *cluster {
	t.Helper()
	lc := localtest.Start(t, 2)
	c := &cluster{rest: lc.RESTConfig, kube: lc.Clientset}
	installCRD(t, lc.RESTConfig)
	var err error
	if c.wfs, err = engine.NewWorkflowClient(lc.RESTConfig, ""); err != nil {
		t.Fatal(err)
	}
	return c
}

// installCRD applies the chart's CRD and waits until it is served.
func installCRD(t testing.TB, rc *rest.Config) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("chart", "crds", "flow.benchctl.dev_workflows.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(b, &crd); err != nil {
		t.Fatalf("chart CRD: %v", err)
	}
	cs, err := apiextensions.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := cs.ApiextensionsV1().CustomResourceDefinitions().Create(ctx, &crd, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		got, err := cs.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, crd.Name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		for _, c := range got.Status.Conditions {
			if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("CRD not established: %v", err)
	}
}

func (c *cluster) namespace(t testing.TB, name string) string {
	t.Helper()
	_, err := c.kube.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return name
}

// testConfig is the controller config of the cluster tests: loopback HTTP
// on a free port, a private file blobstore, Kubernetes events.
func testConfig(t testing.TB) config.Config {
	cfg := config.Defaults()
	cfg.HTTP.Address = "127.0.0.1:0"
	cfg.Blobstore.URL = "file://" + t.TempDir() + "?no_tmp_dir=1&metadata=skip" // as deploy sets it
	cfg.Events.Sink = config.EventSinkKube
	cfg.LogLevel = "warn"
	return cfg
}

// running is an in-process controller.
type running struct {
	c      *controller.Controller
	cancel context.CancelFunc
	done   chan error
}

func (c *cluster) start(t testing.TB, ns string, cfg config.Config) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ctl, err := controller.New(ctx, cfg, c.rest, ns)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	r := &running{c: ctl, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- ctl.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	err = wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		code, _ := r.get(t, telemetry.PathReadyz)
		return code == http.StatusOK, nil
	})
	if err != nil {
		t.Fatalf("controller not ready: %v", err)
	}
	return r
}

func (r *running) stop(t testing.TB) {
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	if err := <-r.done; err != nil {
		t.Errorf("controller: %v", err)
	}
}

func (r *running) get(t testing.TB, path string) (int, []byte) {
	t.Helper()
	res, err := http.Get("http://" + r.c.Addr() + path)
	if err != nil {
		return 0, nil
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// metrics scrapes /metrics.
func (r *running) metrics(t testing.TB) map[string]*dto.MetricFamily {
	t.Helper()
	code, b := r.get(t, telemetry.PathMetrics)
	if code != http.StatusOK {
		t.Fatalf("GET /metrics: %d", code)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytesReader(b))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// spans fetches an execution's spans.
func (r *running) spans(t testing.TB, execution string) (*collectorpb.ExportTraceServiceRequest, string) {
	t.Helper()
	res, err := http.Get("http://" + r.c.Addr() + telemetry.PathSpans + "?execution=" + execution)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET spans: %d %s", res.StatusCode, b)
	}
	var req collectorpb.ExportTraceServiceRequest
	if err := protojson.Unmarshal(b, &req); err != nil {
		t.Fatalf("spans are not OTLP JSON: %v", err)
	}
	return &req, res.Header.Get(telemetry.HeaderSpansDropped)
}

func (c *cluster) create(t testing.TB, wf *v1alpha1.Workflow) {
	t.Helper()
	if _, err := c.wfs.Create(context.Background(), wf); err != nil {
		t.Fatal(err)
	}
}

// wait watches a workflow until it is terminal and returns it (a watch,
// not polling, so that waiting adds no load to the API server under test).
func (c *cluster) wait(t testing.TB, ns, name string, timeout time.Duration) *v1alpha1.Workflow {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last *v1alpha1.Workflow
	for ctx.Err() == nil {
		wf, err := c.wfs.Get(ctx, ns, name)
		if err != nil {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		if last = wf; wf.Status.Phase.IsTerminal() {
			return wf
		}
		w, err := c.wfs.Watch(metav1.ListOptions{
			FieldSelector:   fields.AndSelectors(fields.OneTermEqualSelector("metadata.name", name), fields.OneTermEqualSelector("metadata.namespace", ns)).String(),
			ResourceVersion: wf.ResourceVersion,
		})
		if err != nil {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		for done := false; !done; {
			select {
			case <-ctx.Done():
				done = true
			case ev, ok := <-w.ResultChan():
				if !ok {
					done = true
					break
				}
				// The client's list-watch replaces the field selector with
				// its own (everything): filter here.
				if wf, ok := ev.Object.(*v1alpha1.Workflow); ok && wf.Namespace == ns && wf.Name == name {
					if last = wf; wf.Status.Phase.IsTerminal() {
						w.Stop()
						return wf
					}
				}
			}
		}
		w.Stop()
	}
	phase := "unknown"
	if last != nil {
		phase = string(last.Status.Phase)
	}
	t.Fatalf("workflow %s/%s not done after %v (phase %s)", ns, name, timeout, phase)
	return nil
}

// deleteAndWait deletes a workflow and waits until garbage collection
// has removed its pods.
func (c *cluster) deleteAndWait(t testing.TB, ns, name string) {
	t.Helper()
	if err := c.wfs.Delete(context.Background(), ns, name); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	err := wait.PollUntilContextTimeout(context.Background(), time.Second, 10*time.Minute, true, func(context.Context) (bool, error) {
		return len(c.pods(t, ns, name)) == 0, nil
	})
	if err != nil {
		t.Fatalf("pods of %s/%s not deleted: %v", ns, name, err)
	}
}

// pods lists the task pods of a workflow.
func (c *cluster) pods(t testing.TB, ns, workflow string) []corev1.Pod {
	t.Helper()
	list, err := c.kube.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{
		LabelSelector: fmt.Sprintf("%s=%s", v1alpha1.LabelWorkflow, workflow),
	})
	if err != nil {
		t.Fatal(err)
	}
	return list.Items
}

// counter returns the value of a counter or the sample count of a
// histogram, summed over label sets.
func counter(fams map[string]*dto.MetricFamily, name string) float64 {
	var v float64
	for _, m := range fams[name].GetMetric() {
		if m.GetCounter() != nil {
			v += m.GetCounter().GetValue()
		} else if m.GetHistogram() != nil {
			v += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return v
}
