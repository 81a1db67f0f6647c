package reports

import (
	"bytes"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"go.yaml.in/yaml/v3"
)

// Floor operation names (Floor.Operations).
const (
	FloorWorkflowCreateSmall = "workflow.create.small"
	FloorWorkflowCreateLarge = "workflow.create.large"
	FloorWorkflowUpdateSmall = "workflow.update.small"
	FloorWorkflowUpdateLarge = "workflow.update.large"
	FloorPodCreate           = "pod.create"
	FloorPodRunning          = "pod.running.observed"
	FloorPodSucceeded        = "pod.succeeded.observed"
	FloorWatchDelivery       = "watch.delivery"
)

// Floor is the calibrated floor of the cluster a run measured on
// (benchctl calibrate): the latency of the API operations a controller
// cannot avoid, measured with the controller's own client settings, and
// from them the least API work one serial node needs.
type Floor struct {
	// Measured is when the calibration ran.
	Measured time.Time `yaml:"measured" json:"measured"`
	// Client is the client-side rate limit the operations ran under: the
	// controller's kubeClient settings.
	Client string `yaml:"client" json:"client"`
	// Small and Large name the workflows whose Workflow objects were
	// created and updated, with their node counts: Large is the
	// portfolio's longest chain, whose every update the floor includes.
	Small string `yaml:"small" json:"small"`
	Large string `yaml:"large" json:"large"`
	// PerNode is the floor per serial node, in seconds: the sum of the
	// medians of one pod create, one write observed through a watch and
	// one update of the Large Workflow. PerNodeCI sums their intervals'
	// bounds (conservative: at least the parts' confidence), so it says
	// how precisely the floor is known.
	PerNode   float64   `yaml:"perNode" json:"perNode"`
	PerNodeCI *Interval `yaml:"perNodeCI,omitempty,flow" json:"perNodeCI,omitempty"`
	// Operations are the measured operations (seconds each).
	Operations []FloorOperation `yaml:"operations" json:"operations"`
	// Etcd summarises etcd's own disk latencies during the calibration,
	// where the provider exposes etcd's metrics.
	Etcd []Histogram `yaml:"etcd,omitempty" json:"etcd,omitempty"`
}

// FloorOperation is one measured operation.
type FloorOperation struct {
	Name    string `yaml:"name" json:"name"`
	Latency Stats  `yaml:"latency" json:"latency"`
}

// Histogram summarises the change of a Prometheus histogram over an
// interval: its observations, their mean, and quantiles interpolated
// within buckets (so only as precise as the buckets).
type Histogram struct {
	Name  string  `yaml:"name" json:"name"`
	Count int     `yaml:"count" json:"count"`
	Mean  float64 `yaml:"mean" json:"mean"`
	P50   float64 `yaml:"p50" json:"p50"`
	P90   float64 `yaml:"p90" json:"p90"`
}

// Operation returns the named operation's latency, or nil.
func (f *Floor) Operation(name string) *Stats {
	for i := range f.Operations {
		if f.Operations[i].Name == name {
			return &f.Operations[i].Latency
		}
	}
	return nil
}

// FloorParts are the operations whose medians add up to the floor per
// serial node.
var FloorParts = []string{FloorPodCreate, FloorWatchDelivery, FloorWorkflowUpdateLarge}

// SetPerNode computes PerNode and PerNodeCI from the operations.
func (f *Floor) SetPerNode() error {
	var sum float64
	ci := &Interval{Confidence: 1}
	for _, name := range FloorParts {
		s := f.Operation(name)
		if s == nil || s.N == 0 {
			return fmt.Errorf("floor per node: no %s measured", name)
		}
		sum += s.Median
		if s.MedianCI == nil {
			ci = nil
		} else if ci != nil {
			ci.Lo, ci.Hi = ci.Lo+s.MedianCI.Lo, ci.Hi+s.MedianCI.Hi
			ci.Confidence = min(ci.Confidence, s.MedianCI.Confidence)
		}
	}
	f.PerNode, f.PerNodeCI = sum, ci
	return nil
}

func (f *Floor) validate(p string) error {
	for i, op := range f.Operations {
		if err := op.Latency.validate(fmt.Sprintf("%s.operations[%d].latency", p, i), UnitSeconds, op.Latency.N, true); err != nil {
			return err
		}
	}
	want := *f
	if err := want.SetPerNode(); err != nil {
		return fieldErr(p+".operations", "%v", err)
	}
	if !near(f.PerNode, want.PerNode) {
		return fieldErr(p+".perNode", "is %v but the medians of %v add up to %v", f.PerNode, FloorParts, want.PerNode)
	}
	if (f.PerNodeCI == nil) != (want.PerNodeCI == nil) ||
		(f.PerNodeCI != nil && (!near(f.PerNodeCI.Lo, want.PerNodeCI.Lo) || !near(f.PerNodeCI.Hi, want.PerNodeCI.Hi))) {
		return fieldErr(p+".perNodeCI", "is not the sum of the intervals of %v", FloorParts)
	}
	return nil
}

// NewFloorMultiple is, per execution, a workflow's controller time on
// the critical path per serial step divided by the floor per serial node:
// how many floors the controller spends on each step its end waited for.
// nil without a floor, a critical path, or steps (a fully cached run).
func NewFloorMultiple(w *Workflow, f *Floor) *Stats {
	if f == nil || f.PerNode <= 0 || w.CriticalPath == nil || w.PathSteps == nil {
		return nil
	}
	ctrl := w.CriticalPath.Part(PathController)
	if ctrl == nil || len(ctrl.Seconds.Samples) != len(w.PathSteps.Samples) {
		return nil
	}
	xs := make([]float64, len(w.PathSteps.Samples))
	for i, n := range w.PathSteps.Samples {
		if n <= 0 {
			return nil
		}
		xs[i] = ctrl.Seconds.Samples[i] / n / f.PerNode
	}
	s := NewStats(UnitRatio, xs)
	return &s
}

// floorNote warns when two reports' floors differ by more than their
// noise (their per-node intervals do not overlap): the clusters differ,
// so a difference in controller time may be the cluster's.
func floorNote(a, b *Floor) string {
	switch {
	case a == nil && b == nil:
		return ""
	case a == nil || b == nil:
		return "only one report carries a calibrated floor: whether the clusters are alike is unknown"
	}
	ia, ib := a.PerNodeCI, b.PerNodeCI
	if ia == nil || ib == nil || (ia.Hi >= ib.Lo && ib.Hi >= ia.Lo) {
		return ""
	}
	return fmt.Sprintf("the calibrated floors differ beyond their noise: %s/node [%s, %s] vs %s/node [%s, %s]: the clusters differ, so part of any controller difference may be the cluster's",
		FormatValue(UnitSeconds, a.PerNode), FormatValue(UnitSeconds, ia.Lo), FormatValue(UnitSeconds, ia.Hi),
		FormatValue(UnitSeconds, b.PerNode), FormatValue(UnitSeconds, ib.Lo), FormatValue(UnitSeconds, ib.Hi))
}

// Validate checks a floor read from elsewhere (a cache) as a report's.
func (f *Floor) Validate() error { return f.validate("floor") }

// EncodeFloor writes f as YAML, the report's encoding of it.
func EncodeFloor(w io.Writer, f *Floor) error {
	if err := f.Validate(); err != nil {
		return fmt.Errorf("refusing to write an inconsistent floor: %w", err)
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(f); err != nil {
		return fmt.Errorf("encoding floor: %w", err)
	}
	return enc.Close()
}

// EncodeFloorJSON writes f as JSON: the same document as its YAML.
func EncodeFloorJSON(w io.Writer, f *Floor) error {
	var buf bytes.Buffer
	if err := EncodeFloor(&buf, f); err != nil {
		return err
	}
	return yamlToJSON(w, buf.Bytes())
}

// WriteFloorText prints the floor as a table of its operations (p50, p90
// and the median's interval), then etcd's disk latencies and the floor
// per serial node.
func WriteFloorText(w io.Writer, f *Floor) error {
	ew := &errWriter{w: w}
	ew.printf("calibrated %s with the controller's client (%s); small Workflow %s, large %s\n\n",
		f.Measured.Format(time.RFC3339), f.Client, f.Small, f.Large)
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "operation\tn\tp50\tp90\t95%% CI of p50\n")
	for _, op := range f.Operations {
		s := op.Latency
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", op.Name, s.N, FormatValue(UnitSeconds, s.Median), FormatValue(UnitSeconds, s.P90), ciString(s))
	}
	for _, h := range f.Etcd {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\tmean %s (from buckets)\n", h.Name, h.Count, FormatValue(UnitSeconds, h.P50), FormatValue(UnitSeconds, h.P90), FormatValue(UnitSeconds, h.Mean))
	}
	if err := tw.Flush(); err != nil && ew.err == nil {
		ew.err = err
	}
	ew.printf("\n%s\n", FloorLine(f))
	return ew.err
}
