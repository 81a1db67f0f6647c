package provision

import (
	"errors"
	"fmt"
	"sync"
	"testing"
)

// TestStoreUpdate: concurrent updates of one record all land (each adds
// a process), a failing update writes nothing, and a missing cluster is
// ErrNotFound.
func TestStoreUpdate(t *testing.T) {
	tests := []struct {
		name    string
		writers int
		fail    bool
		missing bool
	}{
		{"one writer", 1, false, false},
		{"concurrent writers lose nothing", 16, false, false},
		{"a failing update writes nothing", 1, true, false},
		{"a missing cluster", 1, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewStore(t.TempDir())
			if !tt.missing {
				if _, err := s.Reserve("c"); err != nil {
					t.Fatal(err)
				}
				if err := s.Save(&Cluster{Name: "c", Provider: ProviderLocal}); err != nil {
					t.Fatal(err)
				}
			}
			var wg sync.WaitGroup
			errs := make([]error, tt.writers)
			for i := range tt.writers {
				wg.Go(func() {
					_, errs[i] = s.Update("c", func(c *Cluster) error {
						if tt.fail {
							c.Processes = append(c.Processes, Process{Name: "never"})
							return errors.New("refused")
						}
						c.Processes = append(c.Processes, Process{Name: fmt.Sprintf("p%d", i), PID: i + 1})
						return nil
					})
				})
			}
			wg.Wait()
			switch {
			case tt.missing:
				if !errors.Is(errs[0], ErrNotFound) {
					t.Fatalf("err = %v, want ErrNotFound", errs[0])
				}
				return
			case tt.fail:
				if errs[0] == nil || errs[0].Error() != "refused" {
					t.Fatalf("err = %v, want f's error", errs[0])
				}
			default:
				if err := errors.Join(errs...); err != nil {
					t.Fatal(err)
				}
			}
			c, err := s.Load("c")
			if err != nil {
				t.Fatal(err)
			}
			want := tt.writers
			if tt.fail {
				want = 0
			}
			if len(c.Processes) != want {
				t.Errorf("%d processes recorded, want %d: %+v", len(c.Processes), want, c.Processes)
			}
		})
	}
}
