package reports

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Critical-path parts: every segment of an execution's critical path is
// user, kubernetes or controller time, and controller time is one of the
// sub-classes PathSubs. A part's report name is "controller.<sub>" for a
// sub-class.
const (
	PathUser       = "user"
	PathKubernetes = "kubernetes"
	PathController = "controller"

	// SubSetup: created -> the start node decided (the workflow's and every
	// launch-plan child's).
	SubSetup = "setup"
	// SubParallelismWait: ready -> a slot free under a parallelism limit
	// (a map's parallelism, maxParallelism).
	SubParallelismWait = "parallelism-wait"
	// SubRoundWait: waiting for a round: from the slot free until the
	// round that launched the node started handling it, and from a first
	// decision whose update failed to the decision that was persisted.
	SubRoundWait = "round-wait"
	// SubLaunch: the launching round's work up to the pod create's return
	// (or a cache hit, a child's create, a nested DAG's start).
	SubLaunch = "launch"
	// SubObserve: user code's end (or a nested DAG's, a child's) -> the
	// controller's decision about it.
	SubObserve = "observe"
	// SubTeardown: the last node's decision -> the update that persisted
	// the workflow's success.
	SubTeardown = "teardown"
)

// PathSubs lists the controller sub-classes in path order.
var PathSubs = []string{SubSetup, SubParallelismWait, SubRoundWait, SubLaunch, SubObserve, SubTeardown}

// PathPartNames are the names of CriticalPath.Parts, in order.
func PathPartNames() []string {
	out := []string{PathUser, PathKubernetes, PathController}
	for _, s := range PathSubs {
		out = append(out, PathController+"."+s)
	}
	return out
}

// CriticalPath is where a workflow's wall time went: the chain of work its
// end waited on, which partitions the wall time (setup + segments +
// teardown = wall) for any shape, serial or parallel. Node sums
// (Workflow.Overhead) are node-seconds; these are seconds of wall time.
type CriticalPath struct {
	// Parts are user, kubernetes and controller, then controller's
	// sub-classes (PathPartNames): seconds per execution and their share
	// of its wall time.
	Parts []PathPart `yaml:"parts" json:"parts"`
	// Median is the path of the execution whose wall time is the median.
	Median PathTrace `yaml:"median" json:"median"`
}

// PathPart is one part of the critical path over the executions.
type PathPart struct {
	Name    string `yaml:"name" json:"name"`
	Seconds Stats  `yaml:"seconds" json:"seconds"`
	Share   Stats  `yaml:"share" json:"share"`
}

// PathTrace is one execution's critical path, step by step.
type PathTrace struct {
	// Execution is the execution's index among the workflow's samples.
	Execution int        `yaml:"execution" json:"execution"`
	Steps     []PathStep `yaml:"steps" json:"steps"`
}

// PathStep is one segment: from Start (seconds after the execution was
// created) for Seconds.
type PathStep struct {
	Part    string  `yaml:"part" json:"part"`
	Node    string  `yaml:"node,omitempty" json:"node,omitempty"`
	Attempt int     `yaml:"attempt,omitempty" json:"attempt,omitempty"`
	Item    *int    `yaml:"item,omitempty" json:"item,omitempty"`
	Child   string  `yaml:"child,omitempty" json:"child,omitempty"`
	Start   float64 `yaml:"start" json:"start"`
	Seconds float64 `yaml:"seconds" json:"seconds"`
}

// PathSegment is one segment as aggregate measured it, relative to the
// execution's creation.
type PathSegment struct {
	// Part is a PathPartNames name other than "controller".
	Part          string
	Node, Child   string
	Attempt, Item int
	Start, Length time.Duration
}

// Clamped counts the instants moved, within the overlap a busy host
// explains, to keep an execution's instants in order.
type Clamped struct {
	Count   Stats `yaml:"count" json:"count"`
	Seconds Stats `yaml:"seconds" json:"seconds"`
}

// Part returns the named part (nil if absent).
func (c *CriticalPath) Part(name string) *PathPart {
	for i := range c.Parts {
		if c.Parts[i].Name == name {
			return &c.Parts[i]
		}
	}
	return nil
}

// newCriticalPath computes the parts over the executions' paths and
// keeps the median execution's steps. walls are the executions' wall
// times.
func newCriticalPath(paths [][]PathSegment, walls []time.Duration) (*CriticalPath, error) {
	names := PathPartNames()
	secs := map[string][]float64{}
	shares := map[string][]float64{}
	for i, segs := range paths {
		sum := map[string]time.Duration{}
		for _, s := range segs {
			if !slices.Contains(names, s.Part) || s.Part == PathController {
				return nil, fmt.Errorf("execution %d: unknown critical-path part %q", i, s.Part)
			}
			sum[s.Part] += s.Length
			if s.Part != PathUser && s.Part != PathKubernetes {
				sum[PathController] += s.Length
			}
		}
		if total := sum[PathUser] + sum[PathKubernetes] + sum[PathController]; total != walls[i] {
			return nil, fmt.Errorf("execution %d: critical path is %v, wall %v: the segments must partition the wall time", i, total, walls[i])
		}
		for _, n := range names {
			secs[n] = append(secs[n], sum[n].Seconds())
			share := 0.0
			if walls[i] > 0 {
				share = float64(sum[n]) / float64(walls[i])
			}
			shares[n] = append(shares[n], share)
		}
	}
	c := &CriticalPath{}
	for _, n := range names {
		c.Parts = append(c.Parts, PathPart{Name: n, Seconds: NewStats(UnitSeconds, secs[n]), Share: NewStats(UnitRatio, shares[n])})
	}
	m := medianIndex(walls)
	c.Median.Execution = m
	for _, s := range paths[m] {
		st := PathStep{Part: s.Part, Node: s.Node, Attempt: s.Attempt, Child: s.Child, Start: s.Start.Seconds(), Seconds: s.Length.Seconds()}
		if s.Item >= 0 {
			item := s.Item
			st.Item = &item
		}
		c.Median.Steps = append(c.Median.Steps, st)
	}
	return c, nil
}

// medianIndex is the index of the median of xs (the lower one of an even
// count).
func medianIndex(xs []time.Duration) int {
	idx := make([]int, len(xs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return int(xs[a] - xs[b]) })
	return idx[(len(idx)-1)/2]
}

// validate checks the parts against the workflow's wall samples.
func (c *CriticalPath) validate(p string, wall Stats, executions int) error {
	names := PathPartNames()
	if len(c.Parts) != len(names) {
		return fieldErr(p+".parts", "has %d parts, want %v", len(c.Parts), names)
	}
	for i, part := range c.Parts {
		pp := fmt.Sprintf("%s.parts[%d]", p, i)
		if part.Name != names[i] {
			return fieldErr(pp+".name", "is %q, want %q", part.Name, names[i])
		}
		if err := part.Seconds.validate(pp+".seconds", UnitSeconds, executions, true); err != nil {
			return err
		}
		if err := part.Share.validate(pp+".share", UnitRatio, executions, true); err != nil {
			return err
		}
	}
	const eps = 1e-6
	for i := range executions {
		u, k, ctl := c.Parts[0].Seconds.Samples[i], c.Parts[1].Seconds.Samples[i], c.Parts[2].Seconds.Samples[i]
		if math.Abs(u+k+ctl-wall.Samples[i]) > eps {
			return fieldErr(p+".parts", "execution %d: user + kubernetes + controller = %gs, wall %gs", i, u+k+ctl, wall.Samples[i])
		}
		sub := 0.0
		for _, part := range c.Parts[3:] {
			sub += part.Seconds.Samples[i]
		}
		if math.Abs(sub-ctl) > eps {
			return fieldErr(p+".parts", "execution %d: the controller sub-classes sum to %gs, controller %gs", i, sub, ctl)
		}
		for j, part := range c.Parts {
			want := 0.0
			if wall.Samples[i] > 0 {
				want = part.Seconds.Samples[i] / wall.Samples[i]
			}
			if math.Abs(part.Share.Samples[i]-want) > eps {
				return fieldErr(fmt.Sprintf("%s.parts[%d].share", p, j), "execution %d: %g, but seconds/wall is %g", i, part.Share.Samples[i], want)
			}
		}
	}
	if executions > 0 {
		m := c.Median.Execution
		if m < 0 || m >= executions {
			return fieldErr(p+".median.execution", "is %d, want 0..%d", m, executions-1)
		}
		sum := 0.0
		for _, s := range c.Median.Steps {
			sum += s.Seconds
		}
		if math.Abs(sum-wall.Samples[m]) > 1e-6*float64(len(c.Median.Steps)+1) {
			return fieldErr(p+".median.steps", "sum to %gs, execution %d's wall is %gs", sum, m, wall.Samples[m])
		}
	}
	return nil
}
