package controller_test

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/benchctl/benchctl/controller/api/v1alpha1"
	"github.com/benchctl/benchctl/controller/config"
	"github.com/benchctl/benchctl/controller/internal/spancheck"
	"github.com/benchctl/benchctl/controller/internal/testwf"
)

// BenchmarkSerialNodeOverhead measures the controller's overhead per serial
// node transition on the local cluster: each op runs a chain of 100
// zero-length tasks, and the controller time of every node is
// reconstructed from the spans exactly as the harness does
// ((launched-ready) + (done-finished)). Reported per node, averaged over
// the chain: ctrl-ms/node (the figure of merit), kube-ms/node
// (started-launched) and wall-ms/node (workflow wall time / 100). Run with
// -benchtime=1x -count=5 and take the median.
//
// Sub-benchmarks: closure=inline keeps the 100-node spec in the Workflow
// object, which every round rewrites; closure=offloaded moves it to the
// blobstore (offloadClosure), so each update writes only the status.
//
// rounds=greedy is the default (greedyRounds: a success and the launches
// it unblocks are persisted by one update); rounds=persisted-first launches
// a node only after the update that persisted its upstream's success.
func BenchmarkSerialNodeOverhead(b *testing.B) {
	c := startCluster(b)
	for _, greedy := range []bool{true, false} {
		for _, offload := range []bool{false, true} {
			name := "rounds=greedy"
			if !greedy {
				name = "rounds=persisted-first"
			}
			name += "/closure=inline"
			if offload {
				name = strings.Replace(name, "inline", "offloaded", 1)
			}
			b.Run(name, func(b *testing.B) { benchSerialOn(b, c, greedy, offload) })
		}
	}
}

func benchSerialOn(b *testing.B, c *cluster, greedy, offload bool) {
	const nodes = 100
	ns := c.namespace(b, fmt.Sprintf("bench-%d", time.Now().UnixNano()))
	cfg := testConfig(b)
	cfg.Events.Sink = "log" // the default sink: debug-level log lines
	cfg.OffloadClosure = offload
	cfg.GreedyRounds = greedy
	r := c.start(b, ns, cfg)
	var ctrl, kube, wall, create, launch, look, persist, report, wait time.Duration
	seen := 0
	b.ResetTimer()
	for i := range b.N {
		name := fmt.Sprint("chain-", i)
		wf := testwf.Chain(ns, name, nodes, testwf.Task(0, 0))
		c.create(b, wf)
		got := c.wait(b, ns, name, 10*time.Minute)
		if got.Status.Phase != v1alpha1.WorkflowSucceeded {
			b.Fatalf("%s %s", got.Status.Phase, got.Status.Message)
		}
		b.StopTimer()
		req, _ := r.spans(b, name)
		res, err := spancheck.Check(spancheck.Spans(req.GetResourceSpans()), name, wf.Spec.Closure)
		if err != nil {
			b.Fatal(err)
		}
		for _, a := range res.Attempts {
			ctrl += time.Duration(a.Controller)
			kube += time.Duration(a.Kubernetes)
			launch += time.Duration(a.Launched - a.Decided)
			create += time.Duration(a.Launched - a.LaunchSent)
			look += time.Duration(a.Observed - a.Finished)
			persist += time.Duration(a.Done - a.Persisting)
			if a.Seen > 0 {
				seen++
				report += time.Duration(a.Seen - a.Finished)
				wait += time.Duration(a.Observed - a.Seen)
			}
		}
		wall += time.Duration(got.Status.FinishedAt - got.Status.StartedAt)
		b.StartTimer()
	}
	per := float64(b.N * nodes)
	b.ReportMetric(float64(ctrl.Microseconds())/per/1000, "ctrl-ms/node")
	b.ReportMetric(float64(kube.Microseconds())/per/1000, "kube-ms/node")
	b.ReportMetric(float64(wall.Microseconds())/per/1000, "wall-ms/node")
	// Where the controller time goes: ready->launched (ready being when
	// the upstream success was decided; of which the pod create call),
	// finished->the controller looking at the ended pod (the pod's status
	// write by KWOK, the watch, the queue), and the CR update that
	// persisted the success (and the next node's launch).
	b.ReportMetric(float64(launch.Microseconds())/per/1000, "launch-ms/node")
	b.ReportMetric(float64(create.Microseconds())/per/1000, "podcreate-ms/node")
	b.ReportMetric(float64(look.Microseconds())/per/1000, "observe-ms/node")
	b.ReportMetric(float64(persist.Microseconds())/per/1000, "update-ms/node")
	// observe splits at the informer's delivery of the pod's end: before
	// it, the pod's status write (KWOK's) and the watch; after it, the
	// wait for a round to look (a worker busy with the previous round's
	// update, the queue).
	if seen > 0 {
		b.ReportMetric(float64(report.Microseconds())/float64(seen)/1000, "podend-ms/node")
		b.ReportMetric(float64(wait.Microseconds())/float64(seen)/1000, "roundwait-ms/node")
	}
}

// BenchmarkTracingCost measures what tracing costs on long-chain wall
// time: two controllers on one cluster, one tracing as always and one
// sampling no span (telemetry.disableTracing), each op running a chain of
// 100 zero-length tasks on each, in alternating order so drift hits both
// alike. Wall time comes from the Workflow's status (the spans are what
// is switched off). Reports wall-ms/node of each and tracing-% (on over
// off, minus one). Run with -benchtime=3x -count=5 and take the medians.
func BenchmarkTracingCost(b *testing.B) {
	const nodes = 100
	c := startCluster(b)
	var ns [2]string
	for k, off := range []bool{false, true} {
		ns[k] = c.namespace(b, fmt.Sprintf("tracing-%v-%d", !off, time.Now().UnixNano()))
		cfg := testConfig(b)
		cfg.Events.Sink = "log"
		cfg.Telemetry.DisableTracing = off
		c.start(b, ns[k], cfg)
	}
	var wall [2]time.Duration
	b.ResetTimer()
	for i := range b.N {
		for j := range 2 {
			k := (i + j) % 2
			name := fmt.Sprint("chain-", i)
			c.create(b, testwf.Chain(ns[k], name, nodes, testwf.Task(0, 0)))
			got := c.wait(b, ns[k], name, 10*time.Minute)
			if got.Status.Phase != v1alpha1.WorkflowSucceeded {
				b.Fatalf("%s %s", got.Status.Phase, got.Status.Message)
			}
			wall[k] += time.Duration(got.Status.FinishedAt - got.Status.StartedAt)
		}
	}
	per := float64(b.N * nodes)
	b.ReportMetric(float64(wall[0].Microseconds())/per/1000, "on-wall-ms/node")
	b.ReportMetric(float64(wall[1].Microseconds())/per/1000, "off-wall-ms/node")
	b.ReportMetric(100*(float64(wall[0])/float64(wall[1])-1), "tracing-%")
}

// largeMap is the 10,000-item map of the scale figures: 0 s tasks, 500
// items at a time.
func largeMap(ns, name string) *v1alpha1.Workflow {
	return testwf.Map(ns, name, 10000, 500, testwf.Task(0, 0))
}

// largeMapConfig is the controller config of the large-map test and
// benchmark: a client that can feed 10,000 pod creates (qps 2000), no
// events and no span store, so that what is timed is the map itself.
func largeMapConfig(t testing.TB) config.Config {
	cfg := testConfig(t)
	cfg.KubeClient.QPS, cfg.KubeClient.Burst = 2000, 2000
	cfg.Events.Sink = config.EventSinkNone
	cfg.Telemetry.SpanStoreSize = 0
	return cfg
}

// BenchmarkLargeMap runs the 10,000-item map (largeMap) on the local
// cluster: wall-s/map is the Workflow's own wall time (startedAt to
// finishedAt). Sub-benchmarks set launchConcurrency: 1 launches a
// round's items one after another, as the controller did before the
// option existed. Each sub-benchmark gets a fresh cluster: a map run
// after another one's 10,000 pods were created and deleted took 1.7
// times as long here. Between ops the map is deleted and its pods are
// waited out. It needs BENCHCTL_LARGE_MAP=1 (minutes per op on 2 cores).
// Go runs -count's repetitions of one sub-benchmark back to back, so
// for side-by-side samples run it several times with -count=1
// -benchtime=1x, and take the medians.
func BenchmarkLargeMap(b *testing.B) {
	if os.Getenv(EnvLargeMap) == "" {
		b.Skipf("set %s=1 to run (minutes per op on 2 cores)", EnvLargeMap)
	}
	for _, conc := range []int{1, 16} {
		b.Run(fmt.Sprint("launchConcurrency=", conc), func(b *testing.B) {
			c := startCluster(b)
			ns := c.namespace(b, fmt.Sprintf("large-map-%d-%d", conc, time.Now().UnixNano()))
			cfg := largeMapConfig(b)
			cfg.LaunchConcurrency = conc
			c.start(b, ns, cfg)
			var wall time.Duration
			b.ResetTimer()
			for i := range b.N {
				name := fmt.Sprint("map-", i)
				c.create(b, largeMap(ns, name))
				got := c.wait(b, ns, name, 30*time.Minute)
				if got.Status.Phase != v1alpha1.WorkflowSucceeded {
					b.Fatalf("%s %s", got.Status.Phase, got.Status.Message)
				}
				wall += time.Duration(got.Status.FinishedAt - got.Status.StartedAt)
				b.StopTimer()
				c.deleteAndWait(b, ns, name)
				b.StartTimer()
			}
			b.ReportMetric(wall.Seconds()/float64(b.N), "wall-s/map")
		})
	}
}
