package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBadInputs feeds the main command bad portfolio and config inputs:
// each must fail with exit code 2 and one clear line naming the file, the
// line where it can and the field, before any cluster is touched.
func TestBadInputs(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const head = "apiVersion: benchctl/v1\nkind: Portfolio\nname: t\nworkflows:\n"
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"portfolio unknown field",
			[]string{"--portfolio", write("p1.yaml", head+"  - name: a\n    chain: {length: 2}\n    colour: red\n")},
			[]string{"p1.yaml:7", "colour"}},
		{"portfolio negative size",
			[]string{"--portfolio", write("p2.yaml", head+"  - name: a\n    description: d\n    chain: {length: -1}\n")},
			[]string{"p2.yaml:7", "length"}},
		{"portfolio bad duration",
			[]string{"--portfolio", write("p3.yaml", head+"  - name: a\n    task: {duration: fast}\n    chain: {length: 2}\n")},
			[]string{"p3.yaml:6", "duration"}},
		{"portfolio two shapes",
			[]string{"--portfolio", write("p4.yaml", head+"  - name: a\n    description: d\n    chain: {length: 2}\n    fanout: {width: 2}\n")},
			[]string{"p4.yaml", "shape"}},
		{"portfolio duplicate names",
			[]string{"--portfolio", write("p5.yaml", head+"  - name: a\n    chain: {length: 2}\n  - name: a\n    chain: {length: 3}\n")},
			[]string{"p5.yaml:7", "duplicate"}},
		{"portfolio wrong apiVersion",
			[]string{"--portfolio", write("p6.yaml", "apiVersion: v9\nkind: Portfolio\nname: t\nworkflows: []\n")},
			[]string{"p6.yaml:1", "apiVersion"}},
		{"portfolio empty file",
			[]string{"--portfolio", write("p7.yaml", "")},
			[]string{"p7.yaml", "empty"}},
		{"unknown tier",
			[]string{"--tier", "huge"},
			[]string{"huge"}},
		{"unknown named config",
			[]string{"--tier", "smoke", "--config", "fastest"},
			[]string{`unknown config "fastest"`}},
		{"config misspelt chart value",
			[]string{"--tier", "smoke", "--config", write("c1.yaml", "# why\nconfg:\n  workers: 2\n")},
			[]string{"c1.yaml:2", `"confg"`}},
		{"config misspelt controller field",
			[]string{"--tier", "smoke", "--config", write("c2.yaml", "# why\nconfig:\n  wrokers: 2\n")},
			[]string{"c2.yaml:3", "wrokers"}},
		{"config value out of range",
			[]string{"--tier", "smoke", "--config", write("c3.yaml", "# why\nconfig:\n  maxStreakLength: 0\n")},
			[]string{"c3.yaml:3", "config.maxStreakLength"}},
		{"config not a mapping",
			[]string{"--tier", "smoke", "--config", write("c4.yaml", "- workers\n")},
			[]string{"c4.yaml:1", "mapping"}},
		{"--set with a bad enum",
			[]string{"--tier", "smoke", "--set", "config.workflowStore=Bogus"},
			[]string{"config.workflowStore", "ResourceVersionCache"}},
		{"bad --fail-on",
			[]string{"--tier", "smoke", "--fail-on", "wall>>5"},
			[]string{"wall>>5"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			state := t.TempDir()
			t.Setenv("BENCHCTL_STATE_DIR", state)
			_, stderr, code := runCLI(t, append([]string{"run", "--cluster", "never"}, tt.args...)...)
			if code != exitUsage {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitUsage, stderr)
			}
			msg := strings.TrimSpace(stderr)
			if strings.Count(msg, "\n") != 0 {
				t.Errorf("error is not one line:\n%s", msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not mention %q", msg, w)
				}
			}
			if entries, _ := os.ReadDir(filepath.Join(state, "clusters")); len(entries) != 0 {
				t.Errorf("a cluster was touched: %v", entries)
			}
		})
	}
}
