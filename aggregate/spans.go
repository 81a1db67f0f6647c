package aggregate

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"time"

	"github.com/benchctl/benchctl/portfolio/rundir"
	collectorpb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/benchctl/benchctl/controller/api/telemetry"
)

// Span is a finished span, reduced to what the measurements use.
type Span struct {
	Name     string
	ID       string
	ParentID string
	Start    time.Time
	End      time.Time
	Attrs    map[string]any
}

// Duration of the span.
func (s *Span) Duration() time.Duration { return s.End.Sub(s.Start) }

// Str returns a string attribute ("" when absent).
func (s *Span) Str(key string) string {
	v, _ := s.Attrs[key].(string)
	return v
}

// Int returns an integer attribute and whether it is present.
func (s *Span) Int(key string) (int64, bool) {
	switch v := s.Attrs[key].(type) {
	case int64:
		return v, true
	case float64:
		return int64(v), true
	}
	return 0, false
}

// Bool returns a boolean attribute (false when absent).
func (s *Span) Bool(key string) bool {
	v, _ := s.Attrs[key].(bool)
	return v
}

// DecodeOTLP decodes an OTLP JSON ExportTraceServiceRequest, as the
// controller serves it, into spans sorted by start time.
func DecodeOTLP(b []byte) ([]*Span, error) {
	var req collectorpb.ExportTraceServiceRequest
	if err := protojson.Unmarshal(b, &req); err != nil {
		return nil, fmt.Errorf("decode OTLP JSON: %w", err)
	}
	return fromOTLP(&req), nil
}

// DecodeOTLPProto decodes an OTLP ExportTraceServiceRequest in protobuf
// binary encoding (what a run directory stores) into spans sorted by
// start time.
func DecodeOTLPProto(b []byte) ([]*Span, error) {
	var req collectorpb.ExportTraceServiceRequest
	if err := proto.Unmarshal(b, &req); err != nil {
		return nil, fmt.Errorf("decode OTLP protobuf: %w", err)
	}
	return fromOTLP(&req), nil
}

// LoadSpans reads an execution's spans from its directory: the protobuf
// artifact, or the OTLP JSON one of runs recorded by earlier benchctl
// versions.
func LoadSpans(rec *rundir.Record) ([]*Span, error) {
	b, err := rec.ReadArtifact(rundir.ArtifactSpans)
	if err == nil {
		return DecodeOTLPProto(b)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	b, jerr := rec.ReadArtifact(rundir.ArtifactSpansJSON)
	if jerr != nil {
		return nil, fmt.Errorf("no spans: %w", jerr)
	}
	return DecodeOTLP(b)
}

// OTLPProto re-encodes an OTLP JSON ExportTraceServiceRequest in
// protobuf, the encoding a run directory stores.
func OTLPProto(jsonBody []byte) ([]byte, error) {
	var req collectorpb.ExportTraceServiceRequest
	if err := protojson.Unmarshal(jsonBody, &req); err != nil {
		return nil, fmt.Errorf("decode OTLP JSON: %w", err)
	}
	b, err := proto.Marshal(&req)
	if err != nil {
		return nil, fmt.Errorf("encode OTLP protobuf: %w", err)
	}
	return b, nil
}

func fromOTLP(req *collectorpb.ExportTraceServiceRequest) []*Span {
	var out []*Span
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				s := &Span{
					Name:  sp.GetName(),
					ID:    hex.EncodeToString(sp.GetSpanId()),
					Start: time.Unix(0, int64(sp.GetStartTimeUnixNano())),
					End:   time.Unix(0, int64(sp.GetEndTimeUnixNano())),
					Attrs: make(map[string]any, len(sp.GetAttributes())),
				}
				if p := sp.GetParentSpanId(); len(p) > 0 {
					s.ParentID = hex.EncodeToString(p)
				}
				for _, kv := range sp.GetAttributes() {
					s.Attrs[kv.GetKey()] = anyValue(kv.GetValue())
				}
				out = append(out, s)
			}
		}
	}
	breakCycles(out)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out
}

// breakCycles clears the parent of a span whose ancestry loops back to
// itself, which only a corrupt span file can hold, so that every walk up
// the tree (ByWorkflow, roundOf) ends.
func breakCycles(spans []*Span) {
	byID := make(map[string]*Span, len(spans))
	for _, s := range spans {
		byID[s.ID] = s
	}
	const onPath, done = 1, 2
	state := make(map[*Span]int, len(spans))
	for _, s := range spans {
		var path []*Span
		p := s
		for p != nil && state[p] == 0 {
			state[p] = onPath
			path = append(path, p)
			p = byID[p.ParentID]
		}
		if p != nil && state[p] == onPath {
			path[len(path)-1].ParentID = "" // its parent is on the path: the loop closes here
		}
		for _, q := range path {
			state[q] = done
		}
	}
}

func anyValue(v *commonpb.AnyValue) any {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_IntValue:
		return x.IntValue
	case *commonpb.AnyValue_BoolValue:
		return x.BoolValue
	case *commonpb.AnyValue_DoubleValue:
		return x.DoubleValue
	case *commonpb.AnyValue_ArrayValue:
		var out []any
		for _, e := range x.ArrayValue.GetValues() {
			out = append(out, anyValue(e))
		}
		return out
	}
	return nil
}

// ByWorkflow partitions spans by the Workflow object they worked on: the
// workflow attribute of their workflow.handle ancestor. Launch-plan
// children share their parent's execution id, so one execution's spans
// can cover several objects. Spans outside any work item are returned
// under "".
func ByWorkflow(spans []*Span) map[string][]*Span {
	byID := make(map[string]*Span, len(spans))
	for _, s := range spans {
		byID[s.ID] = s
	}
	out := map[string][]*Span{}
	for _, s := range spans {
		owner := ""
		for p := s; p != nil; p = byID[p.ParentID] {
			if p.Name == telemetry.SpanStreak {
				owner = p.Str(telemetry.AttrWorkflow)
				break
			}
		}
		out[owner] = append(out[owner], s)
	}
	return out
}
