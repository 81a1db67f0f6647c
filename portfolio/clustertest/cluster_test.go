// Package clustertest runs the portfolio runner against a real local
// cluster (etcd + kube-apiserver + KWOK): the CRD's schema, watches that
// start at a resourceVersion, field selectors and deletion are the real
// ones. The controller is stood in for by a small completer, so these
// tests check the runner, not the controller.
package clustertest

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensions "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/benchctl/benchctl/controller/api/v1alpha1"
	"github.com/benchctl/benchctl/portfolio"
	"github.com/benchctl/benchctl/portfolio/rundir"
	"github.com/benchctl/benchctl/provision/local/localtest"
)

const crdFile = "../../controller/chart/crds/flow.benchctl.dev_workflows.yaml"

func setup(t *testing.T) (client.WithWatch, string) {
	t.Helper()
	cluster := localtest.Start(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := os.ReadFile(crdFile)
	if err != nil {
		t.Fatal(err)
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(b, &crd); err != nil {
		t.Fatal(err)
	}
	ax, err := apiextensions.NewForConfig(cluster.RESTConfig)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ax.ApiextensionsV1().CustomResourceDefinitions().Create(ctx, &crd, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		got, err := ax.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, crd.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
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
	c, err := portfolio.NewClient(cluster.RESTConfig)
	if err != nil {
		t.Fatal(err)
	}
	const ns = "bench"
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	return c, ns
}

// completer stands in for the controller: for each new Workflow it creates
// one zero-length task pod (KWOK completes it), then marks the Workflow
// Succeeded. onCreate may veto (and cancel) the n-th one.
type completer struct {
	c        client.WithWatch
	ns       string
	mu       sync.Mutex
	seen     []string
	onCreate func(n int) bool
}

func (k *completer) start(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	w, err := k.c.Watch(ctx, &v1alpha1.WorkflowList{}, client.InNamespace(k.ns))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); w.Stop(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ev := range w.ResultChan() {
			wf, ok := ev.Object.(*v1alpha1.Workflow)
			if !ok || ev.Type != watch.Added || wf.Status.Phase != "" {
				continue
			}
			k.mu.Lock()
			n := len(k.seen)
			k.seen = append(k.seen, wf.Name)
			veto := k.onCreate != nil && !k.onCreate(n)
			k.mu.Unlock()
			if veto {
				continue
			}
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Namespace: k.ns, Name: wf.Name + "-n0",
					Labels:      map[string]string{v1alpha1.LabelWorkflow: wf.Name},
					Annotations: map[string]string{v1alpha1.AnnotationDuration: "0s"}},
				Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "task", Image: "benchtask"}}},
			}
			if err := k.c.Create(ctx, pod); err != nil && ctx.Err() == nil {
				t.Errorf("create pod: %v", err)
			}
			cur := wf.DeepCopy()
			cur.Status.Phase = v1alpha1.WorkflowSucceeded
			cur.Status.FinishedAt = time.Now().UnixNano()
			if err := k.c.Update(ctx, cur); err != nil && ctx.Err() == nil {
				t.Errorf("update %s: %v", wf.Name, err)
			}
		}
	}()
}

func TestRunnerOnLocalCluster(t *testing.T) {
	c, ns := setup(t)
	p, err := portfolio.Load()
	if err != nil {
		t.Fatal(err)
	}

	// Every compiled workflow of every tier is accepted by the CRD's schema
	// (dry run: validated and admitted, not stored).
	for _, tier := range p.Tiers() {
		comp, err := p.Compile(tier)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range comp.Workflows {
			obj := w.NewExecution(ns, w.Name+"-dryrun", nil)
			if err := c.Create(context.Background(), obj, client.DryRunAll); err != nil {
				t.Errorf("tier %s: %s rejected: %v", tier, w.Name, err)
			}
		}
	}

	smoke, err := p.Compile(portfolio.TierSmoke)
	if err != nil {
		t.Fatal(err)
	}
	one, zero := 1, 0
	if err := smoke.Override(portfolio.Overrides{Repetitions: &one, Warmup: &zero}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	k := &completer{c: c, ns: ns, onCreate: func(n int) bool {
		if n == 4 {
			cancel()
			return false
		}
		return true
	}}
	k.start(t)
	dir := rundir.Open(t.TempDir())
	targets := []portfolio.Target{{Name: "default", Namespace: ns, Client: c}}
	opts := portfolio.Options{CleanupTimeout: 30 * time.Second}
	m := &rundir.Manifest{RunID: "clustertest", Portfolio: rundir.PortfolioRef{Name: smoke.Name, Tier: smoke.Tier, Hash: smoke.Hash},
		Workflows: smoke.Planned(), Plan: portfolio.Plan(smoke, []string{"default"}),
		Targets: []rundir.Target{{Name: "default", Namespace: ns}}, Started: time.Now().UnixNano()}
	if err := dir.Create(m, smoke); err != nil {
		t.Fatal(err)
	}
	run, err := portfolio.Execute(ctx, dir, m, smoke, targets, opts)
	if !errors.Is(err, context.Canceled) || len(run.Records) != 4 {
		t.Fatalf("interrupted run: err %v, %d records", err, len(run.Records))
	}
	k.mu.Lock()
	k.onCreate = nil
	k.mu.Unlock()
	run, err = portfolio.Execute(context.Background(), dir, m, smoke, targets, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !run.Complete() || len(run.Records) != len(smoke.Workflows) {
		t.Fatalf("resumed run: %d records of %d", len(run.Records), len(smoke.Workflows))
	}
	var prev int64
	for _, r := range run.Records {
		if !r.Succeeded() || r.Created <= prev || r.Observed < r.Created || r.Final.Status.Phase != v1alpha1.WorkflowSucceeded {
			t.Errorf("%s: succeeded %v created %d observed %d (previous created %d) error %q", r.Workflow, r.Succeeded(), r.Created, r.Observed, prev, r.Error)
		}
		prev = r.Created
	}
	if len(k.seen) != len(smoke.Workflows)+1 {
		t.Errorf("%d workflows created, want %d (one redone)", len(k.seen), len(smoke.Workflows)+1)
	}
	// Cleanup left nothing when the run returned: Workflows are gone, and
	// so are their pods (their deletion must not overlap the next
	// execution).
	var wfs v1alpha1.WorkflowList
	if err := c.List(context.Background(), &wfs, client.InNamespace(ns)); err != nil || len(wfs.Items) != 0 {
		t.Errorf("workflows left: %d (%v)", len(wfs.Items), err)
	}
	var pods corev1.PodList
	if err := c.List(context.Background(), &pods, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		t.Errorf("pod left: %s (%s)", p.Name, p.Status.Phase)
	}
}
