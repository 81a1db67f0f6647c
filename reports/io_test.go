package reports_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/benchctl/benchctl/reports"
	"github.com/benchctl/benchctl/reports/reportstest"
)

func encode(t *testing.T, r *reports.Report) string {
	t.Helper()
	var buf bytes.Buffer
	if err := reports.Encode(&buf, r); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// lineOf is the 1-based line of the n-th (0-based) line matching re.
func lineOf(t *testing.T, text, re string, n int) int {
	t.Helper()
	rx := regexp.MustCompile(re)
	for i, l := range strings.Split(text, "\n") {
		if rx.MatchString(l) {
			if n == 0 {
				return i + 1
			}
			n--
		}
	}
	t.Fatalf("no line matches %q", re)
	return 0
}

// replaceLine replaces the matched line's text by applying from -> to.
func replaceLine(text string, line int, from, to string) string {
	lines := strings.Split(text, "\n")
	lines[line-1] = strings.Replace(lines[line-1], from, to, 1)
	return strings.Join(lines, "\n")
}

func TestLoadErrors(t *testing.T) {
	r := reportstest.MustBuild(reportstest.Default("default", 1, 6))
	good := encode(t, r)
	tests := []struct {
		name string
		edit func(t *testing.T, s string) (string, int) // edited text and the line the error must name
		want []string                                   // substrings of the error
	}{
		{"unknown top-level field", func(t *testing.T, s string) (string, int) {
			return s + "extra: 1\n", strings.Count(s, "\n") + 1
		}, []string{`unknown field "extra"`, "(at extra)"}},
		{"unknown nested field", func(t *testing.T, s string) (string, int) {
			l := lineOf(t, s, `^      min: `, 0)
			return replaceLine(s, l, "min:", "minimum:"), l
		}, []string{`unknown field "minimum"`, "workflows[0].wall.minimum"}},
		{"wrong apiVersion", func(t *testing.T, s string) (string, int) {
			return strings.Replace(s, "apiVersion: benchctl/v1", "apiVersion: benchctl/v2", 1), 1
		}, []string{"apiVersion", `"benchctl/v2"`, `want "benchctl/v1"`}},
		{"missing apiVersion", func(t *testing.T, s string) (string, int) {
			return strings.Replace(s, "apiVersion: benchctl/v1\n", "", 1), 1
		}, []string{"apiVersion is missing"}},
		{"wrong kind", func(t *testing.T, s string) (string, int) {
			return strings.Replace(s, "kind: Report", "kind: Diff", 1), 2
		}, []string{"field kind", `"Diff"`}},
		{"type mismatch", func(t *testing.T, s string) (string, int) {
			l := lineOf(t, s, `^    executions: `, 1)
			return replaceLine(s, l, "executions: 6", "executions: six"), l
		}, []string{"workflows[1].executions", "cannot unmarshal"}},
		{"edited median", func(t *testing.T, s string) (string, int) {
			l := lineOf(t, s, `^      median: `, 2) // third workflow-level median: workflows[0].teardown
			return replaceLine(s, l, "median: ", "median: 1"), l
		}, []string{"workflows[0].teardown.median", "the samples give"}},
		{"dropped sample", func(t *testing.T, s string) (string, int) {
			l := lineOf(t, s, `^      "n": 6`, 0)
			return replaceLine(s, l, `"n": 6`, `"n": 5`), l
		}, []string{"workflows[0].wall.n", "there are 6 samples"}},
		{"edited samples", func(t *testing.T, s string) (string, int) {
			l := lineOf(t, s, `^      controller:`, 0)
			lines := strings.Split(s, "\n")
			for i := l; i < len(lines); i++ {
				if strings.HasPrefix(lines[i], "        samples: [") {
					lines[i] = "        samples: [1, 1, 1, 1, 1, 1]"
					break
				}
			}
			return strings.Join(lines, "\n"), l + 3 // controller: unit, n, min
		}, []string{"workflows[0].overhead.controller.min", "never edited"}},
		{"validity says valid with an invalid reason", func(t *testing.T, s string) (string, int) {
			l := lineOf(t, s, `^  valid: true`, 0)
			return s + "  reasons:\n    - kind: dropped-spans\n      severity: invalid\n      message: 3 spans dropped\n", l
		}, []string{"validity.valid", "reasons say false"}},
		{"unknown reason kind", func(t *testing.T, s string) (string, int) {
			lines := strings.Count(s, "\n")
			s = strings.Replace(s, "  valid: true", "  valid: false", 1)
			return s + "  reasons:\n    - kind: bad-luck\n      severity: invalid\n      message: m\n", lines + 2
		}, []string{"validity.reasons[0].kind", `"bad-luck"`}},
		{"config hash", func(t *testing.T, s string) (string, int) {
			l := lineOf(t, s, `^    hash: sha256:`, 0)
			return replaceLine(s, l, "hash: sha256:", "hash: sha256:0"), l
		}, []string{"environment.config.hash", "NewConfig"}},
		{"config values edited", func(t *testing.T, s string) (string, int) {
			l := lineOf(t, s, `^      workers: 8`, 0)
			return replaceLine(s, l, "8", "9"), lineOf(t, s, `^    hash: sha256:`, 0)
		}, []string{"environment.config.hash"}},
		{"duplicate workflow", func(t *testing.T, s string) (string, int) {
			l := lineOf(t, s, `^  - name: fan-out`, 0)
			return replaceLine(s, l, "fan-out", "short-chain"), l
		}, []string{"workflows[1].name", "appears twice"}},
		{"empty file", func(t *testing.T, s string) (string, int) { return "# nothing\n", 0 }, []string{"empty file"}},
		{"not YAML", func(t *testing.T, s string) (string, int) { return "apiVersion: [benchctl/v1\n", 0 }, []string{"not a YAML report"}},
		{"a list", func(t *testing.T, s string) (string, int) { return "- 1\n- 2\n", 1 }, []string{"want a mapping"}},
		{"another kind of file", func(t *testing.T, s string) (string, int) {
			return "apiVersion: apps/v1\nkind: Deployment\nspec: {}\n", 1
		}, []string{`field apiVersion is "apps/v1"`}},
		{"two documents", func(t *testing.T, s string) (string, int) { return s + "---\n" + s, 0 }, []string{"more than one YAML document"}},
	}
	dir := t.TempDir()
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text, line := tt.edit(t, good)
			path := filepath.Join(dir, fmt.Sprintf("r%d.yaml", i))
			if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := reports.Load(path)
			if err == nil {
				t.Fatal("Load accepted a bad report")
			}
			msg := err.Error()
			want := append([]string{path}, tt.want...)
			if line > 0 {
				want = append(want, fmt.Sprintf("%s:%d:", path, line))
			}
			for _, w := range want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
		})
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	r := reportstest.MustBuild(reportstest.Default("default", 3, 7))
	path := filepath.Join(t.TempDir(), "r.yaml")
	if err := reports.Save(path, r); err != nil {
		t.Fatal(err)
	}
	got, err := reports.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := encode(t, r), encode(t, got); a != b {
		t.Error("report changed in a Save/Load round trip")
	}
	if got.Workflows[0].Wall.Samples[3] != r.Workflows[0].Wall.Samples[3] {
		t.Error("samples are not kept exactly")
	}
}

func TestSaveIsAtomicAndRefusesBadReports(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "r.yaml")
	r := reportstest.MustBuild(reportstest.Default("default", 3, 5))
	if err := reports.Save(path, r); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	bad := reportstest.MustBuild(reportstest.Default("default", 3, 5))
	bad.Workflows[0].Wall.Median *= 0.9 // a synthesised number
	err := reports.Save(path, bad)
	if err == nil || !strings.Contains(err.Error(), "workflows[0].wall.median") {
		t.Fatalf("Save of an edited summary: %v", err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Error("a refused Save changed the existing file")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
	if err := reports.Save(filepath.Join(dir, "missing", "r.yaml"), r); err == nil {
		t.Error("Save into a missing directory succeeded")
	}
}

func TestHashValuesSurvivesYAML(t *testing.T) {
	values := map[string]any{
		"workers": 800, "ratio": 0.25, "big": 1 << 40, "float1": 1.0, "name": "x", "on": true,
		"list": []any{1, "a", 2.5}, "nested": map[string]any{"qps": 1000, "dur": "30s", "empty": nil},
	}
	cfg, err := reports.NewConfig("c", values)
	if err != nil {
		t.Fatal(err)
	}
	r := reportstest.MustBuild(reportstest.Default("c", 1, 2))
	r.Environment.Config = cfg
	text := encode(t, r)
	if _, err := reports.Decode([]byte(text), "r.yaml"); err != nil {
		t.Fatalf("hash does not survive a YAML round trip: %v", err)
	}
}

// TestValidateDerived covers checks a file edit cannot reach without
// also rewriting summaries: every Stats is self-consistent, but totals
// and ratios disagree with the parts, or counts with latencies.
func TestValidateDerived(t *testing.T) {
	tests := []struct {
		name string
		edit func(r *reports.Report)
		want string
	}{
		{"total not the sum of parts", func(r *reports.Report) {
			w := &r.Workflows[0]
			xs := append([]float64(nil), w.Overhead.Total.Samples...)
			xs[0] += 0.5
			w.Overhead.Total = reports.NewStats(reports.UnitSeconds, xs)
		}, "workflows[0].overhead.total.samples[0]"},
		{"node ratio swapped", func(r *reports.Report) {
			n := &r.Workflows[1].Nodes[2]
			n.ControllerRatio, n.KubernetesRatio = n.KubernetesRatio, n.ControllerRatio
		}, "workflows[1].nodes[2].kubernetesRatio.samples[0]"},
		{"latency samples for an execution without operations", func(r *reports.Report) {
			m := &r.Workflows[0].Infrastructure[6] // catalog.gets: none happened
			m.P50 = reports.NewStats(reports.UnitSeconds, []float64{0.001})
		}, "workflows[0].infrastructure[6].p50.samples"},
		{"fractional count", func(r *reports.Report) {
			m := &r.Workflows[0].Infrastructure[0]
			xs := append([]float64(nil), m.Count.Samples...)
			xs[1] = 2.5
			m.Count = reports.NewStats(reports.UnitCount, xs)
		}, "workflows[0].infrastructure[0].count.samples[1]"},
		{"negative duration", func(r *reports.Report) {
			xs := append([]float64(nil), r.Workflows[2].Setup.Samples...)
			xs[0] = -0.001
			r.Workflows[2].Setup = reports.NewStats(reports.UnitSeconds, xs)
		}, "workflows[2].setup.samples[0]"},
		{"wrong unit", func(r *reports.Report) {
			r.Workflows[0].Wall.Unit = "ms"
		}, "workflows[0].wall.unit"},
		{"fewer wall samples than executions", func(r *reports.Report) {
			r.Workflows[0].Wall = reports.NewStats(reports.UnitSeconds, r.Workflows[0].Wall.Samples[1:])
		}, "workflows[0].wall.samples"},
		{"bad interleaving", func(r *reports.Report) { r.Run.Interleaving.Mode = "zigzag" }, "run.interleaving.mode"},
		{"no provider", func(r *reports.Report) { r.Environment.Provider.Name = "" }, "environment.provider.name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := reportstest.MustBuild(reportstest.Default("default", 1, 6))
			if err := r.Validate(); err != nil {
				t.Fatalf("unedited report: %v", err)
			}
			tt.edit(r)
			err := r.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want an error at %s", err, tt.want)
			}
			// And Load names the line of that field: the line holds the
			// path's last key.
			text := encodeUnchecked(t, r)
			_, err = reports.Decode([]byte(text), "x.yaml")
			m := regexp.MustCompile(`^x\.yaml:([1-9][0-9]*): `).FindStringSubmatch(fmt.Sprint(err))
			if m == nil {
				t.Fatalf("Decode error %v, want x.yaml:LINE:", err)
			}
			line, _ := strconv.Atoi(m[1])
			keys := regexp.MustCompile(`[A-Za-z0-9]+`).FindAllString(regexp.MustCompile(`\[\d+\]`).ReplaceAllString(tt.want, ""), -1)
			last := keys[len(keys)-1]
			if got := strings.Split(text, "\n")[line-1]; !strings.Contains(got, last+":") {
				t.Errorf("line %d is %q, want the line of %s", line, got, tt.want)
			}
		})
	}
}

// encodeUnchecked writes r as YAML without Encode's validation, to make
// bad files.
func encodeUnchecked(t *testing.T, r *reports.Report) string {
	t.Helper()
	b, err := yaml.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestJSONIsTheSameDocument: a report's JSON decodes to the same report
// as its YAML, and Load reads JSON files.
func TestJSONIsTheSameDocument(t *testing.T) {
	for _, name := range []string{"testdata/example-a.yaml", "testdata/example-b.yaml"} {
		t.Run(name, func(t *testing.T) {
			r, err := reports.Load(name)
			if err != nil {
				t.Fatal(err)
			}
			var j bytes.Buffer
			if err := reports.EncodeJSON(&j, r); err != nil {
				t.Fatal(err)
			}
			if !json.Valid(j.Bytes()) {
				t.Fatalf("not JSON:\n%s", j.String())
			}
			back, err := reports.Decode(j.Bytes(), "report.json")
			if err != nil {
				t.Fatal(err)
			}
			var want, got bytes.Buffer
			if err := reports.Encode(&want, r); err != nil {
				t.Fatal(err)
			}
			if err := reports.Encode(&got, back); err != nil {
				t.Fatal(err)
			}
			if want.String() != got.String() {
				t.Error("the JSON round trip changed the report")
			}
		})
	}
}
