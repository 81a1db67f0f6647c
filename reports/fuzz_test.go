package reports_test

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/benchctl/benchctl/reports"
	"github.com/benchctl/benchctl/reports/reportstest"
)

// addFiles adds every file matching pattern (relative to the repository
// root) to the corpus.
func addFiles(f *testing.F, pattern string) {
	f.Helper()
	paths, err := filepath.Glob(filepath.Join("..", pattern))
	if err != nil || len(paths) == 0 {
		f.Fatalf("no seed files match %s (err %v)", pattern, err)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzDecodeReport feeds report files to Decode. An accepted report
// re-encodes (YAML and JSON) and decodes back to the same value; a refused
// one gets an error whose every line names the file; and decoding
// allocates in proportion to the input, whatever anchors and aliases it
// holds.
func FuzzDecodeReport(f *testing.F) {
	addFiles(f, "reports/testdata/*.yaml")
	addFiles(f, "aggregate/testdata/*.golden.yaml")
	// Small reports of the same schema, which the fuzzer mutates (and
	// minimizes) far faster than the 150-330 kB ones above.
	for _, n := range []int{1, 2, 6} {
		s := reportstest.Spec{Seed: uint64(n), Executions: n, Config: "default", Provider: "local", Workflows: []reportstest.Workflow{
			{Name: "w", Nodes: 1, User: time.Millisecond, Kubernetes: time.Millisecond, Controller: time.Millisecond, Setup: time.Millisecond, Teardown: time.Millisecond, Noise: 0.1},
		}}
		if n == 6 {
			s.Reasons = []reports.Reason{reports.NewReason(reports.ReasonNoisySamples, "w", "noisy")}
		}
		var b bytes.Buffer
		if err := reports.Encode(&b, reportstest.MustBuild(s)); err != nil {
			f.Fatal(err)
		}
		f.Add(b.Bytes())
	}
	f.Add([]byte("apiVersion: benchctl/v1\nkind: Report\n"))
	f.Add([]byte("apiVersion: benchctl/v1\nkind: Report\nworkflows: [{name: a, executions: six}]\n"))
	// Aliases: yaml.v3 expands them when decoding into Go values.
	f.Add([]byte("apiVersion: benchctl/v1\nkind: Report\nenvironment:\n  config:\n    values:\n      a: &a [x, x, x, x, x, x, x, x]\n      b: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n      c: [*b, *b, *b, *b, *b, *b, *b, *b]\n"))
	const name = "fuzz.yaml"
	f.Fuzz(func(t *testing.T, data []byte) {
		var r *reports.Report
		var err error
		n := reportstest.Allocated(func() { r, err = reports.Decode(data, name) })
		// Decoding the 150 kB example reports allocates about 200 bytes
		// per input byte.
		if limit := 64<<20 + 4096*uint64(len(data)); n > limit {
			t.Fatalf("decoding %d bytes allocated %d bytes, more than %d", len(data), n, limit)
		}
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, name+":") {
					t.Fatalf("error line %q does not start with the file name; whole error:\n%v", line, err)
				}
			}
			return
		}
		var y bytes.Buffer
		if err := reports.Encode(&y, r); err != nil {
			t.Fatalf("a decoded report does not encode: %v", err)
		}
		r2, err := reports.Decode(y.Bytes(), "re-encoded.yaml")
		if err != nil {
			t.Fatalf("the re-encoded report does not decode: %v\n%s", err, y.Bytes())
		}
		if !reflect.DeepEqual(r, r2) {
			t.Fatalf("YAML round trip changed the report:\n%s", y.Bytes())
		}
		var j bytes.Buffer
		if err := reports.EncodeJSON(&j, r); err != nil {
			t.Fatalf("a decoded report does not encode as JSON: %v", err)
		}
		r3, err := reports.Decode(j.Bytes(), "re-encoded.json")
		if err != nil {
			t.Fatalf("the JSON encoding does not decode: %v\n%s", err, j.Bytes())
		}
		var y3 bytes.Buffer
		if err := reports.Encode(&y3, r3); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(y.Bytes(), y3.Bytes()) {
			t.Fatalf("JSON round trip changed the report:\n%s\nvs\n%s", y.Bytes(), y3.Bytes())
		}
	})
}

// formatThreshold writes t in the grammar's canonical form.
func formatThreshold(t reports.Threshold) string {
	var b strings.Builder
	if t.Workflow != "" {
		b.WriteString(t.Workflow + ":")
	}
	b.WriteString(t.Metric)
	if t.Increase {
		b.WriteString(">+")
	} else {
		b.WriteString("<")
	}
	b.WriteString(strconv.FormatFloat(t.Amount, 'g', -1, 64))
	switch t.Unit {
	case "%":
		b.WriteString("%")
	case reports.UnitSeconds:
		b.WriteString("s")
	}
	return b.String()
}

// FuzzThreshold feeds --fail-on expressions to ParseThreshold. An
// accepted threshold has a finite, non-negative amount in a known unit,
// prints on one line, and its canonical form parses to the same
// threshold; a refused one gets a one-line error quoting it.
func FuzzThreshold(f *testing.F) {
	for _, s := range []string{
		"wall>+5%", "wall>5%", " controller > 50ms ", "short-chain:wall>+2.5%", "crd.updates.count>+2",
		"*.p95>+20%", "long-*:node.*>+.5%", "wall<-5%", "setup<10ms", "x>1.5s", "x>200us", "x>200µs",
		"x>250ns", "x>2m", "x>1e1%", "long-chain:crd.updates.count>+0", "controller>20ms", "*.p95>+25%",
		"wall", "wall>", ">5%", "wall>=5%", "wall>+5%%", "wall>5parsecs", "wall>-5%", "wall<+5%", "[a>5%",
		"a:b:c>5%", "x>1e308h", "x>1e400", "a\tb:wall>5%",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		th, err := reports.ParseThreshold(spec)
		if err != nil {
			if msg := err.Error(); strings.ContainsAny(msg, "\n\r") || !strings.Contains(msg, strconv.Quote(spec)) {
				t.Fatalf("error %q is not one line quoting the spec", msg)
			}
			return
		}
		if math.IsNaN(th.Amount) || math.IsInf(th.Amount, 0) || th.Amount < 0 {
			t.Fatalf("%q: amount %v", spec, th.Amount)
		}
		switch th.Unit {
		case "%", reports.UnitSeconds, reports.UnitCount:
		default:
			t.Fatalf("%q: unit %q", spec, th.Unit)
		}
		if th.Metric == "" {
			t.Fatalf("%q: no metric", spec)
		}
		for _, s := range []string{th.Spec, th.Workflow, th.Metric} {
			if !utf8.ValidString(s) || strings.IndexFunc(s, unicode.IsControl) >= 0 {
				t.Fatalf("%q: accepted %q, which does not print on one line", spec, s)
			}
		}
		canon := formatThreshold(th)
		th2, err := reports.ParseThreshold(canon)
		if err != nil {
			t.Fatalf("%q parsed as %+v, whose canonical form %q does not parse: %v", spec, th, canon, err)
		}
		th2.Spec = th.Spec
		if th2 != th {
			t.Fatalf("%q parsed as %+v, but its canonical form %q as %+v", spec, th, canon, th2)
		}
	})
}

// TestThresholdRegressions are the thresholds the fuzzer found accepted
// although they could never fire or would break the lines they print on.
func TestThresholdRegressions(t *testing.T) {
	tests := []struct{ name, spec, want string }{
		// 1e308 hours is +Inf seconds: a gate that never fires.
		{"amount overflows with its unit", "x>1e308h", `threshold "x>1e308h": amount 1e308h is out of range`},
		{"tab inside the workflow glob", "a\tb:wall>5%", "holds a control character"},
		// regexp's \s does not match \v, strings.TrimSpace does: the
		// metric was "\v" and the printed spec ">0".
		{"vertical tab as the metric", "\v>0", "holds a control character"},
		{"line break inside the workflow glob", "a\nb:wall>5%", "holds a control character"},
		{"NUL", "wall>5%\x00", "want [WORKFLOW:]METRIC"},
		{"invalid UTF-8", "w\xff:wall>5%", "invalid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := reports.ParseThreshold(tt.spec)
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.ContainsAny(err.Error(), "\n\r") {
				t.Fatalf("err = %v, want one line with %q", err, tt.want)
			}
		})
	}
}
