package engine

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/benchctl/benchctl/controller/api/v1alpha1"
	"github.com/benchctl/benchctl/controller/config"
	"github.com/benchctl/benchctl/controller/internal/spancheck"
	"github.com/benchctl/benchctl/controller/internal/testwf"
)

func create(t *testing.T, wfs *fakeWorkflows, wf *v1alpha1.Workflow) {
	t.Helper()
	if _, err := wfs.Create(context.Background(), wf); err != nil {
		t.Fatal(err)
	}
}

func offloaded(wf *v1alpha1.Workflow) *v1alpha1.Workflow {
	yes := true
	wf.Spec.OffloadClosure = &yes
	return wf
}

func TestWorkflowShapes(t *testing.T) {
	task := testwf.Task(20*time.Millisecond, 100)
	failing := task
	failing.FailAttempts, failing.Retries = 1, 1
	tests := []struct {
		name      string
		wf        *v1alpha1.Workflow
		maxPar    int32
		wantPods  int
		check     func(t *testing.T, wf *v1alpha1.Workflow)
		spanCheck bool
		// launchConc overrides launchConcurrency when positive.
		launchConc int
	}{
		{name: "chain", wf: testwf.Chain("ns", "chain", 5, task), wantPods: 5, spanCheck: true},
		{name: "offloaded chain", wf: offloaded(testwf.Chain("ns", "off", 3, task)), wantPods: 3, spanCheck: true, check: func(t *testing.T, wf *v1alpha1.Workflow) {
			if wf.Spec.Closure != nil || wf.Spec.ClosureRef == "" {
				t.Fatalf("closure not offloaded: ref %q", wf.Spec.ClosureRef)
			}
		}},
		{name: "fan-out", wf: testwf.FanOut("ns", "fan", 8, task), wantPods: 8, maxPar: 3, spanCheck: true},
		{name: "map with retries", wf: testwf.Map("ns", "map", 40, 7, failing), wantPods: 80, check: mapRetried(40)},
		// Items launched one after another, as before launchConcurrency.
		{name: "map with retries, serial launches", wf: testwf.Map("ns", "map", 40, 7, failing), wantPods: 80, launchConc: 1, check: mapRetried(40)},
		{name: "fan-out launched 8 at a time", wf: testwf.FanOut("ns", "fan8", 20, task), wantPods: 20, launchConc: 8, spanCheck: true},
		{name: "fan-out launched one at a time", wf: testwf.FanOut("ns", "fan1", 20, task), wantPods: 20, launchConc: 1, maxPar: 7, spanCheck: true},
		{name: "layers launched 8 at a time", wf: testwf.Layers("ns", "dag8", 3, 10, task), wantPods: 30, launchConc: 8, maxPar: 12, spanCheck: true},
		{name: "map launched 8 at a time", wf: testwf.Map("ns", "map8", 60, 0, task), wantPods: 60, launchConc: 8, spanCheck: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kube := fake.NewClientset()
			wfs := newFakeWorkflows(0)
			cfg := testConfig()
			cfg.MaxParallelism = tt.maxPar
			if tt.launchConc > 0 {
				cfg.LaunchConcurrency = tt.launchConc
			}
			h := newHarness(t, cfg, kube, wfs)
			kl := startFakeKubelet(t.Context(), t, kube, "ns")
			create(t, wfs, tt.wf)
			wf := h.wait(tt.wf.Name, 20*time.Second)
			if wf.Status.Phase != v1alpha1.WorkflowSucceeded {
				t.Fatalf("phase %s: %s", wf.Status.Phase, wf.Status.Message)
			}
			if total, dup := kl.creates(); total != tt.wantPods || len(dup) > 0 {
				t.Fatalf("pods created %d (duplicates %v), want %d", total, dup, tt.wantPods)
			}
			if tt.maxPar > 0 && kl.maxRunning > int(tt.maxPar) {
				t.Fatalf("%d pods ran at once, maxParallelism %d", kl.maxRunning, tt.maxPar)
			}
			for id, st := range wf.Status.Nodes {
				if st.Phase != v1alpha1.NodeSucceeded {
					t.Fatalf("node %s: %s", id, st.Phase)
				}
				if tt.wf.Spec.Closure.Primary.Nodes[id].Kind == v1alpha1.NodeKindTask && (st.Launched == 0 || st.Started == 0 || st.Finished < st.Started) {
					t.Fatalf("node %s instants: %+v", id, st)
				}
			}
			if tt.check != nil {
				tt.check(t, wf)
			}
			if tt.spanCheck {
				h.stop() // flushes the spans
				req, dropped, ok := h.tracing.Store.Get(tt.wf.Name)
				if !ok || dropped != 0 {
					t.Fatalf("spans: ok %v dropped %d", ok, dropped)
				}
				res, err := spancheck.Check(spancheck.Spans(req.GetResourceSpans()), tt.wf.Name, tt.wf.Spec.Closure)
				if err != nil {
					t.Fatal(err)
				}
				seen := 0
				for id, a := range res.Attempts {
					st := wf.Status.Nodes[id]
					if a.Started != st.Started || a.Finished != st.Finished || a.Launched != st.Launched {
						t.Fatalf("node %s: spans %+v disagree with status %+v", id, a, st)
					}
					if a.Seen > 0 {
						seen++
						if a.Seen < a.Finished {
							t.Fatalf("node %s: the pod's end was seen %v before it finished", id, time.Duration(a.Finished-a.Seen))
						}
					}
				}
				// The informer delivers every end here (no restart).
				if len(res.Attempts) > 0 && seen == 0 {
					t.Fatalf("no attempt carries %s", "pod.end.seen")
				}
			}
		})
	}
}

// mapRetried checks a map of n items whose every item succeeded on its
// second attempt.
func mapRetried(n int) func(t *testing.T, wf *v1alpha1.Workflow) {
	return func(t *testing.T, wf *v1alpha1.Workflow) {
		ms := wf.Status.Nodes["m"].Map
		if ms.Items != strings.Repeat("S", n) {
			t.Fatalf("items = %q", ms.Items)
		}
		if r := parseRetried(ms.Retried); len(r) != n || r[n-1] != 2 {
			t.Fatalf("retried = %q", ms.Retried)
		}
	}
}

// TestLaunchAll checks the bounded concurrent launcher: never more than
// launchConcurrency at once, every launch once when none fails, in order
// when the limit is 1, and no launch started after one has failed beyond
// those already under way.
func TestLaunchAll(t *testing.T) {
	tests := []struct {
		name     string
		limit, n int
		failAt   int // -1: none fails
	}{
		{"none", 4, 0, -1},
		{"one", 4, 1, -1},
		{"serial", 1, 20, -1},
		{"concurrent", 4, 50, -1},
		{"serial stops at the failure", 1, 20, 5},
		{"concurrent stops dispatching", 4, 400, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &Engine{cfg: config.Config{LaunchConcurrency: tt.limit}}
			var (
				mu              sync.Mutex
				order           []int
				inFlight, maxIn int
			)
			e.launchAll(context.Background(), tt.n, func(_ context.Context, k int) error {
				mu.Lock()
				order = append(order, k)
				inFlight++
				maxIn = max(maxIn, inFlight)
				mu.Unlock()
				time.Sleep(time.Millisecond) // let launches overlap
				mu.Lock()
				inFlight--
				mu.Unlock()
				if k == tt.failAt {
					return fmt.Errorf("launch %d failed", k)
				}
				return nil
			})
			if maxIn > tt.limit {
				t.Fatalf("%d launches at once, limit %d", maxIn, tt.limit)
			}
			seen := map[int]bool{}
			for _, k := range order {
				if seen[k] {
					t.Fatalf("launch %d ran twice: %v", k, order)
				}
				seen[k] = true
			}
			switch {
			case tt.failAt < 0 && len(order) != tt.n:
				t.Fatalf("%d launches, want %d", len(order), tt.n)
			case tt.failAt >= 0 && tt.limit == 1 && len(order) != tt.failAt+1:
				t.Fatalf("%d serial launches after a failure at %d", len(order), tt.failAt)
			case tt.failAt >= 0 && tt.limit > 1 && (len(order) <= tt.failAt || len(order) > tt.n/4):
				// Launches under way when it failed may start a few more
				// (how many depends on scheduling), never the rest.
				t.Fatalf("%d of %d launches after a failure at %d with limit %d", len(order), tt.n, tt.failAt, tt.limit)
			}
			if tt.limit == 1 {
				for i, k := range order {
					if i != k {
						t.Fatalf("serial launches out of order: %v", order)
					}
				}
			}
		})
	}
}

func TestCachedChainRunsNoPodsTheSecondTime(t *testing.T) {
	kube := fake.NewClientset()
	wfs := newFakeWorkflows(0)
	h := newHarness(t, testConfig(), kube, wfs)
	kl := startFakeKubelet(t.Context(), t, kube, "ns")
	task := testwf.Task(10*time.Millisecond, 64)
	task.Cacheable = true
	create(t, wfs, testwf.Chain("ns", "first", 3, task))
	if wf := h.wait("first", 10*time.Second); wf.Status.Phase != v1alpha1.WorkflowSucceeded {
		t.Fatalf("first: %s %s", wf.Status.Phase, wf.Status.Message)
	}
	create(t, wfs, testwf.Chain("ns", "second", 3, task))
	wf := h.wait("second", 10*time.Second)
	if wf.Status.Phase != v1alpha1.WorkflowSucceeded {
		t.Fatalf("second: %s %s", wf.Status.Phase, wf.Status.Message)
	}
	if total, _ := kl.creates(); total != 3 {
		t.Fatalf("%d pods, want 3 (the second run must be served by the catalog)", total)
	}
	for i := range 3 {
		if st := wf.Status.Nodes[testwf.NodeID(i)]; !st.Cached || st.Attempts != 0 {
			t.Fatalf("node %d: %+v, want cached", i, st)
		}
	}
	if hits, misses := testutil.ToFloat64(h.metrics.CatalogHits), testutil.ToFloat64(h.metrics.CatalogMisses); hits != 3 || misses != 3 {
		t.Fatalf("hits %v misses %v, want 3 and 3", hits, misses)
	}
}

func TestRetriesAndFailure(t *testing.T) {
	tests := []struct {
		name            string
		failAttempts    int32
		retries         int32
		wantPhase       v1alpha1.WorkflowPhase
		wantAttempts    int32
		wantMsgContains string
	}{
		{"succeeds on the last retry", 2, 2, v1alpha1.WorkflowSucceeded, 3, ""},
		{"fails after retries", 3, 2, v1alpha1.WorkflowFailed, 3, "node n1: attempt 3 failed: container task exited with code 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kube := fake.NewClientset()
			wfs := newFakeWorkflows(0)
			h := newHarness(t, testConfig(), kube, wfs)
			kl := startFakeKubelet(t.Context(), t, kube, "ns")
			wf := testwf.Chain("ns", "retry", 1, testwf.Task(5*time.Millisecond, 0))
			// n1 fails; n0 is a plain task before it.
			tmpl := v1alpha1.NewTemplate()
			tmpl.AddNode("n0", v1alpha1.NodeSpec{Kind: v1alpha1.NodeKindTask, Task: "t"})
			tmpl.AddNode("n1", v1alpha1.NodeSpec{Kind: v1alpha1.NodeKindTask, Task: "bad"})
			tmpl.AddEdge(v1alpha1.StartNodeID, "n0")
			tmpl.AddEdge("n0", "n1")
			tmpl.AddEdge("n1", v1alpha1.EndNodeID)
			wf.Spec.Closure.Primary = tmpl
			bad := testwf.Task(5*time.Millisecond, 0)
			bad.FailAttempts, bad.Retries = tt.failAttempts, tt.retries
			wf.Spec.Closure.Tasks["bad"] = bad
			create(t, wfs, wf)
			got := h.wait("retry", 10*time.Second)
			if got.Status.Phase != tt.wantPhase {
				t.Fatalf("phase %s (%s), want %s", got.Status.Phase, got.Status.Message, tt.wantPhase)
			}
			if a := got.Status.Nodes["n1"].Attempts; a != tt.wantAttempts {
				t.Fatalf("attempts %d, want %d", a, tt.wantAttempts)
			}
			if total, dup := kl.creates(); total != 1+int(tt.wantAttempts) || len(dup) > 0 {
				t.Fatalf("pods %d (dups %v)", total, dup)
			}
			if !strings.Contains(got.Status.Message, tt.wantMsgContains) {
				t.Fatalf("message %q lacks %q", got.Status.Message, tt.wantMsgContains)
			}
		})
	}
}

func TestMapMinSuccessRatio(t *testing.T) {
	for _, tt := range []struct {
		ratio string
		want  v1alpha1.WorkflowPhase
	}{{"0", v1alpha1.WorkflowSucceeded}, {"0.5", v1alpha1.WorkflowFailed}} {
		t.Run(tt.ratio, func(t *testing.T) {
			kube := fake.NewClientset()
			wfs := newFakeWorkflows(0)
			h := newHarness(t, testConfig(), kube, wfs)
			startFakeKubelet(t.Context(), t, kube, "ns")
			task := testwf.Task(5*time.Millisecond, 0)
			task.FailAttempts = 1 // every item fails
			wf := testwf.Map("ns", "m", 10, 0, task)
			q := resource.MustParse(tt.ratio)
			n := wf.Spec.Closure.Primary.Nodes["m"]
			n.Map.MinSuccessRatio = &q
			wf.Spec.Closure.Primary.Nodes["m"] = n
			create(t, wfs, wf)
			if got := h.wait("m", 10*time.Second); got.Status.Phase != tt.want {
				t.Fatalf("phase %s (%s), want %s", got.Status.Phase, got.Status.Message, tt.want)
			}
		})
	}
}

func TestInvalidWorkflowFails(t *testing.T) {
	kube := fake.NewClientset()
	wfs := newFakeWorkflows(0)
	h := newHarness(t, testConfig(), kube, wfs)
	wf := testwf.Chain("ns", "bad", 2, testwf.Task(0, 0))
	wf.Spec.Closure.Primary.Nodes["n1"] = v1alpha1.NodeSpec{Kind: v1alpha1.NodeKindTask, Task: "missing"}
	create(t, wfs, wf)
	got := h.wait("bad", 5*time.Second)
	if got.Status.Phase != v1alpha1.WorkflowFailed || !strings.Contains(got.Status.Message, `no task "missing"`) {
		t.Fatalf("got %s %q", got.Status.Phase, got.Status.Message)
	}
}

func TestRestartCreatesEachPodOnce(t *testing.T) {
	kube := fake.NewClientset()
	wfs := newFakeWorkflows(0)
	cfg := testConfig()
	cfg.Blobstore.URL = "file://" + t.TempDir() + "?no_tmp_dir=1"
	first := newHarness(t, cfg, kube, wfs)
	kl := startFakeKubelet(t.Context(), t, kube, "ns")
	task := testwf.Task(30*time.Millisecond, 10)
	task.FailAttempts, task.Retries = 1, 1                            // two attempts per node
	create(t, wfs, offloaded(testwf.Chain("ns", "restart", 6, task))) // the second process reads the closure back
	deadline := time.Now().Add(10 * time.Second)
	for {
		wf, _ := wfs.Get(context.Background(), "ns", "restart")
		if wf.Status.Nodes["n2"].Phase == v1alpha1.NodeRunning {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("n2 never ran")
		}
		time.Sleep(time.Millisecond)
	}
	first.stop()
	second := newHarness(t, cfg, kube, wfs)
	wf := second.wait("restart", 20*time.Second)
	if wf.Status.Phase != v1alpha1.WorkflowSucceeded {
		t.Fatalf("phase %s: %s", wf.Status.Phase, wf.Status.Message)
	}
	if total, dup := kl.creates(); total != 12 || len(dup) > 0 {
		t.Fatalf("%d pods created (duplicates %v), want 12: one per attempt", total, dup)
	}
}

// histogramOf reads a histogram's count and sum.
func histogramOf(t *testing.T, c interface{ Write(*dto.Metric) error }) (uint64, float64) {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount(), m.GetHistogram().GetSampleSum()
}

func TestStreakLength(t *testing.T) {
	rounds := map[int]float64{}
	for _, streak := range []int{1, 8} {
		t.Run(fmt.Sprint(streak), func(t *testing.T) {
			kube := fake.NewClientset()
			wfs := newFakeWorkflows(0)
			cfg := testConfig()
			cfg.MaxStreakLength = streak
			h := newHarness(t, cfg, kube, wfs)
			startFakeKubelet(t.Context(), t, kube, "ns")
			create(t, wfs, testwf.Chain("ns", "chain", 10, testwf.Task(5*time.Millisecond, 0)))
			if wf := h.wait("chain", 10*time.Second); wf.Status.Phase != v1alpha1.WorkflowSucceeded {
				t.Fatal(wf.Status.Message)
			}
			count, sum := histogramOf(t, h.metrics.StreakLength)
			rounds[streak] = testutil.ToFloat64(h.metrics.Rounds)
			t.Logf("maxStreakLength %d: %d streaks, %v rounds (%v per streak)", streak, count, sum, sum/float64(count))
			if streak == 1 && sum != float64(count) {
				t.Fatalf("streaks longer than 1: %v rounds in %d streaks", sum, count)
			}
			if streak == 8 && sum <= float64(count) {
				t.Fatalf("no streak ran more than one round: %v rounds in %d streaks", sum, count)
			}
		})
	}
}

func TestStorePolicyConflicts(t *testing.T) {
	// A watch that lags 20ms behind writes makes informer copies stale.
	conflicts := map[config.StorePolicy]int64{}
	for _, policy := range []config.StorePolicy{config.StorePassThrough, config.StoreResourceVersionCache, config.StoreInMemory} {
		t.Run(string(policy), func(t *testing.T) {
			kube := fake.NewClientset()
			wfs := newFakeWorkflows(20 * time.Millisecond)
			cfg := testConfig()
			cfg.WorkflowStore = policy
			cfg.MaxStreakLength = 1
			h := newHarness(t, cfg, kube, wfs)
			startFakeKubelet(t.Context(), t, kube, "ns")
			for i := range 4 {
				create(t, wfs, testwf.FanOut("ns", fmt.Sprint("w", i), 6, testwf.Task(2*time.Millisecond, 0)))
			}
			for i := range 4 {
				if wf := h.wait(fmt.Sprint("w", i), 20*time.Second); wf.Status.Phase != v1alpha1.WorkflowSucceeded {
					t.Fatal(wf.Status.Message)
				}
			}
			conflicts[policy] = wfs.conflicts.Load()
			t.Logf("%s: %d updates, %d conflicts (metric %v)", policy, wfs.updates.Load(), wfs.conflicts.Load(), testutil.ToFloat64(h.metrics.UpdateConflicts))
		})
	}
	if conflicts[config.StoreResourceVersionCache] >= conflicts[config.StorePassThrough] {
		t.Fatalf("ResourceVersionCache had %d conflicts, PassThrough %d: want fewer", conflicts[config.StoreResourceVersionCache], conflicts[config.StorePassThrough])
	}
}

func TestPodName(t *testing.T) {
	long := strings.Repeat("x", 70)
	tests := []struct {
		wf, node string
		item     int
		attempt  int32
		want     string
	}{
		{"wf", "n0", -1, 1, "wf-n0-1"},
		{"wf", "m", 12, 2, "wf-m-12-2"},
	}
	for _, tt := range tests {
		if got := PodName(tt.wf, tt.node, tt.item, tt.attempt); got != tt.want {
			t.Errorf("PodName(%q, %q, %d, %d) = %q, want %q", tt.wf, tt.node, tt.item, tt.attempt, got, tt.want)
		}
	}
	seen := map[string]bool{}
	for _, in := range [][2]string{{"wf", "a_b"}, {"wf", "a-b"}, {"wf", "A/b"}, {long, "n0"}, {long, "n1"}, {"wf.x", "d0/n1"}} {
		n := PodName(in[0], in[1], -1, 1)
		if len(n) > 63 || sanitize(n) != n || seen[n] {
			t.Errorf("PodName(%q, %q) = %q: invalid or duplicate", in[0], in[1], n)
		}
		seen[n] = true
		if again := PodName(in[0], in[1], -1, 1); again != n {
			t.Errorf("not deterministic: %q vs %q", n, again)
		}
	}
}

func TestRetriedRoundTrip(t *testing.T) {
	m := map[int]int32{10: 2, 3: 3}
	if s := formatRetried(m); s != "3:3,10:2" {
		t.Fatalf("format = %q", s)
	}
	if got := parseRetried("3:3,10:2"); len(got) != 2 || got[10] != 2 {
		t.Fatalf("parse = %v", got)
	}
}

var _ = metav1.Now
