package bench

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/benchctl/benchctl/portfolio"
	"github.com/benchctl/benchctl/provision"
	"github.com/benchctl/benchctl/provision/calibrate"
	"github.com/benchctl/benchctl/reports"
)

func TestCalibrationOptionsSizeByThePortfolio(t *testing.T) {
	tests := []struct {
		tier, large string
		provider    string
		simulated   bool
		wantEtcd    bool
		wantImage   string
	}{
		{portfolio.TierSmoke, "long-chain (10 nodes)", provision.ProviderLocal, false, true, SimulatedPodImage},
		{portfolio.TierDefault, "long-chain (100 nodes)", provision.ProviderLocal, false, true, SimulatedPodImage},
		{portfolio.TierDefault, "long-chain (100 nodes)", provision.ProviderKind, true, false, SimulatedPodImage},
		{portfolio.TierDefault, "long-chain (100 nodes)", provision.ProviderKind, false, false, "ghcr.io/benchctl/benchtask:latest"},
	}
	for _, tt := range tests {
		t.Run(tt.tier+"/"+tt.provider, func(t *testing.T) {
			c, err := PortfolioSpec{Tier: tt.tier}.Compile()
			if err != nil {
				t.Fatal(err)
			}
			cl := &provision.Cluster{Name: "x", Provider: tt.provider, SimulatedNodes: tt.simulated, Ports: map[string]int{"etcd-client": 2379}}
			o, err := CalibrationOptions(CalibrationRequest{Cluster: cl, Compiled: c})
			if err != nil {
				t.Fatal(err)
			}
			if o.Large.Name != tt.large {
				t.Errorf("large %q, want %q (the longest chain)", o.Large.Name, tt.large)
			}
			if o.Small.Template == nil || len(o.Small.Template.Spec.Closure.Primary.Nodes) > len(o.Large.Template.Spec.Closure.Primary.Nodes) {
				t.Errorf("small %q is not smaller than large", o.Small.Name)
			}
			if (o.EtcdMetricsURL != "") != tt.wantEtcd {
				t.Errorf("etcd metrics URL %q, want one: %v", o.EtcdMetricsURL, tt.wantEtcd)
			}
			if o.PodImage != tt.wantImage {
				t.Errorf("pod image %q, want %q", o.PodImage, tt.wantImage)
			}
		})
	}
}

// TestFloorCache: a cached floor is used only for the same cluster,
// Workflows and client settings; the cluster here has no kubeconfig, so
// any measurement fails.
func TestFloorCache(t *testing.T) {
	c, err := PortfolioSpec{Tier: portfolio.TierSmoke}.Compile()
	if err != nil {
		t.Fatal(err)
	}
	created := time.Unix(1e9, 0)
	cl := &provision.Cluster{Name: "x", Provider: provision.ProviderLocal, CreatedAt: created, Dir: t.TempDir()}
	req := CalibrationRequest{Cluster: cl, Compiled: c, Client: calibrate.Client{QPS: 100, Burst: 200}}
	o, err := CalibrationOptions(req)
	if err != nil {
		t.Fatal(err)
	}
	key, err := cacheKey(req, o)
	if err != nil {
		t.Fatal(err)
	}
	f := &reports.Floor{Measured: created.UTC(), Client: "qps 100 burst 200", Small: "s", Large: "l"}
	for _, name := range reports.FloorParts {
		f.Operations = append(f.Operations, reports.FloorOperation{Name: name, Latency: reports.NewStats(reports.UnitSeconds, []float64{0.001, 0.002, 0.003})})
	}
	if err := f.SetPerNode(); err != nil {
		t.Fatal(err)
	}
	b, err := yaml.Marshal(cachedFloor{Key: key, Floor: f})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cl.Dir, CalibrationFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		mutate     func(*CalibrationRequest)
		wantCached bool
	}{
		{"same cluster and settings", func(*CalibrationRequest) {}, true},
		{"fresh asked", func(r *CalibrationRequest) { r.Fresh = true }, false},
		{"other client limits", func(r *CalibrationRequest) { r.Client.QPS = 50 }, false},
		{"re-created cluster of the same name", func(r *CalibrationRequest) {
			c := *r.Cluster
			c.CreatedAt = created.Add(time.Hour)
			r.Cluster = &c
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := req
			tt.mutate(&r)
			got, cached, err := LiveCalibrator{}.Floor(context.Background(), r)
			if tt.wantCached {
				if err != nil || !cached || got.PerNode != f.PerNode {
					t.Fatalf("floor %v cached=%v err=%v, want the cached one", got, cached, err)
				}
				return
			}
			if err == nil || cached {
				t.Fatalf("cached=%v err=%v: want a measurement (which fails without a kubeconfig)", cached, err)
			}
		})
	}
}
