// Package reportstest builds reports from synthetic samples with known
// distributions, for tests of anything that reads reports (renderers,
// diff, the CLI). Every number goes through the real constructors
// (reports.NewWorkflow and friends); only the samples are synthetic, drawn
// from a seeded generator so a spec always gives the same report.
package reportstest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/benchctl/benchctl/reports"
)

// Spec describes a synthetic run.
type Spec struct {
	Seed uint64
	// Executions per workflow.
	Executions int
	Config     string
	Provider   string
	// PortfolioHash defaults to a fixed value so that specs compare.
	PortfolioHash string
	Workflows     []Workflow
	// Reasons go into the validity verdict.
	Reasons []reports.Reason
}

// Workflow is a chain of Nodes task nodes.
type Workflow struct {
	Name  string
	Nodes int
	// User is each task's declared duration (exact, as on the local
	// cluster where KWOK completes the pod at the deadline).
	User time.Duration
	// Kubernetes and Controller are each node's mean overheads.
	Kubernetes, Controller time.Duration
	// Setup and Teardown are the workflow's mean setup and teardown.
	Setup, Teardown time.Duration
	// Noise is the relative standard deviation of every overhead.
	Noise float64
	// Scale multiplies the controller overhead (1 when 0): a slower or
	// faster controller.
	Scale float64
}

// Default is a small three-workflow portfolio with 2% noise.
func Default(config string, seed uint64, executions int) Spec {
	return Spec{
		Seed: seed, Executions: executions, Config: config, Provider: "local",
		Workflows: []Workflow{
			{Name: "short-chain", Nodes: 5, User: time.Second, Kubernetes: 60 * time.Millisecond, Controller: 75 * time.Millisecond,
				Setup: 40 * time.Millisecond, Teardown: 20 * time.Millisecond, Noise: 0.02},
			{Name: "fan-out", Nodes: 3, User: 10 * time.Millisecond, Kubernetes: 30 * time.Millisecond, Controller: 12 * time.Millisecond,
				Setup: 35 * time.Millisecond, Teardown: 15 * time.Millisecond, Noise: 0.02},
			{Name: "long-chain-100", Nodes: 12, Kubernetes: 5 * time.Millisecond, Controller: 8 * time.Millisecond,
				Setup: 30 * time.Millisecond, Teardown: 18 * time.Millisecond, Noise: 0.02},
		},
	}
}

// Build makes the report. It fails the way NewWorkflow does, which for a
// sane spec is never.
func Build(s Spec) (*reports.Report, error) {
	rng := rand.New(rand.NewPCG(s.Seed, 0x62656e6368))
	// noisy draws mean * (1 + noise*N(0,1)), floored at zero so no
	// duration is negative.
	noisy := func(mean time.Duration, noise float64) time.Duration {
		return time.Duration(math.Max(0, float64(mean)*(1+noise*rng.NormFloat64())))
	}
	cfg, err := reports.NewConfig(s.Config, map[string]any{
		"workers": 8, "maxStreakLength": 8, "kube": map[string]any{"qps": 100, "burst": 200}, "config": s.Config,
	})
	if err != nil {
		return nil, err
	}
	hash := s.PortfolioHash
	if hash == "" {
		hash = "sha256:5d41402abc4b2a76b9719d911017c592a1c2e7f0e0f1a1f3b4c5d6e7f8091a2b"
	}
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r := &reports.Report{
		APIVersion: reports.APIVersion, Kind: reports.KindReport,
		Environment: reports.Environment{
			Provider:   reports.Provider{Name: s.Provider, KubernetesVersion: "v1.36.3", Nodes: 3},
			Benchctl:   reports.BuildInfo{Version: "v0.0.0-test", Commit: "0000000000000000000000000000000000000000"},
			Controller: reports.Controller{Version: "v0.0.0-test", Commit: "1111111111111111111111111111111111111111", Source: "controller/"},
			Config:     cfg,
			Portfolio:  reports.Portfolio{Name: "synthetic", Tier: "smoke", Hash: hash},
			Host:       reports.Host{OS: "linux", Arch: "amd64", CPUs: 2, GoVersion: "go1.26.0"},
		},
		Run: reports.RunInfo{Warmup: 1, Repetitions: s.Executions, Start: start,
			Interleaving: reports.Interleaving{Mode: reports.InterleaveNone}},
	}
	elapsed := time.Duration(0)
	for _, wf := range s.Workflows {
		scale := wf.Scale
		if scale == 0 {
			scale = 1
		}
		var execs []reports.ExecutionSample
		for range s.Executions {
			e := reports.ExecutionSample{Setup: noisy(wf.Setup, wf.Noise), Teardown: noisy(wf.Teardown, wf.Noise),
				Infra: map[string][]time.Duration{}}
			var nodesTime time.Duration
			for j := range wf.Nodes {
				n := reports.NodeSample{Name: fmt.Sprintf("n%d", j), Kind: "task", User: wf.User,
					Kubernetes: noisy(wf.Kubernetes, wf.Noise), Controller: noisy(time.Duration(float64(wf.Controller)*scale), wf.Noise)}
				e.Nodes = append(e.Nodes, n)
				nodesTime += n.User + n.Kubernetes + n.Controller
				// Each node: one node event per phase change (queued,
				// running, succeeded), one task event per pod phase, one
				// pod create, two CRD updates, an input write and read.
				for range 3 {
					e.Infra[reports.InfraEventsNode] = append(e.Infra[reports.InfraEventsNode], noisy(2*time.Millisecond, 0.3))
				}
				for range 2 {
					e.Infra[reports.InfraEventsTask] = append(e.Infra[reports.InfraEventsTask], noisy(2*time.Millisecond, 0.3))
					e.Infra[reports.InfraCRDUpdates] = append(e.Infra[reports.InfraCRDUpdates], noisy(time.Duration(float64(4*time.Millisecond)*scale), 0.2))
				}
				e.Infra[reports.InfraPodCreates] = append(e.Infra[reports.InfraPodCreates], noisy(3*time.Millisecond, 0.2))
				e.Infra[reports.InfraBlobWrites] = append(e.Infra[reports.InfraBlobWrites], noisy(time.Millisecond, 0.2))
				e.Infra[reports.InfraBlobReads] = append(e.Infra[reports.InfraBlobReads], noisy(500*time.Microsecond, 0.2))
			}
			for range 2 {
				e.Infra[reports.InfraEventsWorkflow] = append(e.Infra[reports.InfraEventsWorkflow], noisy(2*time.Millisecond, 0.3))
			}
			rounds := 2*wf.Nodes + 2
			for range rounds {
				e.Infra[reports.InfraRounds] = append(e.Infra[reports.InfraRounds], noisy(6*time.Millisecond, 0.2))
			}
			e.Infra[reports.InfraStreaks] = append(e.Infra[reports.InfraStreaks], noisy(time.Duration(rounds)*6*time.Millisecond, 0.1))
			e.Infra[reports.InfraCatalogGets] = nil // measured, none happened
			e.Wall = e.Setup + nodesTime + e.Teardown
			elapsed += e.Wall
			execs = append(execs, e)
		}
		w, err := reports.NewWorkflow(wf.Name, execs)
		if err != nil {
			return nil, err
		}
		r.Workflows = append(r.Workflows, w)
	}
	r.Run.End = start.Add(elapsed.Round(time.Second) + time.Minute)
	reasons := append(reports.CheckSamples(r, reports.DefaultSampleCheck), s.Reasons...)
	r.Validity = reports.NewValidity(reasons...)
	return r, nil
}

// MustBuild is Build for tests.
func MustBuild(s Spec) *reports.Report {
	r, err := Build(s)
	if err != nil {
		panic(err)
	}
	return r
}

// Shifted returns samples of n values mean*(1+noise*N(0,1)) from seed: a
// known distribution for significance tests.
func Shifted(seed uint64, n int, mean, noise float64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 7))
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = mean * (1 + noise*rng.NormFloat64())
	}
	return xs
}
