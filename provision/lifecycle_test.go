package provision

import (
	"context"
	"errors"
	"io"
	"testing"
)

// fakeProvider records calls and can be told to fail.
type fakeProvider struct {
	createErr error
	deleted   []string
}

func (f *fakeProvider) Create(_ context.Context, spec Spec, c *Cluster) error {
	c.Kubeconfig = "/kc/" + spec.Name
	return f.createErr
}
func (f *fakeProvider) Delete(_ context.Context, c *Cluster) error {
	f.deleted = append(f.deleted, c.Name)
	return nil
}
func (f *fakeProvider) Kubeconfig(_ context.Context, c *Cluster) (string, error) {
	return c.Kubeconfig, nil
}
func (f *fakeProvider) Fingerprint(context.Context, *Cluster) (Fingerprint, error) {
	return Fingerprint{}, nil
}

func TestLifecycle(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		run  func(t *testing.T, s *Store, reg Registry, p *fakeProvider)
	}{
		{"create records the cluster", func(t *testing.T, s *Store, reg Registry, p *fakeProvider) {
			if _, err := Create(ctx, s, reg, Spec{Name: "a", Provider: ProviderLocal}); err != nil {
				t.Fatal(err)
			}
			c, err := s.Load("a")
			if err != nil || c.CreatedBy != CreatedByBenchctl || c.Kubeconfig != "/kc/a" {
				t.Fatalf("record = %+v, %v", c, err)
			}
		}},
		{"same name twice", func(t *testing.T, s *Store, reg Registry, p *fakeProvider) {
			if _, err := Create(ctx, s, reg, Spec{Name: "a", Provider: ProviderLocal}); err != nil {
				t.Fatal(err)
			}
			if _, err := Create(ctx, s, reg, Spec{Name: "a", Provider: ProviderLocal}); !errors.Is(err, ErrExists) {
				t.Fatalf("err = %v, want ErrExists", err)
			}
		}},
		{"failed create leaves no record", func(t *testing.T, s *Store, reg Registry, p *fakeProvider) {
			p.createErr = errors.New("boom")
			if _, err := Create(ctx, s, reg, Spec{Name: "a", Provider: ProviderLocal}); err == nil {
				t.Fatal("want error")
			}
			if list, _ := s.List(); len(list) != 0 {
				t.Fatalf("left %d records", len(list))
			}
		}},
		{"a user's cluster is forgotten, never deleted", func(t *testing.T, s *Store, reg Registry, p *fakeProvider) {
			if _, err := Create(ctx, s, reg, Spec{Name: "mine", Provider: ProviderExisting}); err != nil {
				t.Fatal(err)
			}
			res, err := Delete(ctx, s, reg, "mine")
			if err != nil || res != Forgotten || len(p.deleted) != 0 {
				t.Fatalf("res %v err %v deleted %v", res, err, p.deleted)
			}
		}},
		{"benchctl's cluster is deleted", func(t *testing.T, s *Store, reg Registry, p *fakeProvider) {
			if _, err := Create(ctx, s, reg, Spec{Name: "a", Provider: ProviderLocal}); err != nil {
				t.Fatal(err)
			}
			res, err := Delete(ctx, s, reg, "a")
			if err != nil || res != Deleted || len(p.deleted) != 1 {
				t.Fatalf("res %v err %v deleted %v", res, err, p.deleted)
			}
			if _, err := s.Load("a"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("record still there: %v", err)
			}
		}},
		{"unknown cluster", func(t *testing.T, s *Store, reg Registry, p *fakeProvider) {
			if _, err := Delete(ctx, s, reg, "nope"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("err = %v", err)
			}
		}},
		{"bad names", func(t *testing.T, s *Store, reg Registry, p *fakeProvider) {
			for _, n := range []string{"", "A", "-a", "a_b", "../x", "a-"} {
				if _, err := Create(ctx, s, reg, Spec{Name: n, Provider: ProviderLocal}); err == nil {
					t.Errorf("name %q accepted", n)
				}
			}
		}},
		{"dry run unsupported", func(t *testing.T, s *Store, reg Registry, p *fakeProvider) {
			if err := DryRun(ctx, s, reg, Spec{Name: "a", Provider: ProviderLocal}, io.Discard); err == nil {
				t.Fatal("want error")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &fakeProvider{}
			reg := Registry{ProviderLocal: p, ProviderExisting: p}
			tt.run(t, NewStore(t.TempDir()), reg, p)
		})
	}
}
