package gke

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/benchctl/benchctl/provision"
)

func isUsage(err error) bool {
	var u interface{ UsageError() bool }
	return errors.As(err, &u) && u.UsageError()
}

// TestBadFlagsAreUsageErrors checks the CLI can map flag mistakes to exit
// code 2, and that other failures are not marked so.
func TestBadFlagsAreUsageErrors(t *testing.T) {
	tests := []struct {
		name  string
		spec  provision.Spec
		usage bool
	}{
		{"no project", provision.Spec{Name: "a", Nodes: 1, Zone: "us-central1-a"}, true},
		{"no location", provision.Spec{Name: "a", Nodes: 1, Project: "my-proj-123"}, true},
		{"fine", provision.Spec{Name: "a", Nodes: 1, Project: "my-proj-123", Zone: "us-central1-a"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := (&Provider{Runner: &fakeRunner{path: bothTools()}, Log: io.Discard, Out: io.Discard}).DryRun(context.Background(), tt.spec, t.TempDir(), io.Discard)
			if got := isUsage(err); got != tt.usage {
				t.Errorf("DryRun error %v: usage = %v, want %v", err, got, tt.usage)
			}
			if tt.usage {
				c := &provision.Cluster{Name: tt.spec.Name, Dir: t.TempDir()}
				if err := (&Provider{Runner: &fakeRunner{path: bothTools()}, Log: io.Discard, Out: io.Discard}).Create(context.Background(), tt.spec, c); !isUsage(err) {
					t.Errorf("Create error %v is not a usage error", err)
				}
			}
		})
	}
}
