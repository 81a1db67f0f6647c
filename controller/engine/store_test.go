package engine

import (
	"context"
	"errors"
	"testing"

	"k8s.io/client-go/tools/cache"

	"github.com/benchctl/benchctl/controller/config"
	"github.com/benchctl/benchctl/controller/internal/testwf"
)

func TestStorePolicies(t *testing.T) {
	tests := []struct {
		policy    config.StorePolicy
		wantErr   error
		wantRV    string // of the copy Get returns while the informer lags
		stale     bool
		writeOnRV bool // a write from the lagging copy is attempted (and conflicts)
	}{
		{config.StoreResourceVersionCache, errStale, "", true, false},
		{config.StorePassThrough, nil, "1", false, true},
		{config.StoreInMemory, nil, "2", false, true},
	}
	for _, tt := range tests {
		t.Run(string(tt.policy), func(t *testing.T) {
			ctx := context.Background()
			wfs := newFakeWorkflows(0)
			created, err := wfs.Create(ctx, testwf.Chain("ns", "w", 1, testwf.Task(0, 0)))
			if err != nil {
				t.Fatal(err)
			}
			indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
			if err := indexer.Add(created); err != nil { // the informer holds RV 1
				t.Fatal(err)
			}
			s := newStore(tt.policy, indexer, wfs)
			wf, err := s.Get("ns/w")
			if err != nil || wf.ResourceVersion != "1" {
				t.Fatalf("fresh Get: %v %v", wf, err)
			}
			body, _ := EncodeWorkflow(wf)
			if _, err := s.Update(ctx, wf, body); err != nil { // RV 1 -> 2; the informer still has 1
				t.Fatal(err)
			}
			got, err := s.Get("ns/w")
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Get of the lagging copy: err %v, want %v", err, tt.wantErr)
			}
			if err == nil && got.ResourceVersion != tt.wantRV {
				t.Fatalf("Get returned RV %s, want %s", got.ResourceVersion, tt.wantRV)
			}
			if s.Stale(wf) != tt.stale {
				t.Fatalf("Stale(RV 1) = %v", !tt.stale)
			}
			before := wfs.updates.Load()
			_, err = s.Update(ctx, wf, body) // a write from RV 1
			if tt.writeOnRV != (wfs.updates.Load() > before) {
				t.Fatalf("write from the stale copy attempted = %v, want %v (err %v)", !tt.writeOnRV, tt.writeOnRV, err)
			}
			// Once the informer catches up every policy returns its copy.
			latest, _ := wfs.Get(ctx, "ns", "w")
			if err := indexer.Update(latest); err != nil {
				t.Fatal(err)
			}
			if got, err := s.Get("ns/w"); err != nil || got.ResourceVersion != latest.ResourceVersion {
				t.Fatalf("after catch-up: %v %v", got, err)
			}
		})
	}
}
