package flyte

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// TestDecodeEntry: YAML's typing picks the literal's type; bad entries are
// named by field. (Unknown keys are the portfolio decoder's: it reads
// flyte: blocks strictly, with their lines.)
func TestDecodeEntry(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		want    string // the literal map as JSON
		wantErr string
	}{
		{"scalars", "launchPlan: bench.chain\nversion: v1\ninputs: {n: 100, sleep: 0.5, label: fast, dry: false, whole: 3.0}\n",
			`{"literals":{"dry":{"scalar":{"primitive":{"boolean":false}}},"label":{"scalar":{"primitive":{"string_value":"fast"}}},"n":{"scalar":{"primitive":{"integer":"100"}}},"sleep":{"scalar":{"primitive":{"float_value":0.5}}},"whole":{"scalar":{"primitive":{"float_value":3}}}}}`, ""},
		{"no launch plan", "version: v1\n", "", "flyte.launchPlan: required"},
		{"no version", "launchPlan: a\n", "", "flyte.version: required"},
		{"a list input", "launchPlan: a\nversion: v1\ninputs: {xs: [1, 2]}\n", "", "flyte.inputs.xs: a list is not a scalar"},
		{"a null input", "launchPlan: a\nversion: v1\ninputs: {x: null}\n", "", "flyte.inputs.x: null is not a scalar"},
		{"a bad project", "launchPlan: a\nversion: v1\nproject: Has_Caps\n", "", `flyte.project: "Has_Caps"`},
		{"a path in the name", "launchPlan: a/../b\nversion: v1\n", "", "flyte.launchPlan"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var doc yaml.Node
			if err := yaml.Unmarshal([]byte(tt.yaml), &doc); err != nil {
				t.Fatal(err)
			}
			var e Entry
			err := doc.Content[0].Decode(&e)
			if err == nil {
				err = e.Validate()
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			m, err := e.LiteralMap()
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(m)
			if string(b) != tt.want {
				t.Errorf("literals\n got %s\nwant %s", b, tt.want)
			}
		})
	}
}

// TestWireScalars: protojson's int64-as-string and decimal durations
// round-trip exactly.
func TestWireScalars(t *testing.T) {
	durations := []struct {
		in   string
		want time.Duration
	}{
		{`"1.500s"`, 1500 * time.Millisecond},
		{`"0.000000001s"`, time.Nanosecond},
		{`"-2s"`, -2 * time.Second},
		{`"3.000120s"`, 3*time.Second + 120*time.Microsecond},
	}
	for _, tt := range durations {
		var d Duration
		if err := json.Unmarshal([]byte(tt.in), &d); err != nil || d.D() != tt.want {
			t.Errorf("duration %s = %v (%v), want %v", tt.in, d.D(), err, tt.want)
			continue
		}
		b, _ := json.Marshal(d)
		var back Duration
		if err := json.Unmarshal(b, &back); err != nil || back != d {
			t.Errorf("duration %s round-trips to %s", tt.in, b)
		}
	}
	for _, bad := range []string{`1.5`, `"1.5"`, `"1.0000000001s"`, `"xs"`} {
		var d Duration
		if err := json.Unmarshal([]byte(bad), &d); err == nil {
			t.Errorf("duration %s decoded as %v, want an error", bad, d.D())
		}
	}
	for _, in := range []string{`"9007199254740993"`, `9007199254740993`} {
		var i Int64
		if err := json.Unmarshal([]byte(in), &i); err != nil || i != 9007199254740993 {
			t.Errorf("int64 %s = %d (%v)", in, i, err)
		}
	}
}
