package portfolio

import (
	"fmt"
	"strings"
	"testing"

	"github.com/benchctl/benchctl/reports/reportstest"
)

// TestHostileValues: sizes that would exhaust memory or time, and names or
// keys that would break a line, are refused with one line naming the
// file, the line, the field and the limit.
func TestHostileValues(t *testing.T) {
	wf := func(body string) string {
		return header + "workflows:\n  - name: w\n    description: d\n" + body
	}
	many := func(n int, reps string) string {
		var b strings.Builder
		b.WriteString(header + "workflows:\n")
		for i := range n {
			fmt.Fprintf(&b, "  - {name: w%d, description: d, chain: {length: 1}%s}\n", i, reps)
		}
		return b.String()
	}
	var big strings.Builder // each chain within the limits, all of them not
	big.WriteString(header + "workflows:\n")
	for i := range maxPortfolioNodes/maxSize + 1 {
		fmt.Fprintf(&big, "  - {name: w%d, description: d, chain: {length: %d}}\n", i, maxSize)
	}
	tiers := header + "tiers:\n"
	for i := range maxTiers - 2 {
		tiers += fmt.Sprintf("  t%d: {}\n", i)
	}
	tiers += "workflows:\n  - {name: w, description: d, chain: {length: 1}}\n"
	// Before overlays were decoded on their own, merging this one over its
	// entry took 6^11 steps (0.7 s with 8 levels, x6 per level).
	var bomb strings.Builder
	bomb.WriteString(wf("    chain: {length: 1}\n    x0: &x0 {a: 1}\n"))
	for i := 1; i < 12; i++ {
		fmt.Fprintf(&bomb, "    x%d: &x%d {%s}\n", i, i, strings.Repeat(fmt.Sprintf("task: *x%d, ", i-1), 6))
	}
	bomb.WriteString("    task: *x11\n    tiers:\n      default: {task: *x11}\n")
	tests := []struct {
		name string
		doc  string
		want string // the whole message
	}{
		{"billion-item map", wf("    map: {size: 1000000000}\n"), "bad.yaml:6: workflows[w].map.size: 1000000000 is beyond the 100000 this harness supports"},
		{"billion-node chain", wf("    chain: {length: 1000000000}\n"), "bad.yaml:6: workflows[w].chain.length: 1000000000 is beyond the 100000 this harness supports"},
		{"wide fan-out", wf("    fanout: {width: 100000}\n"), "bad.yaml:6: workflows[w].fanout.width: 100000 is beyond the 10000 this harness supports"},
		{"wide DAG layer", wf("    dag: {layers: 2, width: 50000}\n"), "bad.yaml:6: workflows[w].dag.width: 50000 is beyond the 10000 this harness supports"},
		{"wide dynamic level", wf("    dynamic: {width: 20000, depth: 1}\n"), "bad.yaml:6: workflows[w].dynamic.width: 20000 is beyond the 10000 this harness supports"},
		{"deep dynamic", wf("    dynamic: {width: 10, depth: 9}\n"), "bad.yaml:6: workflows[w].dynamic: the shape has 111110 nodes, beyond the 100000 this harness supports"},
		{"many sub-workflows", wf("    subworkflows: {count: 1000, length: 1000}\n"), "bad.yaml:6: workflows[w].subworkflows: the shape has 1000000 nodes, beyond the 100000 this harness supports"},
		{"huge map parallelism", wf("    map: {size: 10, parallelism: 4294967297}\n"), "bad.yaml:6: workflows[w].map.parallelism: 4294967297 is beyond the 100000 this harness supports"},
		{"huge repetitions", wf("    chain: {length: 1}\n    repetitions: 1000000000\n"), "bad.yaml:7: workflows[w].repetitions: 1000000000 is beyond the 1000 this harness supports"},
		{"huge default repetitions", header + "defaults: {repetitions: 1000000000}\nworkflows: []\n", "bad.yaml:3: defaults.repetitions: 1000000000 is beyond the 1000 this harness supports"},
		{"huge tier warm-up", header + "tiers: {smoke: {warmup: 1000000}}\nworkflows: []\n", "bad.yaml:3: tiers.smoke.warmup: 1000000 is beyond the 100 this harness supports"},
		{"huge overlay repetitions", wf("    chain: {length: 1}\n    tiers:\n      scale: {repetitions: 5000}\n"), "bad.yaml:8: workflows[w].tiers.scale.repetitions: 5000 is beyond the 1000 this harness supports"},
		{"huge timeout", wf("    chain: {length: 1}\n    timeout: 1000h\n"), "bad.yaml:7: workflows[w].timeout: 1000h0m0s is beyond the 24h0m0s this harness supports"},
		{"huge duration", wf("    chain: {length: 1}\n    task: {duration: 1000h}\n"), "bad.yaml:7: workflows[w].task.duration: 1000h0m0s is beyond the 24h0m0s this harness supports"},
		{"huge output", wf("    chain: {length: 1}\n    task: {outputBytes: 2Gi}\n"), "bad.yaml:7: workflows[w].task.outputBytes: 2147483648 bytes is beyond the 1073741824 (1Gi) this harness supports"},
		// AsInt64 refuses 1Pi, which was called "not a whole number of bytes".
		{"petabyte output", wf("    chain: {length: 1}\n    task: {outputBytes: 1Pi}\n"), "bad.yaml:7: workflows[w].task.outputBytes: 1125899906842624 bytes is beyond the 1073741824 (1Gi) this harness supports"},
		{"exabytes output", wf("    chain: {length: 1}\n    task: {outputBytes: 100Ei}\n"), `bad.yaml:7: workflows[w].task.outputBytes: size "100Ei" is too large`},
		{"huge output per execution", wf("    chain: {length: 100}\n    task: {outputBytes: 1Gi}\n"),
			"bad.yaml:7: workflows[w].task.outputBytes: 100 tasks writing 1073741824 bytes each write 107374182400 bytes per execution, beyond the 17179869184 (16Gi) this harness supports"},
		{"huge retries", wf("    chain: {length: 1}\n    task: {retries: 2147483648}\n"), "bad.yaml:7: workflows[w].task.retries: 2147483648 is beyond the 10 this harness supports"},
		// int32(4294967297) is 1: the compiled workflow said 1.
		{"huge max parallelism", wf("    chain: {length: 1}\n    maxParallelism: 4294967297\n"), "bad.yaml:7: workflows[w].maxParallelism: 4294967297 is beyond the 100000 this harness supports (0 = unbounded)"},
		{"too many executions in a tier", many(11, ", repetitions: 1000"), "bad.yaml:13: workflows[w9].repetitions: tier default plans 10010 executions per config up to this workflow, beyond the 10000 this harness supports"},
		// Validation compiles every tier: 40 such chains took 60 s and 2.4 GB.
		{"too many nodes in all", big.String(), "bad.yaml:24: workflows[w20].chain.length: the portfolio's tiers expand to 2100000 nodes up to this workflow in tier default, beyond the 2000000 this harness supports in all"},
		{"too many workflows", many(maxWorkflows+1, ""), "bad.yaml:4: workflows: 501 workflows (counting earlier files) are beyond the 500 this harness supports"},
		{"too many tiers", tiers, "bad.yaml:4: tiers: 21 tiers (counting the built-in ones and earlier files) are beyond the 20 this harness supports"},
		// The overlay used to be merged key by key, so the second chain
		// silently won.
		{"duplicate key in an overlay", wf("    chain: {length: 2}\n    tiers:\n      smoke: {chain: {length: 1}, chain: {length: 3}}\n"),
			"bad.yaml:8: workflows[w].tiers.smoke.chain: duplicate key (first at line 8)"},
		{"alias bomb in an overlay", bomb.String(), "bad.yaml:18: workflows[w].tiers.default.task.task: unknown field (known: cacheable, duration, outputBytes, retries, version)"},
		{"line break in a key", header + "workflows:\n  - {name: w, description: d, chain: {length: 1}, \"x\\ny\": 1}\n",
			`bad.yaml:4: workflows[w].x\ny: unknown field (known: chain, dag, description, dynamic, fanout, flyte, inputs, launchplans, map, maxParallelism, name, offloadClosure, repetitions, skip, subworkflows, task, tiers, timeout, warmup)`},
		{"line break in a tier name", header + "tiers:\n  \"a\\nb\": {}\nworkflows: []\n", `bad.yaml:4: tiers.a\nb: tier name "a\nb" is not valid: use lowercase letters, digits and '-'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Refusing a hostile file must stay cheap: bounded in the
			// allocations (deterministic, unlike a time), as the fuzzer
			// bounds parsing.
			var err error
			n := reportstest.Allocated(func() { _, err = Parse("bad.yaml", []byte(tt.doc)) })
			if limit := 64<<20 + 4096*uint64(len(tt.doc)); n > limit {
				t.Errorf("refusing it allocated %d bytes, more than %d", n, limit)
			}
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("error\n got: %s\nwant: %s", got, tt.want)
			}
			checkSpecError(t, "bad.yaml", []byte(tt.doc), err)
		})
	}
}

// TestLimitsLeaveHeadroom: the largest entries of the built-in portfolio
// are well within the limits.
func TestLimitsLeaveHeadroom(t *testing.T) {
	p, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	nodes := 0
	for _, tier := range p.Tiers() {
		c, err := p.Compile(tier)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range c.Workflows {
			nodes += w.Counts.Nodes
			task := w.Template.Spec.Closure.Tasks[TaskName]
			if w.Counts.Pods*5 > maxSize || w.Repetitions*10 > maxRepetitions || w.Timeout*10 > maxTimeout ||
				task.OutputBytes*10 > maxOutputBytes || int64(w.Counts.TaskNodes)*task.OutputBytes*10 > maxExecutionOutput {
				t.Errorf("%s/%s (%s, %d pods, %d repetitions, %s, %d-byte outputs) is within 10x of a limit", tier, w.Name, w.Shape, w.Counts.Pods, w.Repetitions, w.Timeout, task.OutputBytes)
			}
		}
	}
	if nodes*10 > maxPortfolioNodes {
		t.Errorf("the built-in tiers hold %d nodes in all, within 10x of the %d limit", nodes, maxPortfolioNodes)
	}
	t.Logf("the built-in tiers hold %d nodes in all", nodes)
}
