package controller_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/benchctl/benchctl/controller/api/v1alpha1"
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
	var ctrl, kube, wall, create, launch, look, persist time.Duration
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
