package controller_test

import (
	"context"
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

// crdVariant rewrites the chart's CRD schema.
type crdVariant struct {
	name   string
	mutate func(root *apiextensionsv1.JSONSchemaProps)
}

// schemaless replaces a property's schema with "any object", as
// FlytePropeller's CRD does for its whole spec.
func schemaless(p apiextensionsv1.JSONSchemaProps) apiextensionsv1.JSONSchemaProps {
	return apiextensionsv1.JSONSchemaProps{Type: "object", Description: p.Description, XPreserveUnknownFields: ptr.To(true)}
}

var crdVariants = []crdVariant{
	{"full", func(*apiextensionsv1.JSONSchemaProps) {}},
	{"status-nodes-schemaless", func(root *apiextensionsv1.JSONSchemaProps) {
		st := root.Properties["status"]
		st.Properties["nodes"] = schemaless(st.Properties["nodes"])
		root.Properties["status"] = st
	}},
	{"closure-atomic", func(root *apiextensionsv1.JSONSchemaProps) {
		// Validated as before, but tracked by the field manager as one
		// value (x-kubernetes-map-type: atomic on the closure object).
		sp := root.Properties["spec"]
		c := sp.Properties["closure"]
		c.XMapType = ptr.To("atomic")
		sp.Properties["closure"] = c
		root.Properties["spec"] = sp
	}},
	{"closure-schemaless", func(root *apiextensionsv1.JSONSchemaProps) {
		sp := root.Properties["spec"]
		sp.Properties["closure"] = schemaless(sp.Properties["closure"])
		root.Properties["spec"] = sp
	}},
	{"closure-and-nodes-schemaless", func(root *apiextensionsv1.JSONSchemaProps) {
		st := root.Properties["status"]
		st.Properties["nodes"] = schemaless(st.Properties["nodes"])
		root.Properties["status"] = st
		sp := root.Properties["spec"]
		sp.Properties["closure"] = schemaless(sp.Properties["closure"])
		root.Properties["spec"] = sp
	}},
}

// BenchmarkCRDUpdate measures what the API server's schema handling
// (pruning, validation) costs per Workflow update, for the chart's CRD and
// for variants whose big parts are schemaless: one op is one update (the
// engine's PUT of the whole object) of a 1,000-node workflow with its
// closure inline (or offloaded) and every node's status filled in. Each
// variant gets a fresh CRD on the same local cluster. Run with
// -benchtime=60x -count=5.
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
				wf.Status.Nodes = map[string]v1alpha1.NodeStatus{}
				for id := range nodes {
					wf.Status.Nodes[id] = v1alpha1.NodeStatus{Phase: v1alpha1.NodeSucceeded, Attempts: 1, Launched: now, Started: now + 1e6, Finished: now + 2e6}
				}
				cur, err := wfs.Create(context.Background(), wf)
				if err != nil {
					b.Fatal(err)
				}
				var bytes int
				update := func(i int) {
					st := cur.Status.Nodes[testwf.NodeID(i%1000)]
					st.Finished++
					cur.Status.Nodes[testwf.NodeID(i%1000)] = st
					body, err := engine.EncodeWorkflow(cur)
					if err != nil {
						b.Fatal(err)
					}
					bytes = len(body)
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
				b.ReportMetric(float64(bytes), "bytes/update")
			})
		}
	}
}

// replaceCRD installs variant v of the chart's CRD, deleting any other
// first (with its objects), and waits until Workflows are served.
func replaceCRD(b testing.TB, rc *rest.Config, v crdVariant) {
	b.Helper()
	raw, err := os.ReadFile(filepath.Join("chart", "crds", "flow.benchctl.dev_workflows.yaml"))
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
