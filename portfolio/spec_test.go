package portfolio

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/benchctl/benchctl/reports"
)

func TestBuiltinLoads(t *testing.T) {
	p, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != Builtin {
		t.Errorf("name = %q, want %q", p.Name, Builtin)
	}
	if got, want := strings.Join(p.Tiers(), ","), "default,scale,smoke"; got != want {
		t.Errorf("tiers = %s, want %s", got, want)
	}
	for _, tier := range p.Tiers() {
		c, err := p.Compile(tier)
		if err != nil {
			t.Fatalf("tier %s: %v", tier, err)
		}
		if n := len(c.Workflows); n < 10 || n > 15 {
			t.Errorf("tier %s has %d workflows, want 10-15", tier, n)
		}
		for _, w := range c.Workflows {
			if w.Description == "" || strings.Contains(w.Description, "\n") {
				t.Errorf("%s: description %q is not one line", w.Name, w.Description)
			}
			if w.Warmup < 1 {
				t.Errorf("%s/%s: warm-up %d, want >= 1", tier, w.Name, w.Warmup)
			}
			if tier != TierSmoke && w.Repetitions < 5 {
				t.Errorf("%s/%s: %d repetitions, want >= 5", tier, w.Name, w.Repetitions)
			}
			if w.Timeout <= 0 {
				t.Errorf("%s/%s: no timeout", tier, w.Name)
			}
		}
	}
}

// TestBuiltinCoversRFC checks the sizes the RFC asks of the default and
// scale tiers, from the compiled closures rather than the YAML.
func TestBuiltinCoversRFC(t *testing.T) {
	p, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	def, err := p.Compile(TierDefault)
	if err != nil {
		t.Fatal(err)
	}
	scale, err := p.Compile(TierScale)
	if err != nil {
		t.Fatal(err)
	}
	get := func(c *Compiled, name string) *Workflow {
		t.Helper()
		w := c.Workflow(name)
		if w == nil {
			t.Fatalf("tier %s lacks %s", c.Tier, name)
		}
		return w
	}
	tests := []struct {
		name  string
		check func(*Workflow) bool
		want  string
	}{
		{"short-chain", func(w *Workflow) bool {
			return w.Counts.Depth == w.Counts.TaskNodes && w.Template.Spec.Closure.Tasks[TaskName].Duration.Duration == 10*time.Millisecond
		}, "a chain of 10 ms tasks"},
		{"short-fanout", func(w *Workflow) bool {
			return w.Counts.Depth == 1 && w.Counts.TaskNodes >= 10 && w.Template.Spec.Closure.Tasks[TaskName].Duration.Duration == 10*time.Millisecond
		}, "a fan-out of 10 ms tasks"},
		// Outputs must not be empty: empty outputs are alike in every
		// execution, so the chain's later nodes would hit even when cold.
		{"cache-cold", func(w *Workflow) bool {
			return w.Inputs == InputsUnique && w.Counts.CacheablePods == w.Counts.Pods && w.Template.Spec.Closure.Tasks[TaskName].OutputBytes > 0
		}, "cacheable, unique inputs, non-empty outputs"},
		{"cache-warm", func(w *Workflow) bool {
			return w.Inputs == InputsFixed && w.Counts.CacheablePods == w.Counts.Pods && w.Warmup >= 1
		}, "cacheable, fixed inputs, warmed"},
		{"long-chain", func(w *Workflow) bool {
			return w.Counts.Depth == 100 && w.Template.Spec.Closure.Tasks[TaskName].Duration.Duration == 0
		}, "100 zero-length nodes in series"},
		{"large-dag", func(w *Workflow) bool {
			return w.Counts.Nodes >= 500 && w.Template.Spec.OffloadClosure != nil && !*w.Template.Spec.OffloadClosure
		}, "500+ nodes, closure inline"},
		{"large-dag-offload", func(w *Workflow) bool {
			return w.Counts.Nodes >= 500 && w.Template.Spec.OffloadClosure != nil && *w.Template.Spec.OffloadClosure
		}, "500+ nodes, closure offloaded"},
		{"map-fanout", func(w *Workflow) bool { return w.Counts.MapItems == 1000 }, "1,000 map items"},
		{"nested-dynamic", func(w *Workflow) bool { return w.Counts.Depth >= 4 && w.Counts.DynamicNodes >= 1+3+9 }, "dynamics nested 3 deep"},
		{"launch-plans", func(w *Workflow) bool { return w.Counts.Children >= 10 }, ">= 10 children"},
		{"parallel-subworkflows", func(w *Workflow) bool { return w.Counts.SubWorkflows >= 10 }, ">= 10 sub-workflows"},
		{"large-outputs", func(w *Workflow) bool {
			return w.Template.Spec.Closure.Tasks[TaskName].OutputBytes >= 1<<20
		}, "outputs of a MiB or more"},
	}
	for _, tt := range tests {
		if w := get(def, tt.name); !tt.check(w) {
			t.Errorf("default %s: want %s, got %s %+v", tt.name, tt.want, w.Shape, w.Counts)
		}
	}
	if w := get(scale, "map-fanout"); w.Counts.MapItems < 5000 {
		t.Errorf("scale map-fanout has %d items, want >= 5000", w.Counts.MapItems)
	}
	if w := get(def, "nested-dynamic"); w.Template.Spec.Closure.Primary.Nodes["dyn"].Dynamic.Depth < 3 {
		t.Errorf("nested-dynamic depth %d, want >= 3", w.Template.Spec.Closure.Primary.Nodes["dyn"].Dynamic.Depth)
	}
}

// TestTierBudgets keeps the tiers within their time budgets as the
// portfolio changes. The budget is in pods and serial steps, the two
// things a run's duration grows with; the limits are what the default
// tier was designed for (see defaults.yaml), and the smoke tier must stay
// tiny because every e2e test runs it.
func TestTierBudgets(t *testing.T) {
	p, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		tier                  string
		maxExecutions         int
		maxPods, maxSerial    int
		maxUserTime, maxReps  time.Duration
		maxPodsPerExecution   int
		maxSerialPerExecution int
	}{
		{tier: TierSmoke, maxExecutions: 50, maxPods: 600, maxSerial: 500, maxPodsPerExecution: 20, maxSerialPerExecution: 10, maxUserTime: 10 * time.Second},
		{tier: TierDefault, maxExecutions: 80, maxPods: 14_000, maxSerial: 1_500, maxPodsPerExecution: 1000, maxSerialPerExecution: 100, maxUserTime: time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.tier, func(t *testing.T) {
			c, err := p.Compile(tt.tier)
			if err != nil {
				t.Fatal(err)
			}
			var execs, pods, serial int
			var user time.Duration
			for _, w := range c.Workflows {
				n := w.Warmup + w.Repetitions
				execs += n
				pods += n * w.Counts.Pods
				serial += n * w.Counts.Depth
				user += time.Duration(n*w.Counts.Depth) * w.Template.Spec.Closure.Tasks[TaskName].Duration.Duration
				if w.Counts.Pods > tt.maxPodsPerExecution || w.Counts.Depth > tt.maxSerialPerExecution {
					t.Errorf("%s: %d pods, %d serial steps per execution; budget %d, %d", w.Name, w.Counts.Pods, w.Counts.Depth, tt.maxPodsPerExecution, tt.maxSerialPerExecution)
				}
			}
			t.Logf("tier %s: %d executions, %d pods, %d serial steps, %s of serial user time", tt.tier, execs, pods, serial, user)
			if execs > tt.maxExecutions || pods > tt.maxPods || serial > tt.maxSerial || user > tt.maxUserTime {
				t.Errorf("over budget: %d executions (max %d), %d pods (max %d), %d serial steps (max %d), %s user time (max %s)",
					execs, tt.maxExecutions, pods, tt.maxPods, serial, tt.maxSerial, user, tt.maxUserTime)
			}
		})
	}
}

func TestSettingsPrecedence(t *testing.T) {
	doc := `apiVersion: benchctl/v1
kind: Portfolio
defaults: {repetitions: 7, warmup: 2, timeout: 3m}
tiers:
  smoke: {repetitions: 2}
  nightly: {timeout: 1h}
workflows:
  - name: a
    description: plain
    chain: {length: 2}
  - name: b
    description: overrides
    repetitions: 9
    chain: {length: 2}
    tiers:
      smoke: {warmup: 0, chain: {length: 1}}
      nightly: {skip: true}
      scale:
`
	p, err := Parse("p.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		tier, wf        string
		reps, warm, len int
		timeout         time.Duration
		absent          bool
	}{
		{tier: TierDefault, wf: "a", reps: 7, warm: 2, len: 2, timeout: 3 * time.Minute},
		{tier: TierSmoke, wf: "a", reps: 2, warm: 2, len: 2, timeout: 3 * time.Minute},
		{tier: TierDefault, wf: "b", reps: 9, warm: 2, len: 2, timeout: 3 * time.Minute},
		{tier: TierSmoke, wf: "b", reps: 9, warm: 0, len: 1, timeout: 3 * time.Minute},
		{tier: "nightly", wf: "a", reps: 7, warm: 2, len: 2, timeout: time.Hour},
		{tier: "nightly", wf: "b", absent: true},
		{tier: TierScale, wf: "b", reps: 9, warm: 2, len: 2, timeout: 3 * time.Minute},
	}
	for _, tt := range tests {
		c, err := p.Compile(tt.tier)
		if err != nil {
			t.Fatal(err)
		}
		w := c.Workflow(tt.wf)
		if tt.absent {
			if w != nil {
				t.Errorf("%s/%s: present, want skipped", tt.tier, tt.wf)
			}
			continue
		}
		if w.Repetitions != tt.reps || w.Warmup != tt.warm || w.Timeout != tt.timeout || w.Counts.TaskNodes != tt.len {
			t.Errorf("%s/%s: reps %d warmup %d timeout %s nodes %d; want %d %d %s %d", tt.tier, tt.wf,
				w.Repetitions, w.Warmup, w.Timeout, w.Counts.TaskNodes, tt.reps, tt.warm, tt.timeout, tt.len)
		}
	}
	if _, err := p.Compile("weekly"); err == nil || !strings.Contains(err.Error(), `unknown tier "weekly"`) {
		t.Errorf("unknown tier: err = %v", err)
	}
}

const header = "apiVersion: benchctl/v1\nkind: Portfolio\n"

// TestSpecErrors: every bad input gives one line naming the file, the
// line and the field.
func TestSpecErrors(t *testing.T) {
	wf := func(body string) string {
		return header + "workflows:\n  - name: w\n    description: d\n" + body
	}
	tests := []struct {
		name string
		doc  string
		want string // the whole message
	}{
		{"empty file", "", "bad.yaml: file is empty; a portfolio starts with apiVersion: benchctl/v1 and kind: Portfolio"},
		{"only comments", "# nothing\n", "bad.yaml: file is empty; a portfolio starts with apiVersion: benchctl/v1 and kind: Portfolio"},
		{"bad apiVersion", "apiVersion: benchctl/v2\nkind: Portfolio\nworkflows: []\n", `bad.yaml:1: apiVersion: must be "benchctl/v1", got "benchctl/v2"`},
		{"bad kind", "apiVersion: benchctl/v1\nkind: Report\n", `bad.yaml:2: kind: must be "Portfolio", got "Report"`},
		{"invalid yaml", header + "workflows: [\n", "bad.yaml:3: invalid YAML: did not find expected node content"},
		{"two documents", header + "workflows: []\n---\na: 1\n", "bad.yaml:4: holds more than one YAML document; put one portfolio per file"},
		{"unknown top-level field", header + "workflow: []\n", "bad.yaml:3: workflow: unknown field (known: apiVersion, defaults, description, kind, name, tiers, workflows)"},
		{"no workflows", header + "workflows: []\n", "bad.yaml:3: workflows: no workflows; a portfolio needs at least one"},
		{"unknown workflow field", wf("    chain: {length: 2}\n    retries: 3\n"),
			"bad.yaml:7: workflows[w].retries: unknown field (known: chain, dag, description, dynamic, fanout, flyte, inputs, launchplans, map, maxParallelism, name, offloadClosure, repetitions, skip, subworkflows, task, tiers, timeout, warmup)"},
		{"unknown shape field", wf("    chain: {lenght: 2}\n"), "bad.yaml:6: workflows[w].chain.lenght: unknown field (known: length)"},
		{"wrong type", wf("    chain: {length: ten}\n"), `bad.yaml:6: workflows[w].chain.length: expected an integer, got the string "ten"`},
		{"float size", wf("    chain: {length: 2.5}\n"), "bad.yaml:6: workflows[w].chain.length: expected an integer, got the number 2.5"},
		{"negative size", wf("    fanout: {width: -3}\n"), "bad.yaml:6: workflows[w].fanout.width: must be >= 1, got -3"},
		{"missing size", wf("    dag: {layers: 3}\n"), "bad.yaml:6: workflows[w].dag.width: missing: must be an integer >= 1"},
		{"too large", wf("    dag: {layers: 1000, width: 1000}\n"), "bad.yaml:6: workflows[w].dag: the shape has 1000000 nodes, beyond the 100000 this harness supports"},
		{"missing shape", wf("    task: {duration: 1s}\n"), "bad.yaml:4: workflows[w]: missing shape: set one of chain, fanout, dag, map, dynamic, subworkflows, launchplans, flyte"},
		{"conflicting shapes", wf("    chain: {length: 2}\n    map: {size: 3}\n"), "bad.yaml:7: workflows[w].map: conflicting shapes chain and map: a workflow has exactly one"},
		{"bad duration", wf("    chain: {length: 2}\n    task: {duration: 10}\n"),
			`bad.yaml:7: workflows[w].task.duration: invalid duration "10": want a number with a unit such as 10ms, 2s or 5m`},
		{"negative duration", wf("    chain: {length: 2}\n    task: {duration: -1s}\n"), "bad.yaml:7: workflows[w].task.duration: must be >= 0, got -1s"},
		{"bad size", wf("    chain: {length: 2}\n    task: {outputBytes: 8MB!}\n"),
			`bad.yaml:7: workflows[w].task.outputBytes: invalid size "8MB!": want bytes or a quantity such as 512Ki, 8Mi`},
		{"bad timeout", wf("    chain: {length: 2}\n    timeout: 0s\n"), "bad.yaml:7: workflows[w].timeout: must be positive, got 0s"},
		{"zero repetitions", header + "defaults: {repetitions: 0}\nworkflows: []\n", "bad.yaml:3: defaults.repetitions: must be >= 1, got 0"},
		{"unknown tier", wf("    chain: {length: 2}\n    tiers:\n      huge: {chain: {length: 9}}\n"),
			`bad.yaml:8: workflows[0].tiers.huge: unknown tier "huge" (known: default, scale, smoke)`},
		{"bad value in tier overlay", wf("    chain: {length: 2}\n    tiers:\n      smoke: {chain: {length: 0}}\n"),
			"bad.yaml:8: workflows[w].tiers.smoke.chain.length: must be >= 1, got 0"},
		{"unknown field in tier overlay", wf("    chain: {length: 2}\n    tiers:\n      scale:\n        chain: {size: 5}\n"),
			"bad.yaml:9: workflows[w].tiers.scale.chain.size: unknown field (known: length)"},
		{"tier renames", wf("    chain: {length: 2}\n    tiers:\n      smoke: {name: x}\n"), "bad.yaml:8: workflows[0].tiers.smoke.name: a tier cannot rename a workflow"},
		{"duplicate names", header + "workflows:\n  - {name: w, description: d, chain: {length: 1}}\n  - {name: w, description: d, chain: {length: 1}}\n",
			`bad.yaml:5: workflows[1].name: duplicate workflow "w" (first defined at bad.yaml:4)`},
		{"duplicate key", wf("    chain: {length: 2}\n    chain: {length: 3}\n"), "bad.yaml:7: workflows[w].chain: duplicate key (first at line 6)"},
		{"bad name", header + "workflows:\n  - {name: Short_Chain, description: d, chain: {length: 1}}\n",
			`bad.yaml:4: workflows[0].name: "Short_Chain" is not a valid name: use lowercase letters, digits and '-', starting and ending with a letter or digit`},
		{"missing name", header + "workflows:\n  - {description: d, chain: {length: 1}}\n", "bad.yaml:4: workflows[0].name: every workflow needs a name (a string)"},
		{"missing description", header + "workflows:\n  - {name: w, chain: {length: 1}}\n",
			"bad.yaml:4: workflows[w].description: missing: say in one line what the workflow measures"},
		{"bad inputs", wf("    chain: {length: 2}\n    inputs: random\n"), `bad.yaml:7: workflows[w].inputs: must be "unique" or "fixed", got "random"`},
		{"warm cache without warm-up", wf("    chain: {length: 2}\n    inputs: fixed\n    warmup: 0\n    task: {cacheable: true}\n"),
			"bad.yaml:8: workflows[w].warmup: must be >= 1 for fixed inputs with a cacheable task: the warm-up fills the cache the measured executions hit"},
		{"string expected", wf("    chain: {length: 2}\n    task: {version: 2}\n"), `bad.yaml:7: workflows[w].task.version: expected a string, got the integer 2 (quote it: "2")`},
		{"workflows not a list", header + "workflows: {a: 1}\n", "bad.yaml:3: workflows: expected a list, got a mapping"},
		// flyte: entries, the flyte engine's.
		{"flyte: unknown field", wf("    flyte:\n      launchPlan: bench.chain\n      version: v1\n      imputs: {n: 1}\n"),
			"bad.yaml:9: workflows[w].flyte.imputs: unknown field (known: domain, inputs, launchPlan, project, version)"},
		{"flyte: no launch plan", wf("    flyte:\n      version: v1\n"),
			"bad.yaml:7: workflows[w].flyte.launchPlan: required: the name of a registered launch plan"},
		{"flyte: no version", wf("    flyte: {launchPlan: bench.chain}\n"),
			`bad.yaml:6: workflows[w].flyte.version: required: the registered version of launch plan "bench.chain"`},
		{"flyte: a list input", wf("    flyte:\n      launchPlan: bench.chain\n      version: v1\n      inputs:\n        n: 1\n        xs: [1, 2]\n"),
			"bad.yaml:11: workflows[w].flyte.inputs.xs: a list is not a scalar: inputs take int, float, string or bool"},
		{"flyte: a bad input name", wf("    flyte:\n      launchPlan: bench.chain\n      version: v1\n      inputs: {9lives: 1}\n"),
			"bad.yaml:9: workflows[w].flyte.inputs.9lives: not a valid input name"},
		{"flyte: a path for a launch plan", wf("    flyte: {launchPlan: a/../b, version: v1}\n"),
			`bad.yaml:6: workflows[w].flyte.launchPlan: "a/../b": only letters, digits, '_', '.' and '-'`},
		{"flyte: a bundled field", wf("    flyte: {launchPlan: bench.chain, version: v1}\n    task: {duration: 1s}\n"),
			"bad.yaml:7: workflows[w].task: applies to the bundled controller's shapes; a flyte: entry's launch plan brings its own (inputs go under flyte.inputs)"},
		{"flyte: and a shape", wf("    chain: {length: 2}\n    flyte: {launchPlan: bench.chain, version: v1}\n"),
			"bad.yaml:7: workflows[w].flyte: conflicting shapes chain and flyte: a workflow has exactly one"},
		{"flyte: a name Flyte refuses", header + "workflows:\n  - {name: 9lives, description: d, flyte: {launchPlan: a, version: v1}}\n",
			`bad.yaml:4: workflows[9lives].name: "9lives": a flyte: entry's name must start with a letter (Flyte execution names do)`},
		{"flyte: mixed with a shape in a tier", header + "workflows:\n  - {name: a, description: d, chain: {length: 1}}\n  - name: b\n    description: d\n    flyte: {launchPlan: bench.chain, version: v1}\n",
			"bad.yaml:7: workflows[b].flyte: tier default mixes flyte: entries with the bundled controller's shapes (a is chain length=1): a tier runs on one engine"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("bad.yaml", []byte(tt.doc))
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("error\n got: %s\nwant: %s", got, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
			var se *SpecError
			if !errors.As(err, &se) || se.File != "bad.yaml" {
				t.Errorf("error %T does not name the file", err)
			}
		})
	}
}

func TestLoadMergesFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, doc string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	mine := write("mine.yaml", header+`tiers:
  smoke: {repetitions: 4}
workflows:
  - name: mine
    description: my own workflow
    fanout: {width: 2}
`)
	p, err := Load(Builtin, mine)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "builtin+mine" {
		t.Errorf("name = %q", p.Name)
	}
	c, err := p.Compile(TierSmoke)
	if err != nil {
		t.Fatal(err)
	}
	if c.Workflow("mine") == nil || c.Workflow("long-chain") == nil {
		t.Fatal("merged portfolio lacks a workflow")
	}
	// The later file's tier setting wins for every workflow.
	if got := c.Workflow("long-chain").Repetitions; got != 4 {
		t.Errorf("smoke repetitions = %d, want 4 from mine.yaml", got)
	}

	clash := write("clash.yaml", header+"workflows:\n  - {name: long-chain, description: d, chain: {length: 1}}\n")
	_, err = Load(Builtin, clash)
	if err == nil || !strings.HasPrefix(err.Error(), clash+`:4: workflows[0].name: duplicate workflow "long-chain" (first defined at builtin:defaults.yaml:`) {
		t.Errorf("clash: err = %v", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("missing file: err = %v", err)
	}
	alone, err := Load(mine)
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := alone.Compile(TierDefault); len(c.Workflows) != 1 {
		t.Errorf("a user file alone has %d workflows, want 1 (the built-in ones only with %q)", len(c.Workflows), Builtin)
	}
}

// TestFlyteEntries: a flyte: entry compiles to the launch plan it names,
// with repetitions, warm-ups and timeout like any entry, no Workflow
// template, and the flyte engine; its hash follows the launch plan.
func TestFlyteEntries(t *testing.T) {
	doc := func(version string) string {
		return header + `defaults: {repetitions: 7, warmup: 2, timeout: 90s}
workflows:
  - name: long-chain-100
    description: 100 chained no-op tasks on the deployment under test
    flyte:
      launchPlan: benchmarks.long_chain
      version: ` + version + `
      inputs: {n: 100, sleep: 0.5, label: fast, dry: false}
    tiers:
      smoke: {repetitions: 2, flyte: {inputs: {n: 5}}}
`
	}
	p, err := Parse("flyte.yaml", []byte(doc("v1")))
	if err != nil {
		t.Fatal(err)
	}
	c, err := p.Compile(TierDefault)
	if err != nil {
		t.Fatal(err)
	}
	w := c.Workflows[0]
	if c.Engine() != reports.EngineFlyte || w.Template != nil || w.Flyte == nil {
		t.Fatalf("engine %s, template %v, flyte %+v", c.Engine(), w.Template, w.Flyte)
	}
	if w.Repetitions != 7 || w.Warmup != 2 || w.Timeout != 90*time.Second || w.Flyte.LaunchPlan != "benchmarks.long_chain" || w.Flyte.Version != "v1" {
		t.Errorf("compiled %+v, %+v", w, *w.Flyte)
	}
	lits, err := w.Flyte.LiteralMap()
	if err != nil {
		t.Fatal(err)
	}
	if n := lits.Literals["n"].Scalar.Primitive.Integer; n == nil || *n != 100 || len(lits.Literals) != 4 {
		t.Errorf("inputs %+v", lits)
	}
	smoke, err := p.Compile(TierSmoke)
	if err != nil {
		t.Fatal(err)
	}
	if s := smoke.Workflows[0]; s.Repetitions != 2 || s.Flyte.Inputs["n"].Any() != int64(5) {
		t.Errorf("smoke tier: %d repetitions, inputs %v", s.Repetitions, s.Flyte.Inputs)
	}
	// Another version of the launch plan is another workflow.
	p2, err := Parse("flyte.yaml", []byte(doc("v2")))
	if err != nil {
		t.Fatal(err)
	}
	c2, err := p2.Compile(TierDefault)
	if err != nil {
		t.Fatal(err)
	}
	if c2.Hash == c.Hash || smoke.Hash == c.Hash {
		t.Errorf("hashes: v1 %s, v2 %s, smoke %s: a different launch plan or input must hash differently", c.Hash, c2.Hash, smoke.Hash)
	}
	builtin, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if bc, err := builtin.Compile(TierSmoke); err != nil || bc.Engine() != reports.EngineBundled {
		t.Errorf("the built-in smoke tier: engine %v (%v)", bc, err)
	}
}
