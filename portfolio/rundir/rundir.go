// Package rundir is the run directory: the one package that knows its
// layout. Every stage reads and writes a run through it.
//
//	DIR/run.json                 Manifest: what runs, where, in which order,
//	                             and each target's environment; written
//	                             before the first execution
//	DIR/portfolio.json           the compiled portfolio tier
//	DIR/executions/SEQ-WORKFLOW-TARGET-{w,r}N/
//	    record.json              Record, written last (atomically)
//	    <artifact>.gz            what the collection hooks gathered, gzip
//	DIR/reports/                 <target>.{yaml,txt,md,bench},
//	                             diff-<a>-<b>.{txt,md,yaml}
//
// An execution directory without record.json is a half-done execution:
// it is never aggregated, and a resumed run removes it and runs the
// execution again. Every file is written whole or not at all (a temporary
// file, synced, renamed over the target): after a kill -9 at any point the
// directory holds the manifest, some complete records and their artifacts,
// and at most one half-done execution directory.
//
// Artifacts are stored gzip-compressed under their name plus ".gz" and
// read back transparently; a run directory written by an earlier benchctl
// (schema v1: uncompressed artifacts, environment-<target>.yaml files)
// reads the same way.
package rundir

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/google/renameio/v2"
	"sigs.k8s.io/yaml"

	"github.com/benchctl/benchctl/controller/api/v1alpha1"
	"github.com/benchctl/benchctl/reports"
)

// File and directory names of the layout.
const (
	ManifestFile  = "run.json"
	PortfolioFile = "portfolio.json"
	ExecutionsDir = "executions"
	RecordFile    = "record.json"
	ReportsDir    = "reports"

	// ManifestSchema is written; ManifestSchemaV1 is still read.
	ManifestSchema   = "benchctl.dev/run/v2"
	ManifestSchemaV1 = "benchctl.dev/run/v1"
	RecordSchema     = "benchctl.dev/execution/v1"

	// compressedSuffix marks a gzip-compressed artifact.
	compressedSuffix = ".gz"
)

// Artifact names: the files collection writes into an execution directory
// (each stored with compressedSuffix).
const (
	ArtifactMetricsBefore   = "controller-metrics-before.prom"
	ArtifactMetricsAfter    = "controller-metrics-after.prom"
	ArtifactAPIServerBefore = "apiserver-metrics-before.prom"
	ArtifactAPIServerAfter  = "apiserver-metrics-after.prom"
	// ArtifactSpans is the execution's spans as an OTLP
	// ExportTraceServiceRequest in protobuf binary encoding;
	// ArtifactSpansJSON is the same in OTLP JSON (what schema v1 runs hold).
	ArtifactSpans     = "spans.otlp.pb"
	ArtifactSpansJSON = "spans.otlp.json"
	ArtifactSpansMeta = "spans-meta.json"
	ArtifactPods      = "pods.json"
	// ArtifactAdminEvents is what the admin service persisted for the
	// execution ({"events": [...]}, each with its database write time) and
	// ArtifactAdminMetrics the execution-metrics span tree it derived from
	// them (absent when the controller's event sink is not admin).
	ArtifactAdminEvents  = "admin-events.json"
	ArtifactAdminMetrics = "admin-metrics.json"
	// The flyte engine's: the execution as Flyte Admin recorded it, its
	// node executions with their task executions (flyte.NodeTree), the
	// span tree of GetExecutionMetrics, and flytepropeller's metrics
	// before and after it (when its endpoint was given).
	ArtifactFlyteExecution  = "flyte-execution.json"
	ArtifactFlyteNodes      = "flyte-nodes.json"
	ArtifactFlyteMetrics    = "flyte-metrics.json"
	ArtifactPropellerBefore = "propeller-metrics-before.prom"
	ArtifactPropellerAfter  = "propeller-metrics-after.prom"
	// With run --profile: the controller's CPU profile over the
	// execution, and its allocation profile (cumulative since the process
	// started) before and after; pprof's own gzipped format, stored as
	// is (go tool pprof -diff_base before after: the execution's own).
	ArtifactCPUProfile   = "profile-cpu.pb.gz"
	ArtifactAllocsBefore = "profile-allocs-before.pb.gz"
	ArtifactAllocsAfter  = "profile-allocs-after.pb.gz"
)

// Manifest describes a run. It is written before the first execution and
// checked when the run is resumed.
type Manifest struct {
	Schema string `json:"schema"`
	// RunID labels every Workflow of the run.
	RunID     string       `json:"runID"`
	Portfolio PortfolioRef `json:"portfolio"`
	// Workflows are the portfolio's workflows in order, with what was
	// planned for each.
	Workflows []WorkflowRef `json:"workflows"`
	// Targets are the deployments the run compares, the first being the
	// baseline, each with its environment.
	Targets []Target `json:"targets"`
	// Plan is every execution in the order the runner performs them.
	Plan []PlanEntry `json:"plan"`
	// Started is when the run first started (unix ns).
	Started int64 `json:"started"`
	// Resumes records every time the run was continued.
	Resumes []Resume `json:"resumes,omitempty"`
}

// PortfolioRef names a compiled portfolio tier.
type PortfolioRef struct {
	Name string `json:"name"`
	Tier string `json:"tier"`
	Hash string `json:"hash"`
}

// WorkflowRef is one workflow of the run with its planned executions.
type WorkflowRef struct {
	Name        string `json:"name"`
	Repetitions int    `json:"repetitions"`
	Warmup      int    `json:"warmup"`
	// Stopped says why adaptive repetitions stopped for the workflow
	// (run --target-precision), once they have.
	Stopped *reports.Stopped `json:"stopped,omitempty"`
}

// Target is one deployment the run executes on.
type Target struct {
	// Name is the deployment's name: a config name ("default") or, when
	// one config runs two controllers, a role ("base", "head").
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	// Environment is what the target's reports record about where it ran
	// (all but the portfolio, which the manifest names).
	Environment reports.Environment `json:"environment"`
	// Inputs are the deployment's chart values less what only locates it
	// (deploy.Prepared.Inputs), and InputsHash their hash: a resumed run
	// must find them unchanged.
	Inputs     map[string]any `json:"inputs,omitempty"`
	InputsHash string         `json:"inputsHash,omitempty"`
}

// Resume is one continuation of the run.
type Resume struct {
	At int64 `json:"at"`
	// Forced lists the differences from the manifest that --force
	// accepted; empty for a clean resume.
	Forced []string `json:"forced,omitempty"`
}

// PlanEntry is one planned execution.
type PlanEntry struct {
	// Seq is the entry's index in the plan.
	Seq      int    `json:"seq"`
	Workflow string `json:"workflow"`
	Target   string `json:"target"`
	// Repetition counts from 1, separately for warm-ups and measured ones.
	Repetition int  `json:"repetition"`
	Warmup     bool `json:"warmup"`
}

// DirName is the entry's execution directory name.
func (p PlanEntry) DirName() string {
	kind := "r"
	if p.Warmup {
		kind = "w"
	}
	return fmt.Sprintf("%04d-%s-%s-%s%d", p.Seq, p.Workflow, p.Target, kind, p.Repetition)
}

// Record is one finished execution, as written to record.json.
type Record struct {
	Schema string `json:"schema"`
	PlanEntry
	Namespace string `json:"namespace"`
	// Name is the Workflow object's name; ExecutionID its spec.executionID.
	Name        string `json:"name"`
	ExecutionID string `json:"executionID"`
	// Began is when the runner started the execution (before the Before
	// hook), Ended when it finished it (after the After hook); unix ns,
	// harness bookkeeping only.
	Began int64 `json:"began"`
	Ended int64 `json:"ended"`
	// Created is when the Workflow create call returned (unix ns): the
	// "created" instant of the measurement definitions. 0 if never created.
	Created int64 `json:"created"`
	// CreateSent is when the last attempt of that create call was sent
	// (unix ns; 0 in records written before it existed). The controller
	// can start on the Workflow between the two: under load the answer
	// takes a while to reach the harness.
	CreateSent int64 `json:"createSent,omitempty"`
	// Observed is when the runner's watch saw the terminal phase (unix ns).
	Observed int64 `json:"observed,omitempty"`
	// Phase is the final workflow phase ("" if it never reached one).
	Phase    v1alpha1.WorkflowPhase `json:"phase"`
	TimedOut bool                   `json:"timedOut"`
	// Error says what went wrong, if anything.
	Error string `json:"error,omitempty"`
	// ControllerExited: the target's controller stopped during the
	// execution (Error says how it was noticed). The record is kept as
	// evidence of a failed execution; a resumed run runs it again.
	ControllerExited bool `json:"controllerExited,omitempty"`
	// Final is the Workflow object as read after the terminal phase (or at
	// the timeout); nil if it was never created.
	Final *v1alpha1.Workflow `json:"final,omitempty"`
	// Closure is the closure the execution was created with; the final
	// object may have offloaded it.
	Closure *v1alpha1.WorkflowClosure `json:"closure"`
	// Artifacts are the artifact names the hooks wrote.
	Artifacts []string `json:"artifacts,omitempty"`

	// Dir is the execution directory (set when read, not stored).
	Dir string `json:"-"`
}

// Succeeded reports whether the execution completed as planned.
func (r *Record) Succeeded() bool {
	return r.Phase == v1alpha1.WorkflowSucceeded && !r.TimedOut && r.Error == ""
}

// ReadArtifact reads one of the execution's artifacts, compressed or not.
func (r *Record) ReadArtifact(name string) ([]byte, error) {
	return ReadArtifact(r.Dir, name)
}

// Dir is an open run directory.
type Dir struct {
	Path string
}

// Open returns the run directory at path, which need not exist yet.
func Open(path string) *Dir { return &Dir{Path: path} }

// ErrNoRun says a directory holds no run manifest.
var ErrNoRun = errors.New("no benchctl run here")

// probeBytes is what Probe writes: more than any record, so that a disk
// too full for one fails the probe.
const probeBytes = 1 << 20

// Probe checks, before anything is measured, that the run directory can
// be created and written (permissions, a full disk, a read-only mount):
// it writes and syncs a file of probeBytes and removes it.
func (d *Dir) Probe() error {
	if err := os.MkdirAll(d.Path, 0o755); err != nil {
		return fmt.Errorf("run directory %s cannot be created: %w", d.Path, err)
	}
	f, err := os.CreateTemp(d.Path, ".probe-*")
	if err != nil {
		return fmt.Errorf("run directory %s is not writable: %w", d.Path, err)
	}
	defer os.Remove(f.Name())
	_, err = f.Write(make([]byte, probeBytes))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("run directory %s cannot hold a record (disk full?): %w", d.Path, err)
	}
	return nil
}

// ReadManifest reads the manifest (either schema). ErrNoRun when absent.
func (d *Dir) ReadManifest() (*Manifest, error) {
	p := filepath.Join(d.Path, ManifestFile)
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w (no %s)", d.Path, ErrNoRun, ManifestFile)
	}
	if err != nil {
		return nil, fmt.Errorf("read run manifest: %w", err)
	}
	var head struct {
		Schema string `json:"schema"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	switch head.Schema {
	case ManifestSchema:
		m := &Manifest{}
		if err := json.Unmarshal(b, m); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		return m, nil
	case ManifestSchemaV1:
		return d.readManifestV1(b)
	}
	return nil, fmt.Errorf("%s: schema %q, want %q (or the older %q)", p, head.Schema, ManifestSchema, ManifestSchemaV1)
}

// Create makes a new run directory holding the compiled portfolio and the
// manifest; the manifest goes last, since its presence marks a run. The
// directory must be empty or absent.
func (d *Dir) Create(m *Manifest, compiled any) error {
	if entries, err := os.ReadDir(d.Path); err == nil && len(entries) > 0 {
		return fmt.Errorf("%s is not empty and holds no run; choose a new or empty output directory", d.Path)
	}
	if err := os.MkdirAll(filepath.Join(d.Path, ExecutionsDir), 0o755); err != nil {
		return fmt.Errorf("create run directory: %w", err)
	}
	if err := writeJSON(filepath.Join(d.Path, PortfolioFile), compiled); err != nil {
		return err
	}
	m.Schema = ManifestSchema
	return d.WriteManifest(m)
}

// WriteManifest replaces the manifest.
func (d *Dir) WriteManifest(m *Manifest) error {
	m.Schema = ManifestSchema
	return writeJSON(filepath.Join(d.Path, ManifestFile), m)
}

// ReadPortfolio decodes the compiled portfolio into v.
func (d *Dir) ReadPortfolio(v any) error {
	p := filepath.Join(d.Path, PortfolioFile)
	b, err := os.ReadFile(p)
	if err != nil {
		return fmt.Errorf("read run portfolio: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	return nil
}

// Execution returns the directory of one planned execution.
func (d *Dir) Execution(p PlanEntry) *Execution {
	return &Execution{Path: filepath.Join(d.Path, ExecutionsDir, p.DirName())}
}

// ReportsDir is where the run's reports and diffs go.
func (d *Dir) ReportsDir() string { return filepath.Join(d.Path, ReportsDir) }

// Damaged is an execution directory whose record cannot be read: a record
// truncated or edited by hand. It counts as not done.
type Damaged struct {
	Entry PlanEntry
	Dir   string
	Err   error
}

// Records reads the records present for the plan, keyed by sequence. A
// record that does not match its plan entry is an error (the directory
// mixes runs, and counting it would be wrong); one that cannot be decoded
// is returned as damaged.
func (d *Dir) Records(plan []PlanEntry) (map[int]*Record, []Damaged, error) {
	out := map[int]*Record{}
	var damaged []Damaged
	for _, p := range plan {
		e := d.Execution(p)
		rec, err := e.ReadRecord()
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue
		case errors.Is(err, errDecode):
			damaged = append(damaged, Damaged{Entry: p, Dir: e.Path, Err: err})
			continue
		case err != nil:
			return nil, nil, err
		}
		if rec.PlanEntry != p {
			return nil, nil, fmt.Errorf("%s: record is for %+v but the plan says %+v", filepath.Join(e.Path, RecordFile), rec.PlanEntry, p)
		}
		out[p.Seq] = rec
	}
	return out, damaged, nil
}

// Run is a run directory read back.
type Run struct {
	Dir      string
	Manifest *Manifest
	// Records are the finished executions in plan order, warm-ups
	// included (Record.Warmup says which).
	Records []*Record
	// Missing are plan entries without a record (an interrupted run).
	Missing []PlanEntry
	// Damaged are records that could not be read; they are also Missing.
	Damaged []Damaged
}

// Load reads a run directory: the manifest and every readable record.
func Load(path string) (*Run, error) {
	d := Open(path)
	m, err := d.ReadManifest()
	if err != nil {
		return nil, err
	}
	recs, damaged, err := d.Records(m.Plan)
	if err != nil {
		return nil, err
	}
	r := &Run{Dir: path, Manifest: m, Damaged: damaged}
	for _, p := range m.Plan {
		if rec, ok := recs[p.Seq]; ok {
			r.Records = append(r.Records, rec)
		} else {
			r.Missing = append(r.Missing, p)
		}
	}
	return r, nil
}

// Complete reports whether every planned execution has a record.
func (r *Run) Complete() bool { return len(r.Missing) == 0 }

// Failed counts the recorded executions that did not succeed.
func (r *Run) Failed() int {
	n := 0
	for _, rec := range r.Records {
		if !rec.Succeeded() {
			n++
		}
	}
	return n
}

// Samples returns the measured records (no warm-ups) of one workflow on
// one target, in plan order: the executions a report's statistics use.
func (r *Run) Samples(target, workflow string) []*Record {
	var out []*Record
	for _, rec := range r.Records {
		if !rec.Warmup && rec.Target == target && rec.Workflow == workflow {
			out = append(out, rec)
		}
	}
	return out
}

// Target returns the named target of the manifest, or nil.
func (m *Manifest) Target(name string) *Target {
	for i := range m.Targets {
		if m.Targets[i].Name == name {
			return &m.Targets[i]
		}
	}
	return nil
}

// TargetNames lists the targets in order.
func (m *Manifest) TargetNames() []string {
	var out []string
	for _, t := range m.Targets {
		out = append(out, t.Name)
	}
	return out
}

// Execution is one execution's directory.
type Execution struct {
	Path string
}

// errDecode marks a record file that exists but cannot be decoded.
var errDecode = errors.New("unreadable record")

// ReadRecord reads the execution's record; fs.ErrNotExist when there is
// none yet.
func (e *Execution) ReadRecord() (*Record, error) {
	p := filepath.Join(e.Path, RecordFile)
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	rec := &Record{}
	if err := json.Unmarshal(b, rec); err != nil {
		return nil, fmt.Errorf("%s: %w: %v", p, errDecode, err)
	}
	if rec.Schema != RecordSchema {
		return nil, fmt.Errorf("%s: %w: schema %q, want %q", p, errDecode, rec.Schema, RecordSchema)
	}
	if rec.Target == "" {
		// Records of schema v1 runs name the target "config".
		var v1 struct {
			Config string `json:"config"`
		}
		_ = json.Unmarshal(b, &v1)
		rec.Target = v1.Config
	}
	rec.Dir = e.Path
	return rec, nil
}

// Prepare creates the execution's directory, empty: whatever a previous,
// half-done attempt left there is removed.
func (e *Execution) Prepare() error {
	if err := os.RemoveAll(e.Path); err != nil {
		return fmt.Errorf("clear execution directory: %w", err)
	}
	if err := os.MkdirAll(e.Path, 0o755); err != nil {
		return fmt.Errorf("create execution directory: %w", err)
	}
	return nil
}

// Remove deletes the execution's directory (an interrupted execution).
func (e *Execution) Remove() error { return os.RemoveAll(e.Path) }

// WriteArtifact stores one artifact, gzip-compressed, atomically.
func (e *Execution) WriteArtifact(name string, data []byte) error {
	var buf bytes.Buffer
	buf.Grow(len(data)/4 + 64)
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		return err
	}
	if _, err := zw.Write(data); err != nil {
		return fmt.Errorf("compress %s: %w", name, err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("compress %s: %w", name, err)
	}
	return writeFile(filepath.Join(e.Path, name+compressedSuffix), buf.Bytes())
}

// WriteRawArtifact stores an artifact that is compressed already (a pprof
// profile) as it is, atomically, under its own name.
func (e *Execution) WriteRawArtifact(name string, data []byte) error {
	return writeFile(filepath.Join(e.Path, name), data)
}

// Artifacts lists the artifact names present, sorted.
func (e *Execution) Artifacts() ([]string, error) {
	entries, err := os.ReadDir(e.Path)
	if err != nil {
		return nil, fmt.Errorf("list artifacts of %s: %w", e.Path, err)
	}
	var out []string
	for _, en := range entries {
		n := en.Name()
		if en.IsDir() || n == RecordFile || strings.HasPrefix(n, ".") {
			continue
		}
		out = append(out, strings.TrimSuffix(n, compressedSuffix))
	}
	slices.Sort(out)
	return out, nil
}

// WriteRecord writes the execution's record: the last file an execution
// writes, which marks it done.
func (e *Execution) WriteRecord(rec *Record) error {
	rec.Schema = RecordSchema
	return writeJSON(filepath.Join(e.Path, RecordFile), rec)
}

// VerifyArtifacts reads each artifact the record lists through (gzip
// checks length and CRC at the end, so a truncated file fails). A record
// is only as good as its artifacts: the runner calls this on resume, and
// an execution whose artifact is missing or truncated (a crash mid-copy,
// a full disk) runs again. Aggregation does not: it reads every artifact
// anyway, and names one it cannot.
func (r *Record) VerifyArtifacts() error {
	for _, n := range r.Artifacts {
		if _, err := ReadArtifact(r.Dir, n); err != nil {
			return fmt.Errorf("artifact of the record is damaged: %w", err)
		}
	}
	return nil
}

// ReadArtifact reads an artifact of the execution directory dir, stored
// compressed or not; fs.ErrNotExist when it is absent.
func ReadArtifact(dir, name string) ([]byte, error) {
	p := filepath.Join(dir, name+compressedSuffix)
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("artifact %s: %w", name, err)
		}
		return b, nil
	}
	if err != nil {
		return nil, fmt.Errorf("artifact %s: %w", name, err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return b, nil
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	return writeFile(path, append(b, '\n'))
}

// writeFile writes a file whole or not at all (renameio: a temporary
// file, synced, renamed over path), benchctl's one rule for every file it
// keeps.
func writeFile(path string, data []byte) error {
	if err := renameio.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// manifestV1 is the schema v1 manifest: targets without environments
// (those were environment-<config>.yaml files) and plan entries naming
// the target "config".
type manifestV1 struct {
	RunID     string       `json:"runID"`
	Portfolio PortfolioRef `json:"portfolio"`
	Targets   []struct {
		Config    string `json:"config"`
		Namespace string `json:"namespace"`
	} `json:"targets"`
	Plan []struct {
		Seq        int    `json:"seq"`
		Workflow   string `json:"workflow"`
		Config     string `json:"config"`
		Repetition int    `json:"repetition"`
		Warmup     bool   `json:"warmup"`
	} `json:"plan"`
	Started int64 `json:"started"`
}

// readManifestV1 converts a v1 manifest and its environment files.
// Records of v1 runs name the target "config" too; ReadRecord maps it.
func (d *Dir) readManifestV1(b []byte) (*Manifest, error) {
	var v1 manifestV1
	if err := json.Unmarshal(b, &v1); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(d.Path, ManifestFile), err)
	}
	m := &Manifest{Schema: ManifestSchemaV1, RunID: v1.RunID, Portfolio: v1.Portfolio, Started: v1.Started}
	for _, t := range v1.Targets {
		tg := Target{Name: t.Config, Namespace: t.Namespace}
		p := filepath.Join(d.Path, "environment-"+t.Config+".yaml")
		eb, err := os.ReadFile(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			// A v1 run killed before its environment was written: the
			// target's reports say that they lack it.
		case err != nil:
			return nil, fmt.Errorf("environment of target %s: %w", t.Config, err)
		default:
			if err := yaml.UnmarshalStrict(eb, &tg.Environment); err != nil {
				return nil, fmt.Errorf("%s: %w", p, err)
			}
		}
		m.Targets = append(m.Targets, tg)
	}
	index := map[string]int{}
	for _, p := range v1.Plan {
		m.Plan = append(m.Plan, PlanEntry{Seq: p.Seq, Workflow: p.Workflow, Target: p.Config, Repetition: p.Repetition, Warmup: p.Warmup})
		i, ok := index[p.Workflow]
		if !ok {
			i = len(m.Workflows)
			index[p.Workflow] = i
			m.Workflows = append(m.Workflows, WorkflowRef{Name: p.Workflow})
		}
		w := &m.Workflows[i]
		if p.Warmup {
			w.Warmup = max(w.Warmup, p.Repetition)
		} else {
			w.Repetitions = max(w.Repetitions, p.Repetition)
		}
	}
	return m, nil
}
