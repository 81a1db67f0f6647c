package portfolio

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/benchctl/benchctl/reports/reportstest"
	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/util/validation"
)

// fuzzSeeds are portfolio documents: the built-in portfolio, the ones the
// end-to-end tests run, and one per kind of error TestSpecErrors checks.
func fuzzSeeds() []string {
	wf := func(body string) string { return header + "workflows:\n  - name: w\n    description: d\n" + body }
	return []string{
		string(builtinYAML),
		header + "name: aa\ndefaults: {repetitions: 9, warmup: 1, timeout: 2m}\nworkflows:\n  - name: fanout-4\n    description: parallel nodes\n    task: {duration: 0s}\n    fanout: {width: 4}\n  - name: chain-10-user\n    description: a chain with user time\n    task: {duration: 20ms}\n    chain: {length: 10}\n",
		header + "name: chain-only\ndefaults: {repetitions: 3, warmup: 1, timeout: 2m}\nworkflows:\n  - name: chain\n    description: controller overhead per serial node\n    task: {duration: 0s}\n    chain: {length: 5}\n",
		header + "defaults: {repetitions: 7, warmup: 2, timeout: 3m}\ntiers:\n  smoke: {repetitions: 2}\n  nightly: {timeout: 1h}\nworkflows:\n  - name: a\n    description: plain\n    chain: {length: 2}\n  - name: b\n    description: overrides\n    repetitions: 9\n    chain: {length: 2}\n    tiers:\n      smoke: {warmup: 0, chain: {length: 1}}\n      nightly: {skip: true}\n      scale:\n",
		"", "# nothing\n", header + "workflows: [\n", header + "workflows: []\n---\na: 1\n",
		wf("    chain: {length: 2}\n    retries: 3\n"),
		wf("    dag: {layers: 1000, width: 1000}\n"),
		wf("    chain: {length: 2}\n    task: {duration: 10, outputBytes: 8MB!}\n"),
		wf("    chain: {length: 2}\n    inputs: fixed\n    warmup: 0\n    task: {cacheable: true}\n"),
		wf("    chain: {length: 2}\n    tiers:\n      huge: {chain: {length: 9}}\n"),
		wf("    chain: {length: 2}\n    tiers:\n      smoke: {chain: {length: 0}, name: x}\n"),
		wf("    map: {size: 1000000000}\n"),
		wf("    chain: {length: 1000000000}\n"),
		wf("    chain: {length: 3}\n    repetitions: 1000000000\n"),
		wf("    chain: {length: 3}\n    task: {outputBytes: 1Ei}\n"),
		wf("    fanout: {width: 3}\n    maxParallelism: 4294967297\n    task: {retries: 2147483648}\n"),
		wf("    dynamic: {width: 5, depth: 4}\n"),
		wf("    subworkflows: {count: 3, length: 2}\n    tiers:\n      scale: {subworkflows: {count: 50}}\n"),
		wf("    launchplans: {count: 2, length: 2}\n    offloadClosure: true\n"),
		// A flyte: entry, and one with a tier overlay and every input type.
		header + "workflows:\n  - name: w\n    description: d\n    flyte: {launchPlan: bench.chain, version: v1}\n",
		header + "workflows:\n  - name: w\n    description: d\n    flyte:\n      launchPlan: bench.chain\n      version: v1\n      project: p\n      domain: d\n      inputs: {n: 1, f: 0.5, s: x, b: true}\n    tiers:\n      smoke: {flyte: {inputs: {n: 2}}}\n",
		// Aliases, and an overlay with a duplicate key.
		header + "workflows:\n  - name: a\n    description: d\n    task: &t {duration: 1ms, outputBytes: 1Ki}\n    chain: &c {length: 2}\n  - name: b\n    description: d\n    task: *t\n    chain: *c\n    tiers:\n      smoke: {chain: {length: 1}, chain: {length: 3}}\n",
		// An overlay merge that took 6^7 steps, and line breaks in keys.
		header + "workflows:\n  - name: w\n    description: d\n    chain: {length: 1}\n    x0: &x0 {a: 1}\n    x1: &x1 {task: *x0, task: *x0, task: *x0, task: *x0, task: *x0, task: *x0}\n    x2: &x2 {task: *x1, task: *x1, task: *x1, task: *x1, task: *x1, task: *x1}\n    x3: &x3 {task: *x2, task: *x2, task: *x2, task: *x2, task: *x2, task: *x2}\n    x4: &x4 {task: *x3, task: *x3, task: *x3, task: *x3, task: *x3, task: *x3}\n    x5: &x5 {task: *x4, task: *x4, task: *x4, task: *x4, task: *x4, task: *x4}\n    x6: &x6 {task: *x5, task: *x5, task: *x5, task: *x5, task: *x5, task: *x5}\n    task: *x6\n    tiers:\n      default: {task: *x6}\n",
		header + "tiers:\n  \"a\\nb\": {}\nworkflows:\n  - {name: w, description: d, chain: {length: 1}, \"x\\ny\": 1}\n",
	}
}

// FuzzPortfolio feeds portfolio files to Parse. A refused file gets one
// SpecError line naming the file and a line of it; an accepted one
// compiles in every tier within the limits the error messages name, to
// workflows whose values survive the conversion to the Workflow API's
// int32 fields, and re-encodes to a document that compiles to the same
// hashes; and neither parsing nor compiling allocates without bound.
func FuzzPortfolio(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add([]byte(s))
	}
	const file = "fuzz.yaml"
	f.Fuzz(func(t *testing.T, data []byte) {
		var p *Portfolio
		var err error
		n := reportstest.Allocated(func() { p, err = Parse(file, data) })
		// Parsing is linear in the file: the limits on workflows and
		// tiers bound the work of validating each workflow in each tier.
		if limit := 64<<20 + 4096*uint64(len(data)); n > limit {
			t.Fatalf("parsing %d bytes allocated %d bytes, more than %d", len(data), n, limit)
		}
		if err != nil {
			checkSpecError(t, file, data, err)
			return
		}
		hashes := map[string]string{}
		for _, tier := range p.Tiers() {
			var c *Compiled
			var err error
			// The largest shapes (100,000 nodes, or a 10,000-wide
			// dynamic level) allocate about 350 MB.
			if n := reportstest.Allocated(func() { c, err = p.Compile(tier) }); n > 1<<30 {
				t.Fatalf("tier %s: compiling allocated %d bytes", tier, n)
			}
			if err != nil {
				if !strings.Contains(err.Error(), "has no workflows (all are skipped)") {
					t.Fatalf("tier %s of a valid portfolio does not compile: %v", tier, err)
				}
				continue
			}
			hashes[tier] = c.Hash
			checkCompiled(t, p, c)
		}
		// Re-encode the document and parse it again: the same workflows.
		var doc yaml.Node
		if err := yaml.Unmarshal(data, &doc); err != nil {
			t.Fatalf("Parse accepted what yaml.v3 refuses: %v", err)
		}
		again, err := yaml.Marshal(&doc)
		if err != nil {
			t.Fatalf("the document does not re-encode: %v", err)
		}
		p2, err := Parse(file, again)
		if err != nil {
			t.Fatalf("the re-encoded document is refused: %v\n%s", err, again)
		}
		for _, tier := range p2.Tiers() {
			c, err := p2.Compile(tier)
			if err != nil {
				if _, ok := hashes[tier]; ok {
					t.Fatalf("tier %s of the re-encoded document does not compile: %v", tier, err)
				}
				continue
			}
			if c.Hash != hashes[tier] {
				t.Fatalf("tier %s: hash %s, but %s after a YAML round trip:\n%s", tier, hashes[tier], c.Hash, again)
			}
		}
	})
}

// checkSpecError checks that err is one printable line naming the file
// and a line that the file has.
func checkSpecError(t *testing.T, file string, data []byte, err error) {
	t.Helper()
	var se *SpecError
	if !errors.As(err, &se) {
		t.Fatalf("error %T %q is not a SpecError", err, err)
	}
	msg := err.Error()
	if !utf8.ValidString(msg) || strings.IndexFunc(msg, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		t.Fatalf("error %q does not print on one line", msg)
	}
	if se.File != file || !strings.HasPrefix(msg, file) {
		t.Fatalf("error %q does not name the file", msg)
	}
	if lines := yamlLines(data); se.Line < 0 || se.Line > lines {
		t.Fatalf("error %q names line %d of a %d-line file", msg, se.Line, lines)
	}
	if se.Msg == "" {
		t.Fatalf("error %q says nothing", msg)
	}
}

// yamlLines is the number of lines of data as YAML counts them: a line
// ends at \n, \r\n, a lone \r (the fuzzer's first find), NEL, LS or PS.
func yamlLines(data []byte) int {
	s := strings.ReplaceAll(string(data), "\r\n", "\n")
	return 1 + strings.Count(s, "\n") + strings.Count(s, "\r") + strings.Count(s, "\u0085") + strings.Count(s, "\u2028") + strings.Count(s, "\u2029")
}

// checkCompiled checks the compiled workflows against the limits and
// against the entries they came from.
func checkCompiled(t *testing.T, p *Portfolio, c *Compiled) {
	t.Helper()
	execs := 0
	for _, w := range c.Workflows {
		if errs := validation.IsDNS1123Label(w.Name); len(errs) > 0 || len(w.Name) > maxNameLen {
			t.Fatalf("workflow name %q: %v", w.Name, errs)
		}
		if w.Repetitions < 1 || w.Repetitions > maxRepetitions || w.Warmup < 0 || w.Warmup > maxWarmup || w.Timeout <= 0 || w.Timeout > maxTimeout {
			t.Fatalf("%s: %d repetitions, %d warm-ups, timeout %s: beyond the limits", w.Name, w.Repetitions, w.Warmup, w.Timeout)
		}
		execs += w.Repetitions + w.Warmup
		if w.Flyte != nil {
			// Its launch plan, version and inputs are what Flyte Admin
			// takes.
			if err := w.Flyte.Validate(); err != nil || w.Template != nil || w.Name[0] < 'a' || w.Name[0] > 'z' {
				t.Fatalf("%s: flyte: entry %+v compiled with problems: %v", w.Name, *w.Flyte, err)
			}
			if _, err := w.Flyte.LiteralMap(); err != nil {
				t.Fatalf("%s: inputs: %v", w.Name, err)
			}
			continue
		}
		for k, v := range w.Template.Labels {
			if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
				t.Fatalf("%s: label %s=%q: %v", w.Name, k, v, errs)
			}
		}
		cnt := w.Counts
		if cnt.Pods > maxSize+1 || cnt.Nodes > maxSize+maxWidth || cnt.Depth > maxSize+1 {
			t.Fatalf("%s: %+v: beyond the limits", w.Name, cnt)
		}
		task := w.Template.Spec.Closure.Tasks[TaskName]
		if task.OutputBytes < 0 || task.OutputBytes > maxOutputBytes || int64(cnt.TaskNodes+cnt.MapItems)*task.OutputBytes > maxExecutionOutput {
			t.Fatalf("%s: %d tasks writing %d bytes each: beyond the limits", w.Name, cnt.TaskNodes+cnt.MapItems, task.OutputBytes)
		}
		// The int32 fields of the Workflow API hold what the file says.
		var e *entry
		for _, x := range p.entries {
			if x.name == w.Name {
				e = x
			}
		}
		spec, _, err := p.resolve(e, c.Tier)
		if err != nil {
			t.Fatal(err)
		}
		if int(task.Retries) != spec.Task.Retries || int(w.Template.Spec.ExecutionConfig.MaxParallelism) != spec.MaxParallelism {
			t.Fatalf("%s: retries %d, maxParallelism %d compile to %d, %d", w.Name, spec.Task.Retries, spec.MaxParallelism,
				task.Retries, w.Template.Spec.ExecutionConfig.MaxParallelism)
		}
		if m := spec.Map; m != nil {
			if ms := w.Template.Spec.Closure.Primary.Nodes["map"].Map; int(ms.Size) != m.Size || int(ms.Parallelism) != m.Parallelism {
				t.Fatalf("%s: map %+v compiles to %+v", w.Name, *m, *ms)
			}
		}
	}
	if execs > maxExecutions {
		t.Fatalf("tier %s plans %d executions, beyond %d", c.Tier, execs, maxExecutions)
	}
}
