package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/shlex"
	"github.com/spf13/cobra"
)

// allCommands lists every command under root, root included.
func allCommands(c *cobra.Command) []*cobra.Command {
	out := []*cobra.Command{c}
	for _, sub := range c.Commands() {
		out = append(out, allCommands(sub)...)
	}
	return out
}

// exampleInvocations extracts the benchctl invocations from an Example
// text: comments, pipes, redirections and shell chaining are cut off.
func exampleInvocations(t *testing.T, example string) [][]string {
	var out [][]string
	for _, line := range strings.Split(example, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "benchctl ") && line != "benchctl" {
			continue
		}
		words, err := shlex.Split(line)
		if err != nil {
			t.Errorf("example %q does not parse as a shell line: %v", line, err)
			continue
		}
		var args []string
		for _, w := range words[1:] {
			if w == "|" || w == ">" || w == "&&" || w == ";" || strings.HasPrefix(w, ">") {
				break
			}
			args = append(args, w)
		}
		out = append(out, args)
	}
	return out
}

// TestHelpExamples parses every Example line of every command with that
// command's own flag set and argument rules, so help text cannot lie.
func TestHelpExamples(t *testing.T) {
	n := 0
	for _, c := range allCommands(newRootCmd()) {
		for _, args := range exampleInvocations(t, c.Example) {
			n++
			root := newRootCmd() // flags keep state between parses
			cmd, rest, err := root.Find(args)
			if err != nil {
				t.Errorf("%s example %q: %v", c.CommandPath(), args, err)
				continue
			}
			if err := cmd.ParseFlags(rest); err != nil {
				t.Errorf("%s example %q: %v", c.CommandPath(), args, err)
				continue
			}
			if cmd.Args != nil {
				if err := cmd.Args(cmd, cmd.Flags().Args()); err != nil {
					t.Errorf("%s example %q: %v", c.CommandPath(), args, err)
				}
			}
		}
	}
	if n < 30 {
		t.Errorf("only %d examples found", n)
	}
}

// TestJSONOutputs: every listing command prints valid JSON with -o json.
func TestJSONOutputs(t *testing.T) {
	t.Setenv("BENCHCTL_STATE_DIR", t.TempDir())
	a, err := filepath.Abs("../../reports/testdata/example-a.yaml")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := filepath.Abs("../../reports/testdata/example-b.yaml")
	tests := [][]string{
		{"clusters", "-o", "json"},
		{"configs", "-o", "json"},
		{"portfolio", "list", "--tier", "smoke", "-o", "json"},
		{"report", "show", "-o", "json", a},
		{"diff", "-o", "json", a, b},
	}
	for _, args := range tests {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			stdout, stderr, code := runCLI(t, args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if !json.Valid([]byte(stdout)) || !strings.HasPrefix(strings.TrimSpace(stdout), "[") && !strings.HasPrefix(strings.TrimSpace(stdout), "{") {
				t.Fatalf("not JSON:\n%s", stdout)
			}
		})
	}
}

// TestUsageErrors: every usage error exits 2 with one line naming the
// bad input.
func TestUsageErrors(t *testing.T) {
	t.Setenv("BENCHCTL_STATE_DIR", t.TempDir())
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.MkdirAll(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"provision", "--provider", "nosuch"}, `unknown provider "nosuch"`},
		{[]string{"nosuch"}, `unknown command "nosuch"`},
		{[]string{"portfolio", "nosuch"}, `unknown command "nosuch"`},
		{[]string{"run", "--nodes", "x"}, `invalid argument "x"`},
		{[]string{"run", "--context", "c"}, "--context needs --kubeconfig"},
		{[]string{"run", "--cluster", "a", "--kubeconfig", "k"}, "--cluster and --kubeconfig"},
		{[]string{"run", "--tier", "smoke", "-o", "x"}, "unknown shorthand flag: 'o'"},
		{[]string{"clusters", "-o", "xml"}, `--output "xml"`},
		{[]string{"run", "--alpha", "2"}, "--alpha 2"},
		{[]string{"compare", "--correction", "bonferroni", "a", "b"}, `--correction "bonferroni"`},
		{[]string{"run", "--calibration", "sometimes"}, `--calibration "sometimes"`},
		{[]string{"calibrate", "--samples", "10", "--cluster", "absent"}, "--samples 10"},
		{[]string{"aggregate", empty}, "no benchctl run here"},
		{[]string{"portfolio", "run", "--cluster", "absent"}, `cluster "absent"`},
		{[]string{"deploy", "--cluster", "absent"}, `cluster "absent"`},
		{[]string{"teardown"}, "one cluster NAME or --all"},
		{[]string{"version", "extra"}, "takes 0 argument"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, stderr, code := runCLI(t, tt.args...)
			if code != exitUsage {
				t.Fatalf("exit %d, want %d: %s", code, exitUsage, stderr)
			}
			msg := strings.TrimSpace(stderr)
			if strings.Count(msg, "\n") != 0 || !strings.Contains(msg, tt.want) {
				t.Errorf("error %q: want one line containing %q", msg, tt.want)
			}
		})
	}
}
