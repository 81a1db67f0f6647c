package controller_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"

	"github.com/benchctl/benchctl/controller/api/telemetry"
	"github.com/benchctl/benchctl/controller/api/v1alpha1"
	"github.com/benchctl/benchctl/controller/config"
	"github.com/benchctl/benchctl/controller/engine"
	"github.com/benchctl/benchctl/controller/internal/spancheck"
	"github.com/benchctl/benchctl/controller/internal/testwf"
)

// EnvLargeWorkflow runs the 1,000-node workflow tests.
const EnvLargeWorkflow = "BENCHCTL_LARGE_WORKFLOW"

// kindsSubtests are the done-when tests of dynamic, sub-workflow and
// launch-plan nodes, offloaded closures and failure semantics, on c.
func kindsSubtests(t *testing.T, c *cluster) {
	t.Run("nested dynamic 3 levels x 5", func(t *testing.T) {
		ns := c.namespace(t, "dynamic")
		r := c.start(t, ns, testConfig(t))
		wf := testwf.Dynamic(ns, "dyn", 5, 3, testwf.Task(50*time.Millisecond, 256), testwf.Task(20*time.Millisecond, 0))
		c.create(t, wf)
		got := c.wait(t, ns, "dyn", 3*time.Minute)
		if got.Status.Phase != v1alpha1.WorkflowSucceeded {
			t.Fatalf("%s %s", got.Status.Phase, got.Status.Message)
		}
		// Every nested node is in the status: 3 top-level, 7 in dyn's
		// sub-DAG, 7 in each of its 5 and of their 25 dynamic nodes'.
		if n := len(got.Status.Nodes); n != 3+7+5*7+25*7 {
			t.Fatalf("status has %d nodes, want 220", n)
		}
		levels := map[int]int{}
		for p, st := range got.Status.Nodes {
			if st.Phase != v1alpha1.NodeSucceeded {
				t.Fatalf("node %s: %s", p, st.Phase)
			}
			levels[strings.Count(p, v1alpha1.NodePathSeparator)]++
		}
		t.Logf("status nodes by depth: %v; %v wall", levels, time.Duration(got.Status.FinishedAt-got.Status.StartedAt))
		if got := len(c.pods(t, ns, "dyn")); got != 1+5+25+125 {
			t.Fatalf("%d pods, want 156 (31 generators, 125 leaves)", got)
		}
		req, _ := r.spans(t, "dyn")
		spans := spancheck.Spans(req.GetResourceSpans())
		res, err := spancheck.Check(spans, "dyn", wf.Spec.Closure)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Done) != 220 || len(res.Attempts) != 156 {
			t.Fatalf("spans give %d done nodes and %d pod attempts", len(res.Done), len(res.Attempts))
		}
		crossCheck(t, r.metrics(t), spans)
	})

	t.Run("10 launch-plan children", func(t *testing.T) {
		ns := c.namespace(t, "launchplans")
		r := c.start(t, ns, testConfig(t))
		wf := testwf.LaunchPlans(ns, "lp", 10, 2, testwf.Task(50*time.Millisecond, 128))
		wf.Spec.ExecutionID = "exec-lp"
		c.create(t, wf)
		got := c.wait(t, ns, "lp", 2*time.Minute)
		if got.Status.Phase != v1alpha1.WorkflowSucceeded {
			t.Fatalf("%s %s", got.Status.Phase, got.Status.Message)
		}
		ctx := context.Background()
		var children []string
		for i := range 10 {
			name := got.Status.Nodes[fmt.Sprint("lp", i)].Child
			child, err := c.wfs.Get(ctx, ns, name)
			if err != nil {
				t.Fatalf("child of lp%d: %v (status %+v)", i, err, got.Status.Nodes)
			}
			if child.Status.Phase != v1alpha1.WorkflowSucceeded || child.Spec.ExecutionID != "exec-lp" ||
				metav1.GetControllerOf(child) == nil || metav1.GetControllerOf(child).UID != got.UID {
				t.Fatalf("child %s: %s, execution %q, owners %v", name, child.Status.Phase, child.Spec.ExecutionID, child.OwnerReferences)
			}
			children = append(children, name)
		}
		// The children's pods carry the shared execution id.
		pods, err := c.kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: v1alpha1.LabelExecution + "=exec-lp"})
		if err != nil || len(pods.Items) != 20 {
			t.Fatalf("%d pods labelled with the execution (want 20): %v", len(pods.Items), err)
		}
		req, _ := r.spans(t, "exec-lp")
		spans := spancheck.Spans(req.GetResourceSpans())
		res, err := spancheck.Check(spancheck.ByWorkflow(spans, "lp"), "exec-lp", wf.Spec.Closure)
		if err != nil {
			t.Fatal(err)
		}
		if res.Counts[telemetry.SpanWorkflowCreate] != 10 {
			t.Fatalf("%d workflow.create spans", res.Counts[telemetry.SpanWorkflowCreate])
		}
		for _, name := range children {
			if _, err := spancheck.Check(spancheck.ByWorkflow(spans, name), "exec-lp", testwf.ChildClosure(wf.Spec.Closure, testwf.SubWorkflow)); err != nil {
				t.Fatalf("child %s: %v", name, err)
			}
		}
		crossCheck(t, r.metrics(t), spans)

		// Garbage collection (kube-controller-manager) removes the
		// children and every pod with the parent.
		start := time.Now()
		if err := c.wfs.Delete(ctx, ns, "lp"); err != nil {
			t.Fatal(err)
		}
		err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
			wfs, err := c.wfs.List(metav1.ListOptions{})
			if err != nil {
				return false, nil
			}
			left := 0
			for _, w := range wfs.(*v1alpha1.WorkflowList).Items {
				if w.Namespace == ns {
					left++
				}
			}
			pods, err := c.kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
			return err == nil && left == 0 && len(pods.Items) == 0, nil
		})
		if err != nil {
			t.Fatalf("children or pods not garbage-collected with the parent: %v", err)
		}
		t.Logf("parent, 10 children and 20 pods garbage-collected in %v", time.Since(start).Round(time.Millisecond))
	})

	t.Run("10 parallel sub-workflows of 3 tasks", func(t *testing.T) {
		ns := c.namespace(t, "subworkflows")
		r := c.start(t, ns, testConfig(t))
		wf := testwf.SubWorkflows(ns, "sw", 10, 3, testwf.Task(50*time.Millisecond, 128))
		c.create(t, wf)
		got := c.wait(t, ns, "sw", 2*time.Minute)
		if got.Status.Phase != v1alpha1.WorkflowSucceeded {
			t.Fatalf("%s %s", got.Status.Phase, got.Status.Message)
		}
		if n := len(got.Status.Nodes); n != 12+10*5 {
			t.Fatalf("status has %d nodes, want 62", n)
		}
		if got := len(c.pods(t, ns, "sw")); got != 30 {
			t.Fatalf("%d pods, want 30", got)
		}
		req, _ := r.spans(t, "sw")
		spans := spancheck.Spans(req.GetResourceSpans())
		if _, err := spancheck.Check(spans, "sw", wf.Spec.Closure); err != nil {
			t.Fatal(err)
		}
		crossCheck(t, r.metrics(t), spans)
		t.Logf("wall %v", time.Duration(got.Status.FinishedAt-got.Status.StartedAt))
	})

	t.Run("failing task with retries 2", func(t *testing.T) {
		ns := c.namespace(t, "retries")
		c.start(t, ns, testConfig(t))
		wf := testwf.Chain(ns, "retry", 2, testwf.Task(20*time.Millisecond, 0))
		bad := testwf.Task(20*time.Millisecond, 0)
		bad.Retries, bad.FailAttempts = 2, 100
		wf.Spec.Closure.Tasks["bad"] = bad
		wf.Spec.Closure.Primary.Nodes["n1"] = v1alpha1.NodeSpec{Kind: v1alpha1.NodeKindTask, Task: "bad"}
		c.create(t, wf)
		got := c.wait(t, ns, "retry", time.Minute)
		want := "node n1: attempt 3 failed: container task exited with code 1"
		if got.Status.Phase != v1alpha1.WorkflowFailed || !strings.Contains(got.Status.Message, want) {
			t.Fatalf("%s %q, want Failed with %q", got.Status.Phase, got.Status.Message, want)
		}
		if st := got.Status.Nodes["n1"]; st.Phase != v1alpha1.NodeFailed || st.Attempts != 3 || !strings.Contains(st.Message, "attempt 3 failed") {
			t.Fatalf("n1: %+v", st)
		}
		attempts := map[string]bool{}
		for _, p := range c.pods(t, ns, "retry") {
			if p.Labels[v1alpha1.LabelNode] == "n1" {
				attempts[p.Labels[v1alpha1.LabelAttempt]] = true
			}
		}
		if len(attempts) != 3 || !attempts["1"] || !attempts["2"] || !attempts["3"] {
			t.Fatalf("pods of n1 for attempts %v, want exactly 1, 2 and 3", attempts)
		}
	})

	t.Run("bad workflows fail with the field named", func(t *testing.T) {
		// The CRD leaves the closure schemaless (the API server's validation
		// of it was half of a large update's cost), so the API server takes
		// these; the controller fails each, naming the field, and the good
		// workflow beside them runs: one undecodable object must not stop
		// the namespace's informer.
		ns := c.namespace(t, "bad-closures")
		c.start(t, ns, testConfig(t))
		dyn, err := dynamic.NewForConfig(c.rest)
		if err != nil {
			t.Fatal(err)
		}
		wfs := dyn.Resource(v1alpha1.SchemeGroupVersion.WithResource("workflows")).Namespace(ns)
		for i, tt := range []struct {
			mutate func(obj map[string]any)
			want   string
		}{
			{func(obj map[string]any) { closureTask(obj)["retries"] = int64(-1) }, "spec.closure.tasks[t].retries: must not be negative"},
			{func(obj map[string]any) {
				obj["spec"].(map[string]any)["closure"].(map[string]any)["primary"].(map[string]any)["nodes"].(map[string]any)["n0"] = map[string]any{"kind": "loop", "task": "t"}
			}, `spec.closure.primary.nodes[n0].kind: unknown kind "loop"`},
			{func(obj map[string]any) { closureTask(obj)["retries"] = "three" }, "does not decode: spec.closure.tasks.retries"},
		} {
			name := fmt.Sprint("bad-", i)
			raw, err := json.Marshal(testwf.Chain(ns, name, 1, testwf.Task(0, 0)))
			if err != nil {
				t.Fatal(err)
			}
			obj := map[string]any{}
			if err := json.Unmarshal(raw, &obj); err != nil {
				t.Fatal(err)
			}
			tt.mutate(obj)
			if _, err := wfs.Create(context.Background(), &unstructured.Unstructured{Object: obj}, metav1.CreateOptions{}); err != nil {
				t.Fatalf("create %s: %v", name, err)
			}
			// The harness's typed client cannot read the undecodable one:
			// watch it through the dynamic client.
			err = wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
				got, err := wfs.Get(ctx, name, metav1.GetOptions{})
				if err != nil {
					return false, nil
				}
				phase, _, _ := unstructured.NestedString(got.Object, "status", "phase")
				msg, _, _ := unstructured.NestedString(got.Object, "status", "message")
				if phase == string(v1alpha1.WorkflowFailed) {
					if !strings.Contains(msg, tt.want) {
						return false, fmt.Errorf("%s failed with %q, want it to name %q", name, msg, tt.want)
					}
					return true, nil
				}
				return false, nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		c.create(t, testwf.Chain(ns, "good", 2, testwf.Task(0, 0)))
		if got := c.wait(t, ns, "good", time.Minute); got.Status.Phase != v1alpha1.WorkflowSucceeded {
			t.Fatalf("good: %s %s", got.Status.Phase, got.Status.Message)
		}
	})

	t.Run("1000-node workflow", func(t *testing.T) {
		if os.Getenv(EnvLargeWorkflow) == "" {
			t.Skipf("set %s=1 to run (about a minute on 2 cores)", EnvLargeWorkflow)
		}
		sizes := map[bool]int{}
		for _, offload := range []bool{false, true} {
			ns := c.namespace(t, fmt.Sprint("large-offload-", offload))
			cfg := testConfig(t)
			cfg.Events.Sink = config.EventSinkLog
			cfg.KubeClient.QPS, cfg.KubeClient.Burst = 500, 500
			cfg.OffloadClosure = offload
			r := c.start(t, ns, cfg)
			wf := testwf.Layers(ns, "large", 10, 100, testwf.Task(0, 0))
			c.create(t, wf)
			got := c.wait(t, ns, "large", 10*time.Minute)
			if got.Status.Phase != v1alpha1.WorkflowSucceeded {
				t.Fatalf("offload %v: %s %s", offload, got.Status.Phase, got.Status.Message)
			}
			if (got.Spec.Closure == nil) != offload {
				t.Fatalf("offload %v: closure inline %v", offload, got.Spec.Closure != nil)
			}
			body, err := engine.EncodeWorkflow(got)
			if err != nil {
				t.Fatal(err)
			}
			sizes[offload] = len(body)
			req, _ := r.spans(t, "large")
			var largest int64
			for _, s := range spancheck.Spans(req.GetResourceSpans()) {
				if s.GetName() == telemetry.SpanWorkflowUpdate {
					for _, kv := range s.GetAttributes() {
						if kv.GetKey() == telemetry.AttrUpdateBytes {
							largest = max(largest, kv.GetValue().GetIntValue())
						}
					}
				}
			}
			t.Logf("1,000 nodes, offloadClosure=%v: Workflow object %d bytes (largest update %d bytes), wall %v",
				offload, len(body), largest, time.Duration(got.Status.FinishedAt-got.Status.StartedAt))
		}
		if sizes[true] >= 256<<10 || sizes[true] >= sizes[false] {
			t.Fatalf("offloaded object %d bytes, inline %d: want the offloaded one under 256 KiB and smaller", sizes[true], sizes[false])
		}
	})
}

// closureTask is the closure's task "t" of a Workflow as a JSON object.
func closureTask(obj map[string]any) map[string]any {
	return obj["spec"].(map[string]any)["closure"].(map[string]any)["tasks"].(map[string]any)["t"].(map[string]any)
}

// crossCheck compares one controller's metrics with the spans of the only
// execution it ran, as the harness does with metric deltas: every counted
// operation has its span and every span its count.
func crossCheck(t *testing.T, fams map[string]*dto.MetricFamily, spans []*tracepb.Span) {
	t.Helper()
	count := func(name, key, value string) float64 {
		n := 0
		for _, s := range spans {
			if s.GetName() != name {
				continue
			}
			if key == "" {
				n++
				continue
			}
			for _, kv := range s.GetAttributes() {
				if kv.GetKey() == key && kv.GetValue().GetStringValue() == value {
					n++
				}
			}
		}
		return float64(n)
	}
	labelled := func(name, label, value string) float64 {
		var v float64
		for _, m := range fams[name].GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					if m.GetHistogram() != nil {
						v += float64(m.GetHistogram().GetSampleCount())
					} else {
						v += m.GetCounter().GetValue()
					}
				}
			}
		}
		return v
	}
	for _, c := range []struct {
		what          string
		spans, metric float64
	}{
		{"pod creates", count(telemetry.SpanPodCreate, "", ""), counter(fams, telemetry.MetricPodCreate)},
		{"CRD updates", count(telemetry.SpanWorkflowUpdate, "", ""), counter(fams, telemetry.MetricWorkflowUpdate)},
		{"rounds", count(telemetry.SpanRound, "", ""), counter(fams, telemetry.MetricRounds)},
		{"workflow creates", count(telemetry.SpanWorkflowCreate, "", ""), counter(fams, telemetry.MetricWorkflowCreate)},
		{"blob reads", count(telemetry.SpanBlobRead, "", ""), labelled(telemetry.MetricBlobOperation, telemetry.LabelOp, "read")},
		{"blob writes", count(telemetry.SpanBlobWrite, "", ""), labelled(telemetry.MetricBlobOperation, telemetry.LabelOp, "write")},
		{"catalog gets", count(telemetry.SpanCatalogGet, "", ""), labelled(telemetry.MetricCatalogOperation, telemetry.LabelOp, "get")},
		{"catalog puts", count(telemetry.SpanCatalogPut, "", ""), labelled(telemetry.MetricCatalogOperation, telemetry.LabelOp, "put")},
		{"workflow events", count(telemetry.SpanEventRecord, telemetry.AttrEventKind, "workflow"), labelled(telemetry.MetricEventRecord, telemetry.LabelKind, "workflow")},
		{"node events", count(telemetry.SpanEventRecord, telemetry.AttrEventKind, "node"), labelled(telemetry.MetricEventRecord, telemetry.LabelKind, "node")},
		{"task events", count(telemetry.SpanEventRecord, telemetry.AttrEventKind, "task"), labelled(telemetry.MetricEventRecord, telemetry.LabelKind, "task")},
	} {
		if c.spans != c.metric {
			t.Errorf("%s: %v spans, metric %v", c.what, c.spans, c.metric)
		}
	}
}
