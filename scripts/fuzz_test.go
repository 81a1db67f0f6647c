// Package scripts_test checks the repository's shell scripts where their
// logic decides an outcome.
package scripts_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeGo stands in for the go command: "go test -fuzz" prints $FUZZ_OUT,
// writes $FUZZ_CRASHER into the target's corpus when set and exits
// $FUZZ_RC; the replay ("go test -run ^Name$") exits $REPLAY_RC.
const fakeGo = `#!/usr/bin/env bash
for a in "$@"; do
  if [[ "$a" == -fuzz ]]; then
    printf '%b' "$FUZZ_OUT"
    if [[ -n "${FUZZ_CRASHER:-}" ]]; then
      mkdir -p aggregate/testdata/fuzz/FuzzDecodeOTLP
      echo 'go test fuzz v1' > "aggregate/testdata/fuzz/FuzzDecodeOTLP/$FUZZ_CRASHER"
    fi
    exit "$FUZZ_RC"
  fi
done
echo replayed
exit "$REPLAY_RC"
`

// TestFuzzScriptDeadlineRace: scripts/fuzz.sh forgives Go 1.26's bare
// "context deadline exceeded" (go.dev/issue/75804) only when no input was
// written or named and the corpus replays clean; every other failure fails.
func TestFuzzScriptDeadlineRace(t *testing.T) {
	const race = "fuzz: elapsed: 10s, execs: 102 (0/sec)\n--- FAIL: FuzzDecodeOTLP (10.78s)\n    context deadline exceeded\nFAIL\n"
	tests := []struct {
		name       string
		out        string
		crasher    string
		fuzzRC     string
		replayRC   string
		wantExit   int
		wantOutput string
	}{
		{name: "clean run", out: "PASS\n", fuzzRC: "0", replayRC: "1", wantExit: 0, wantOutput: "ok: 1 fuzz target(s)"},
		{name: "deadline race, corpus replays clean", out: race, fuzzRC: "1", replayRC: "0", wantExit: 0, wantOutput: "corpus replays clean"},
		{name: "deadline race, corpus fails on replay", out: race, fuzzRC: "1", replayRC: "1", wantExit: 1, wantOutput: "FAIL: FuzzDecodeOTLP"},
		{name: "crasher written", out: race, crasher: "abc123", fuzzRC: "1", replayRC: "0", wantExit: 1, wantOutput: "FAIL: FuzzDecodeOTLP"},
		{
			name:   "crasher named",
			out:    "--- FAIL: FuzzDecodeOTLP (3.1s)\n    fuzz_test.go:113: boom\n    Failing input written to testdata/fuzz/FuzzDecodeOTLP/x\n",
			fuzzRC: "1", replayRC: "0", wantExit: 1, wantOutput: "FAIL: FuzzDecodeOTLP",
		},
		{
			name:   "hung input",
			out:    "--- FAIL: FuzzDecodeOTLP (12s)\n    fuzzing process hung or terminated unexpectedly: exit status 2\n",
			fuzzRC: "1", replayRC: "0", wantExit: 1, wantOutput: "FAIL: FuzzDecodeOTLP",
		},
	}
	script, err := filepath.Abs("fuzz.sh")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The script works from the directory above its own, so it runs
			// from a copy in a scratch tree where the fake corpus can go.
			root := t.TempDir()
			bin := filepath.Join(root, "bin")
			for _, d := range []string{bin, filepath.Join(root, "scripts")} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			body, err := os.ReadFile(script)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, "scripts", "fuzz.sh"), body, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(bin, "go"), []byte(fakeGo), 0o755); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("bash", filepath.Join(root, "scripts", "fuzz.sh"), "1s", "FuzzDecodeOTLP")
			cmd.Env = append(os.Environ(),
				"PATH="+bin+":"+os.Getenv("PATH"),
				"FUZZ_OUT="+tt.out, "FUZZ_CRASHER="+tt.crasher,
				"FUZZ_RC="+tt.fuzzRC, "REPLAY_RC="+tt.replayRC)
			out, err := cmd.CombinedOutput()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.wantExit || !strings.Contains(string(out), tt.wantOutput) {
				t.Errorf("exit %d, want %d, and output should contain %q:\n%s", code, tt.wantExit, tt.wantOutput, out)
			}
		})
	}
}
