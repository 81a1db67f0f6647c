package catalog

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/benchctl/benchctl/controller/blobstore"
	"github.com/benchctl/benchctl/controller/obs"
)

func TestCatalog(t *testing.T) {
	ctx := context.Background()
	m := obs.NewMetrics()
	tel := obs.NewTelemetry(nil, m)
	store, err := blobstore.Open(ctx, "mem://", 0, tel)
	if err != nil {
		t.Fatal(err)
	}
	c := New(store, tel)
	k := Key{Task: "train/model", Version: "1", InputHash: "abc"}
	if _, hit, err := c.Get(ctx, k); err != nil || hit {
		t.Fatalf("empty catalog: hit %v err %v", hit, err)
	}
	if err := c.Put(ctx, k, []byte("out")); err != nil {
		t.Fatal(err)
	}
	data, hit, err := c.Get(ctx, k)
	if err != nil || !hit || string(data) != "out" {
		t.Fatalf("after put: %q hit %v err %v", data, hit, err)
	}
	other := k
	other.Version = "2"
	if _, hit, _ := c.Get(ctx, other); hit {
		t.Fatal("another version must miss")
	}
	if h, mi := testutil.ToFloat64(m.CatalogHits), testutil.ToFloat64(m.CatalogMisses); h != 1 || mi != 2 {
		t.Fatalf("hits %v misses %v, want 1 and 2", h, mi)
	}
	if k.Path() != "catalog/train%2Fmodel/1/abc" {
		t.Fatalf("path = %s", k.Path())
	}
}
