package aggregate

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/benchctl/benchctl/reports/reportstest"
	collectorpb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// otlpSeeds are the span files of the recorded smoke run (gzipped OTLP
// JSON, as the controller serves them), each whole and cut down to its
// first spans, which the fuzzer mutates faster.
func otlpSeeds(tb testing.TB) [][]byte {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join(smokeRun, "executions", "*", "spans.otlp.json.gz"))
	if err != nil || len(paths) == 0 {
		tb.Fatalf("no span files in %s (err %v)", smokeRun, err)
	}
	var out [][]byte
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			tb.Fatal(err)
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			tb.Fatal(err)
		}
		b, err := io.ReadAll(zr)
		f.Close()
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, b)
		var req collectorpb.ExportTraceServiceRequest
		if err := protojson.Unmarshal(b, &req); err != nil {
			tb.Fatalf("%s: %v", p, err)
		}
		for _, rs := range req.GetResourceSpans() {
			for _, ss := range rs.GetScopeSpans() {
				ss.Spans = ss.Spans[:min(len(ss.Spans), 3)]
			}
		}
		small, err := protojson.Marshal(&req)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, small)
	}
	return out
}

// spanString renders a span with its attributes (maps print sorted, and
// NaN prints alike, unlike reflect.DeepEqual's).
func spanString(s *Span) string {
	return fmt.Sprintf("%q %q %q %d %d %v", s.Name, s.ID, s.ParentID, s.Start.UnixNano(), s.End.UnixNano(), s.Attrs)
}

// checkSpans checks what DecodeOTLP and DecodeOTLPProto promise of their
// result: every span of the request, sorted by start time, with hex IDs.
func checkSpans(t *testing.T, req *collectorpb.ExportTraceServiceRequest, spans []*Span) {
	t.Helper()
	want := 0
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			want += len(ss.GetSpans())
		}
	}
	if len(spans) != want {
		t.Fatalf("%d spans decoded from a request of %d", len(spans), want)
	}
	for i, s := range spans {
		if i > 0 && s.Start.Before(spans[i-1].Start) {
			t.Fatalf("span %d starts at %v, before span %d at %v", i, s.Start, i-1, spans[i-1].Start)
		}
		for _, id := range []string{s.ID, s.ParentID} {
			if len(id)%2 != 0 || strings.Trim(id, "0123456789abcdef") != "" {
				t.Fatalf("span %d: ID %q is not lower-case hex", i, id)
			}
		}
	}
}

// FuzzDecodeOTLP feeds span files to the OTLP decoders, as JSON and as
// protobuf. Whatever decodes is every span of the request, in start order;
// the JSON and protobuf encodings of one request decode to the same spans;
// errors are one line; and decoding allocates in proportion to the input.
func FuzzDecodeOTLP(f *testing.F) {
	for _, b := range otlpSeeds(f) {
		f.Add(b)
	}
	f.Add([]byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"spanId":"AQID","parentSpanId":"AQID","name":"x","attributes":[{"key":"a","value":{"arrayValue":{"values":[{"doubleValue":"NaN"},{"kvlistValue":{}}]}}}]}]}]}]}`))
	f.Add([]byte("\x0a\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		// Protobuf decoding of bytes meant as either encoding.
		var fromProto []*Span
		var perr error
		n := reportstest.Allocated(func() { fromProto, perr = DecodeOTLPProto(data) })
		if limit := 16<<20 + 512*uint64(len(data)); n > limit {
			t.Fatalf("protobuf: decoding %d bytes allocated %d bytes, more than %d", len(data), n, limit)
		}
		if perr != nil {
			if msg := perr.Error(); strings.ContainsAny(msg, "\n\r") || !strings.HasPrefix(msg, "decode OTLP protobuf: ") {
				t.Fatalf("protobuf error %q is not one line saying what failed", msg)
			}
		} else {
			var req collectorpb.ExportTraceServiceRequest
			if err := proto.Unmarshal(data, &req); err != nil {
				t.Fatal(err)
			}
			checkSpans(t, &req, fromProto)
		}

		var fromJSON []*Span
		var jerr error
		n = reportstest.Allocated(func() { fromJSON, jerr = DecodeOTLP(data) })
		if limit := 16<<20 + 512*uint64(len(data)); n > limit {
			t.Fatalf("JSON: decoding %d bytes allocated %d bytes, more than %d", len(data), n, limit)
		}
		if jerr != nil {
			if msg := jerr.Error(); strings.ContainsAny(msg, "\n\r") || !strings.HasPrefix(msg, "decode OTLP JSON: ") {
				t.Fatalf("JSON error %q is not one line saying what failed", msg)
			}
			if _, err := OTLPProto(data); err == nil {
				t.Fatal("OTLPProto accepts JSON that DecodeOTLP refuses")
			}
			return
		}
		var req collectorpb.ExportTraceServiceRequest
		if err := protojson.Unmarshal(data, &req); err != nil {
			t.Fatal(err)
		}
		checkSpans(t, &req, fromJSON)
		// What a run directory stores: the same request in protobuf.
		pb, err := OTLPProto(data)
		if err != nil {
			t.Fatalf("OTLPProto refuses JSON that DecodeOTLP accepts: %v", err)
		}
		again, err := DecodeOTLPProto(pb)
		if err != nil {
			t.Fatalf("the protobuf encoding does not decode: %v", err)
		}
		if len(again) != len(fromJSON) {
			t.Fatalf("%d spans from JSON, %d from its protobuf encoding", len(fromJSON), len(again))
		}
		// The round trip keeps the spans' order, so the stable sort by
		// start time gives the same order too.
		for i := range again {
			if a, b := spanString(fromJSON[i]), spanString(again[i]); a != b {
				t.Fatalf("span %d: %s from JSON, %s from its protobuf encoding", i, a, b)
			}
		}
		// And the protobuf re-encodes to the same bytes (deterministic
		// marshalling of the same message).
		var req2 collectorpb.ExportTraceServiceRequest
		if err := proto.Unmarshal(pb, &req2); err != nil {
			t.Fatal(err)
		}
		pb2, err := proto.MarshalOptions{Deterministic: true}.Marshal(&req2)
		if err != nil {
			t.Fatal(err)
		}
		pb1, err := proto.MarshalOptions{Deterministic: true}.Marshal(&req)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(pb1, pb2) {
			t.Fatal("the request changed in a protobuf round trip")
		}
	})
}
