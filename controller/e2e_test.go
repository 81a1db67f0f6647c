package controller_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/benchctl/benchctl/controller/api/telemetry"
	"github.com/benchctl/benchctl/controller/api/v1alpha1"
	"github.com/benchctl/benchctl/controller/config"
	"github.com/benchctl/benchctl/controller/engine"
	"github.com/benchctl/benchctl/controller/internal/spancheck"
	"github.com/benchctl/benchctl/controller/internal/testwf"
)

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

// EnvLargeMap runs the 10,000-item map test.
const EnvLargeMap = "BENCHCTL_LARGE_MAP"

// TestLocalCluster runs the controller in-process against one local
// cluster (real etcd, kube-apiserver, scheduler, controller-manager, KWOK);
// each subtest has its own namespace and controller.
func TestLocalCluster(t *testing.T) {
	c := startCluster(t)

	t.Run("shapes", func(t *testing.T) {
		ns := c.namespace(t, "shapes")
		r := c.start(t, ns, testConfig(t))
		task := testwf.Task(100*time.Millisecond, 1024)
		for _, tt := range []struct {
			wf   *v1alpha1.Workflow
			pods int
		}{
			{testwf.Chain(ns, "chain", 5, task), 5},
			{testwf.FanOut(ns, "fan-out", 10, task), 10},
			{testwf.Map(ns, "map", 50, 10, task), 50},
		} {
			c.create(t, tt.wf)
			wf := c.wait(t, ns, tt.wf.Name, 2*time.Minute)
			if wf.Status.Phase != v1alpha1.WorkflowSucceeded {
				t.Fatalf("%s: %s %s", tt.wf.Name, wf.Status.Phase, wf.Status.Message)
			}
			if got := len(c.pods(t, ns, tt.wf.Name)); got != tt.pods {
				t.Fatalf("%s: %d pods, want %d", tt.wf.Name, got, tt.pods)
			}
			t.Logf("%s: %v wall", tt.wf.Name, time.Duration(wf.Status.FinishedAt-wf.Status.StartedAt))
		}
		_ = r
	})

	t.Run("cached chain twice", func(t *testing.T) {
		ns := c.namespace(t, "cached")
		c.start(t, ns, testConfig(t))
		task := testwf.Task(50*time.Millisecond, 256)
		task.Cacheable = true
		for i, name := range []string{"first", "second"} {
			c.create(t, testwf.Chain(ns, name, 4, task))
			wf := c.wait(t, ns, name, time.Minute)
			if wf.Status.Phase != v1alpha1.WorkflowSucceeded {
				t.Fatalf("%s: %s %s", name, wf.Status.Phase, wf.Status.Message)
			}
			wantPods := 4
			if i == 1 {
				wantPods = 0
				for id, st := range wf.Status.Nodes {
					if strings.HasPrefix(id, "n") && !st.Cached {
						t.Fatalf("second run: node %s not served by the catalog", id)
					}
				}
			}
			if got := len(c.pods(t, ns, name)); got != wantPods {
				t.Fatalf("%s: %d pods, want %d", name, got, wantPods)
			}
		}
	})

	t.Run("restart mid-workflow", func(t *testing.T) {
		ns := c.namespace(t, "restart")
		cfg := testConfig(t) // one blobstore for both processes
		first := c.start(t, ns, cfg)
		task := testwf.Task(300*time.Millisecond, 64)
		task.FailAttempts, task.Retries = 1, 1 // two attempts per node
		c.create(t, testwf.Chain(ns, "chain", 6, task))
		deadline := time.Now().Add(time.Minute)
		for {
			wf, err := c.wfs.Get(context.Background(), ns, "chain")
			if err == nil && wf.Status.Nodes["n2"].Phase == v1alpha1.NodeRunning {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("n2 never ran")
			}
			time.Sleep(5 * time.Millisecond)
		}
		first.stop(t) // the controller dies mid-workflow
		c.start(t, ns, cfg)
		wf := c.wait(t, ns, "chain", 2*time.Minute)
		if wf.Status.Phase != v1alpha1.WorkflowSucceeded {
			t.Fatalf("%s %s", wf.Status.Phase, wf.Status.Message)
		}
		perAttempt := map[string]int{}
		for _, p := range c.pods(t, ns, "chain") {
			perAttempt[p.Labels[v1alpha1.LabelNode]+"/"+p.Labels[v1alpha1.LabelAttempt]]++
		}
		if len(perAttempt) != 12 {
			t.Fatalf("pods for %d node attempts, want 12: %v", len(perAttempt), perAttempt)
		}
		for k, n := range perAttempt {
			if n != 1 {
				t.Fatalf("%d pods for attempt %s", n, k)
			}
		}
	})

	t.Run("spans and metrics", func(t *testing.T) {
		ns := c.namespace(t, "spans")
		r := c.start(t, ns, testConfig(t))
		wf := testwf.Chain(ns, "traced", 5, testwf.Task(100*time.Millisecond, 4096))
		wf.Spec.ExecutionID = "exec-traced"
		c.create(t, wf)
		got := c.wait(t, ns, "traced", time.Minute)
		if got.Status.Phase != v1alpha1.WorkflowSucceeded {
			t.Fatalf("%s %s", got.Status.Phase, got.Status.Message)
		}
		req, dropped := r.spans(t, "exec-traced")
		if dropped != "0" {
			t.Fatalf("dropped spans header %q", dropped)
		}
		res, err := spancheck.Check(spancheck.Spans(req.GetResourceSpans()), "exec-traced", wf.Spec.Closure)
		if err != nil {
			t.Fatal(err)
		}
		for id, a := range res.Attempts {
			st := got.Status.Nodes[id]
			if a.Started != st.Started || a.Finished != st.Finished || a.Launched != st.Launched {
				t.Fatalf("node %s: spans %+v disagree with status %+v", id, a, st)
			}
			if d := time.Duration(a.User); d < 100*time.Millisecond || d > 150*time.Millisecond {
				t.Fatalf("node %s: user time %v, want about the 100ms duration", id, d)
			}
			t.Logf("%s: user %v kubernetes %v controller %v", id, time.Duration(a.User), time.Duration(a.Kubernetes), time.Duration(a.Controller))
		}
		t.Logf("spans: %v; %d rounds in %d handles", res.Counts, res.Rounds, res.Handles)
		for _, name := range []string{telemetry.SpanPodCreate, telemetry.SpanBlobRead, telemetry.SpanBlobWrite, telemetry.SpanEventRecord, telemetry.SpanCatalogGet} {
			if name == telemetry.SpanCatalogGet {
				continue // the task is not cacheable
			}
			if res.Counts[name] == 0 {
				t.Errorf("no %s span", name)
			}
		}

		fams := r.metrics(t)
		for _, name := range []string{
			telemetry.MetricRoundDuration, telemetry.MetricRounds, telemetry.MetricStreakLength, telemetry.MetricWorkersFree,
			telemetry.MetricQueueDepth, telemetry.MetricWorkflowUpdate, telemetry.MetricUpdateConflicts, telemetry.MetricUpdateTooLarge,
			telemetry.MetricEventRecord, telemetry.MetricEventsDropped, telemetry.MetricBlobOperation, telemetry.MetricCatalogOperation,
			telemetry.MetricCatalogHits, telemetry.MetricCatalogMisses, telemetry.MetricPodCreate, telemetry.MetricSpansDropped,
			telemetry.MetricNodeTransitions,
		} {
			if fams[name] == nil {
				t.Errorf("metric %s missing from /metrics", name)
			}
		}
		// Spans and metrics count the same things.
		if pods := counter(fams, telemetry.MetricPodCreate); pods != float64(res.Counts[telemetry.SpanPodCreate]) {
			t.Errorf("pod creates: metric %v, spans %d", pods, res.Counts[telemetry.SpanPodCreate])
		}
		if rounds := counter(fams, telemetry.MetricRounds); rounds != float64(res.Rounds) {
			t.Errorf("rounds: metric %v, spans %d", rounds, res.Rounds)
		}

		// The kube event sink recorded workflow, node and task events.
		evs, err := c.kube.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var aboutWorkflow int
		for _, e := range evs.Items {
			if e.InvolvedObject.Kind == "Workflow" && e.InvolvedObject.Name == "traced" {
				aboutWorkflow++
			}
		}
		if recorded := counter(fams, telemetry.MetricEventRecord); aboutWorkflow == 0 || float64(aboutWorkflow) != recorded {
			t.Errorf("%d Events about the workflow, %v recorded by the controller", aboutWorkflow, recorded)
		}
		if res.Counts[telemetry.SpanEventRecord] != aboutWorkflow {
			t.Errorf("%d event.record spans, %d Events", res.Counts[telemetry.SpanEventRecord], aboutWorkflow)
		}

		for _, path := range []string{telemetry.PathConfig, telemetry.PathVersion, telemetry.PathHealthz} {
			if code, body := r.get(t, path); code != http.StatusOK || len(body) == 0 {
				t.Errorf("GET %s: %d", path, code)
			}
		}
		_, body := r.get(t, telemetry.PathConfig)
		if _, err := config.Parse("/v1/config", body); err != nil {
			t.Errorf("served config does not load: %v", err)
		}
	})

	t.Run("leader election", func(t *testing.T) {
		ns := c.namespace(t, "elected")
		cfg := testConfig(t)
		cfg.LeaderElection.Enabled = true
		cfg.LeaderElection.LeaseDuration = config.Duration(4 * time.Second)
		cfg.LeaderElection.RenewDeadline = config.Duration(3 * time.Second)
		cfg.LeaderElection.RetryPeriod = config.Duration(500 * time.Millisecond)
		c.start(t, ns, cfg)
		c.create(t, testwf.Chain(ns, "chain", 2, testwf.Task(10*time.Millisecond, 0)))
		if wf := c.wait(t, ns, "chain", time.Minute); wf.Status.Phase != v1alpha1.WorkflowSucceeded {
			t.Fatalf("%s %s", wf.Status.Phase, wf.Status.Message)
		}
		lease, err := c.kube.CoordinationV1().Leases(ns).Get(context.Background(), cfg.LeaderElection.LeaseName, metav1.GetOptions{})
		if err != nil || lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity == "" {
			t.Fatalf("lease %v: %+v", err, lease)
		}
	})

	t.Run("streak length", func(t *testing.T) {
		rounds := map[int][2]float64{}
		for _, streak := range []int{1, 8} {
			ns := c.namespace(t, fmt.Sprint("streak-", streak))
			cfg := testConfig(t)
			cfg.MaxStreakLength = streak
			r := c.start(t, ns, cfg)
			c.create(t, testwf.Chain(ns, "chain", 10, testwf.Task(0, 0)))
			if wf := c.wait(t, ns, "chain", time.Minute); wf.Status.Phase != v1alpha1.WorkflowSucceeded {
				t.Fatalf("%s %s", wf.Status.Phase, wf.Status.Message)
			}
			fams := r.metrics(t)
			h := fams[telemetry.MetricStreakLength].GetMetric()[0].GetHistogram()
			rounds[streak] = [2]float64{counter(fams, telemetry.MetricRounds), float64(h.GetSampleCount())}
			t.Logf("maxStreakLength %d: %v rounds in %d streaks", streak, counter(fams, telemetry.MetricRounds), h.GetSampleCount())
			if streak == 1 && h.GetSampleSum() != float64(h.GetSampleCount()) {
				t.Fatalf("streaks longer than 1 round with maxStreakLength 1")
			}
		}
		if rounds[1] == rounds[8] {
			t.Fatalf("maxStreakLength 1 and 8 gave the same rounds and streaks: %v", rounds[1])
		}
		if rounds[8][0] <= rounds[8][1] {
			t.Fatalf("maxStreakLength 8: %v rounds in %v streaks, want some streak longer than 1", rounds[8][0], rounds[8][1])
		}
	})

	t.Run("store policies under load", func(t *testing.T) {
		conflicts := map[config.StorePolicy]float64{}
		for _, policy := range []config.StorePolicy{config.StorePassThrough, config.StoreResourceVersionCache} {
			ns := c.namespace(t, "store-"+strings.ToLower(string(policy)))
			cfg := testConfig(t)
			cfg.WorkflowStore = policy
			cfg.MaxStreakLength = 1
			cfg.MaxParallelism = 0
			cfg.Events.Sink = config.EventSinkNone
			r := c.start(t, ns, cfg)
			for i := range 8 {
				c.create(t, testwf.FanOut(ns, fmt.Sprint("w", i), 20, testwf.Task(0, 0)))
			}
			for i := range 8 {
				if wf := c.wait(t, ns, fmt.Sprint("w", i), 2*time.Minute); wf.Status.Phase != v1alpha1.WorkflowSucceeded {
					t.Fatalf("%s %s", wf.Status.Phase, wf.Status.Message)
				}
			}
			fams := r.metrics(t)
			conflicts[policy] = counter(fams, telemetry.MetricUpdateConflicts)
			t.Logf("%s: %v updates, %v conflicts", policy, counter(fams, telemetry.MetricWorkflowUpdate), conflicts[policy])
		}
		if conflicts[config.StoreResourceVersionCache] >= conflicts[config.StorePassThrough] {
			t.Fatalf("ResourceVersionCache %v conflicts, PassThrough %v: want fewer", conflicts[config.StoreResourceVersionCache], conflicts[config.StorePassThrough])
		}
	})

	t.Run("10000-item map", func(t *testing.T) {
		if os.Getenv(EnvLargeMap) == "" {
			t.Skipf("set %s=1 to run (takes minutes on 2 cores)", EnvLargeMap)
		}
		ns := c.namespace(t, "large-map")
		c.start(t, ns, largeMapConfig(t))
		start := time.Now()
		c.create(t, largeMap(ns, "big"))
		wf := c.wait(t, ns, "big", 30*time.Minute)
		if wf.Status.Phase != v1alpha1.WorkflowSucceeded {
			t.Fatalf("%s %s", wf.Status.Phase, wf.Status.Message)
		}
		body, err := engine.EncodeWorkflow(wf)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("10,000-item map: %v, Workflow object %d bytes", time.Since(start), len(body))
		if len(body) >= 1<<20 {
			t.Fatalf("Workflow object is %d bytes, want under 1 MiB", len(body))
		}
		if got := strings.Count(wf.Status.Nodes["m"].Map.Items, "S"); got != 10000 {
			t.Fatalf("%d items succeeded", got)
		}
	})

	kindsSubtests(t, c)
}
