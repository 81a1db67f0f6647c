package local_test

import (
	"context"
	"testing"
	"time"

	"github.com/benchctl/benchctl/provision"
	"github.com/benchctl/benchctl/provision/local"
)

// BenchmarkProvision measures a warm local provision, from nothing to
// /readyz answering and 3 nodes Ready, plus its teardown (reported
// separately as teardown-ms).
//
//	go test ./provision/local -run '^$' -bench Provision -benchtime 1x -count 5
func BenchmarkProvision(b *testing.B) {
	cache := local.DefaultCacheDir()
	if _, err := local.FindBinaries(cache); err != nil {
		b.Skip(err)
	}
	store := provision.NewStore(b.TempDir())
	reg := provision.Registry{provision.ProviderLocal: local.New(store, cache, nil)}
	ctx := context.Background()
	var teardown float64
	for b.Loop() {
		c, err := provision.Create(ctx, store, reg, provision.Spec{Name: "bench", Provider: provision.ProviderLocal, Nodes: 3})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		stop := time.Now()
		if _, err := provision.Delete(ctx, store, reg, c.Name); err != nil {
			b.Fatal(err)
		}
		teardown += float64(time.Since(stop).Milliseconds())
		b.StartTimer()
	}
	b.ReportMetric(teardown/float64(b.N), "teardown-ms")
}
