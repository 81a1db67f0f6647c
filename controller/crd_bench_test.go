package controller_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensions "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/benchctl/benchctl/controller/api/v1alpha1"
	"github.com/benchctl/benchctl/controller/engine"
	"github.com/benchctl/benchctl/controller/internal/testwf"
	"github.com/benchctl/benchctl/provision/local/localtest"
)

// crdVariant is a Workflow CRD (a file, and a rewrite of its schema) and
// how node statuses are encoded: compact strings, or the objects of the
// controllers before them (objectStatus), which the validated CRD's
// schema requires.
type crdVariant struct {
	name         string
	file         string
	mutate       func(root *apiextensionsv1.JSONSchemaProps)
	objectStatus bool
}

// The chart's CRD, and the one before it (spec.closure and status.nodes
// fully validated, tracked as one value each by the field manager).
const (
	chartCRD     = "chart/crds/flow.benchctl.dev_workflows.yaml"
	validatedCRD = "testdata/workflows-crd-validated.yaml"
)

// schemalessAtomic replaces a property's schema with "any object", kept
// whole by the field manager (x-kubernetes-map-type: atomic).
func schemalessAtomic(p apiextensionsv1.JSONSchemaProps) apiextensionsv1.JSONSchemaProps {
	return apiextensionsv1.JSONSchemaProps{Type: "object", Description: p.Description,
		XPreserveUnknownFields: ptr.To(true), XMapType: ptr.To("atomic")}
}

var crdVariants = []crdVariant{
	{"validated", validatedCRD, func(*apiextensionsv1.JSONSchemaProps) {}, true},
	{"nodes-schemaless", validatedCRD, func(root *apiextensionsv1.JSONSchemaProps) {
		st := root.Properties["status"]
		st.Properties["nodes"] = schemalessAtomic(st.Properties["nodes"])
		root.Properties["status"] = st
	}, true},
	{"chart-object-status", chartCRD, func(*apiextensionsv1.JSONSchemaProps) {}, true},
	{"chart", chartCRD, func(*apiextensionsv1.JSONSchemaProps) {}, false},
}

// objectStatus is a node status in the object form of the controllers
// before the compact one.
type objectStatus v1alpha1.NodeStatus

// encodeObjectStatus is EncodeWorkflow with node statuses as objects.
func encodeObjectStatus(wf *v1alpha1.Workflow) ([]byte, error) {
	nodes := wf.Status.Nodes
	wf.Status.Nodes = nil
	body, err := engine.EncodeWorkflow(wf)
	wf.Status.Nodes = nodes
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // unix nanoseconds do not fit a float64
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, err
	}
	objs := make(map[string]objectStatus, len(nodes))
	for id, st := range nodes {
		objs[id] = objectStatus(st)
	}
	obj["status"].(map[string]any)["nodes"] = objs
	return json.Marshal(obj)
}

// BenchmarkCRDUpdate measures what the API server's schema handling
// (coercion, validation) costs per Workflow update: one op is one update
// (the engine's PUT of the whole object) of a 1,000-node workflow with
// its closure inline (or offloaded) and every node's status filled in,
// under the CRD before this change (validated), with only status.nodes
// schemaless, and the chart's (closure and nodes schemaless, atomic),
// with node statuses as objects (as before) and compact (as now).
// Each variant gets a fresh CRD on the same local cluster, one after
// another. Run with -benchtime=60x -count=3.
func BenchmarkCRDUpdate(b *testing.B) {
	lc := localtest.Start(b, 1)
	for _, v := range crdVariants {
		replaceCRD(b, lc.RESTConfig, v)
		for _, offload := range []bool{false, true} {
			closure := "inline"
			if offload {
				closure = "offloaded"
			}
			b.Run("schema="+v.name+"/closure="+closure, func(b *testing.B) {
				wfs, err := engine.NewWorkflowClient(lc.RESTConfig, "")
				if err != nil {
					b.Fatal(err)
				}
				ns := fmt.Sprintf("crd-%s-%d", v.name, time.Now().UnixNano())
				c := &cluster{rest: lc.RESTConfig, kube: lc.Clientset, wfs: wfs}
				c.namespace(b, ns)
				wf := testwf.Layers(ns, "big", 10, 100, testwf.Task(0, 0))
				nodes := wf.Spec.Closure.Primary.Nodes
				if offload {
					wf.Spec.Closure, wf.Spec.ClosureRef = nil, "executions/"+ns+"/big-0123abcd/closure"
				}
				now := time.Now().UnixNano()
				wf.Status.Phase = v1alpha1.WorkflowRunning
				wf.Status.DataDir = "executions/" + ns + "/big-0123abcd"
				cur, err := wfs.Create(context.Background(), wf) // node statuses come with the first update
				if err != nil {
					b.Fatal(err)
				}
				cur.Status.Nodes = map[string]v1alpha1.NodeStatus{}
				for id := range nodes {
					cur.Status.Nodes[id] = v1alpha1.NodeStatus{Phase: v1alpha1.NodeSucceeded, Attempts: 1, Launched: now, Started: now + 1e6, Finished: now + 2e6}
				}
				encode := engine.EncodeWorkflow
				if v.objectStatus {
					encode = encodeObjectStatus
				}
				var size int
				update := func(i int) {
					st := cur.Status.Nodes[testwf.NodeID(i%1000)]
					st.Finished++
					cur.Status.Nodes[testwf.NodeID(i%1000)] = st
					body, err := encode(cur)
					if err != nil {
						b.Fatal(err)
					}
					size = len(body)
					if cur, err = wfs.Update(context.Background(), cur, body); err != nil {
						b.Fatal(err)
					}
					cur.ManagedFields = nil // as the engine sends them: not at all
				}
				for i := range 20 { // warm-up: caches, connections
					update(i)
				}
				b.ResetTimer()
				for i := range b.N {
					update(i)
				}
				b.ReportMetric(float64(size), "bytes/update")
			})
		}
	}
}

// replaceCRD installs variant v of the Workflow CRD, deleting any other
// first (with its objects), and waits until Workflows are served.
func replaceCRD(b testing.TB, rc *rest.Config, v crdVariant) {
	b.Helper()
	raw, err := os.ReadFile(filepath.FromSlash(v.file))
	if err != nil {
		b.Fatal(err)
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(raw, &crd); err != nil {
		b.Fatal(err)
	}
	v.mutate(crd.Spec.Versions[0].Schema.OpenAPIV3Schema)
	cs, err := apiextensions.NewForConfig(rc)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	crds := cs.ApiextensionsV1().CustomResourceDefinitions()
	if err := crds.Delete(ctx, crd.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		b.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := crds.Get(ctx, crd.Name, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		b.Fatalf("old CRD not deleted: %v", err)
	}
	if _, err := crds.Create(ctx, &crd, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	wfs, err := engine.NewWorkflowClient(rc, "")
	if err != nil {
		b.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		got, err := crds.Get(ctx, crd.Name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		for _, c := range got.Status.Conditions {
			if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
				_, err := wfs.List(metav1.ListOptions{})
				return err == nil, nil
			}
		}
		return false, nil
	})
	if err != nil {
		b.Fatalf("CRD variant %s not served: %v", v.name, err)
	}
}
