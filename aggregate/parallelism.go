package aggregate

import (
	"sort"
	"time"

	"github.com/benchctl/benchctl/controller/api/v1alpha1"
)

// Limits are the limits on running work the controller applied to an
// execution, besides each map node's own parallelism (from the closure).
type Limits struct {
	// MaxParallelism bounds the task pods (task nodes, dynamic nodes'
	// generators, map items) and launch-plan children of one Workflow
	// object running at once: the Workflow's
	// spec.executionConfig.maxParallelism, else the controller's
	// maxParallelism; 0 is unbounded.
	MaxParallelism int
}

// occupancy is one unit of running work: it holds a slot from launch to
// done.
type occupancy struct {
	launched, done time.Time
	attempt        int // index into Execution.Attempts, or -1
}

// gate finds, for every attempt, when a slot was free for it under each
// limit that applies: its map node's parallelism and the Workflow's
// maxParallelism. Every wait for a slot (map items and DAG nodes alike,
// whichever limit) is controller time, as the rest of the time from ready
// to launched is; slotFree only tells it apart as the parallelism wait.
func (e *Execution) gate(l Limits) {
	if l.MaxParallelism > 0 {
		var all []occupancy
		for i, a := range e.Attempts {
			if !a.Cached {
				all = append(all, occupancy{a.Launched, a.Done, i})
			}
		}
		for path, c := range e.Children {
			for _, n := range e.Nodes {
				if n.Node == path {
					all = append(all, occupancy{c.Created, n.Done, -1})
				}
			}
		}
		e.slots(all, l.MaxParallelism)
	}
	maps := map[string][]occupancy{}
	for i, a := range e.Attempts {
		if a.Item >= 0 && !a.Cached {
			maps[a.Node] = append(maps[a.Node], occupancy{a.Launched, a.Done, i})
		}
	}
	for path, occ := range maps {
		spec, err := e.tmpl.closure.NodeAt(path)
		if err != nil || spec.Kind != v1alpha1.NodeKindMap || spec.Map == nil || spec.Map.Parallelism <= 0 {
			continue
		}
		e.slots(occ, int(spec.Map.Parallelism))
	}
}

// slots moves each attempt's slotFree to when its turn came under a
// limit: work launches in turn, so the k-th launched (from 0) could run
// only once k-limit+1 of the k launched before it had ended. The instant
// is kept within [ready, launched] and only ever moved later, so the
// strictest limit wins.
func (e *Execution) slots(occ []occupancy, limit int) {
	sort.SliceStable(occ, func(i, j int) bool { return occ[i].launched.Before(occ[j].launched) })
	for k, o := range occ {
		if o.attempt < 0 || k < limit {
			continue
		}
		dones := make([]time.Time, k)
		for i, p := range occ[:k] {
			dones[i] = p.done
		}
		sort.Slice(dones, func(i, j int) bool { return dones[i].Before(dones[j]) })
		a := &e.Attempts[o.attempt]
		free := dones[k-limit]
		if free.Before(a.Ready) {
			free = a.Ready
		}
		if free.After(a.Launched) {
			free = a.Launched
		}
		if free.After(a.SlotFree) {
			a.SlotFree = free
		}
	}
}
