package provision

import (
	"errors"
	"strings"
	"testing"
)

// TestLockRuns: a second run on a cluster is refused, naming the first;
// once the first unlocks, the next one gets the lock.
func TestLockRuns(t *testing.T) {
	c := &Cluster{Name: "c", Dir: t.TempDir()}
	unlock, err := c.LockRuns("benchctl run")
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name     string
		wantBusy bool
	}{{"while held", true}, {"after unlock", false}}
	for _, s := range steps {
		if s.name == "after unlock" {
			unlock()
		}
		u2, err := c.LockRuns("benchctl compare")
		switch {
		case s.wantBusy && (!errors.Is(err, ErrClusterBusy) || !strings.Contains(err.Error(), "benchctl run, pid")):
			t.Errorf("%s: err %v, want busy naming the holder", s.name, err)
		case !s.wantBusy && err != nil:
			t.Errorf("%s: err %v", s.name, err)
		}
		if err == nil {
			u2()
		}
	}
}
