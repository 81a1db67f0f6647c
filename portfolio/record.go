package portfolio

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/benchctl/benchctl/controller/api/v1alpha1"
)

// Run directory layout:
//
//	DIR/run.json                       Manifest: run ID, portfolio, targets, plan
//	DIR/portfolio.json                 the Compiled tier (templates, counts, settings)
//	DIR/executions/SEQ-WORKFLOW-CONFIG-{w,r}N/
//	    record.json                    Record, written last and atomically
//	    ...                            artifacts written by Hooks
//
// An execution directory without record.json is a half-done execution: a
// resumed run deletes it and runs the execution again.
const (
	ManifestFile  = "run.json"
	PortfolioFile = "portfolio.json"
	ExecutionsDir = "executions"
	RecordFile    = "record.json"

	// Schema versions of the two JSON files.
	ManifestSchema = "benchctl.dev/run/v1"
	RecordSchema   = "benchctl.dev/execution/v1"
)

// Manifest describes a run; it is written when the run starts and checked
// when it is resumed.
type Manifest struct {
	Schema string `json:"schema"`
	// RunID labels every Workflow of the run (LabelRun).
	RunID string `json:"runID"`
	// Portfolio identifies what ran.
	Portfolio PortfolioRef `json:"portfolio"`
	Targets   []TargetRef  `json:"targets"`
	// Plan is every execution in the order the runner performs them.
	Plan []PlanEntry `json:"plan"`
	// Started is when the run first started (unix ns).
	Started int64 `json:"started"`
}

// PortfolioRef names a compiled portfolio tier.
type PortfolioRef struct {
	Name string `json:"name"`
	Tier string `json:"tier"`
	Hash string `json:"hash"`
}

// TargetRef is a Target as recorded.
type TargetRef struct {
	Config    string `json:"config"`
	Namespace string `json:"namespace"`
}

// PlanEntry is one planned execution.
type PlanEntry struct {
	// Seq is the entry's index in the plan.
	Seq      int    `json:"seq"`
	Workflow string `json:"workflow"`
	Config   string `json:"config"`
	// Repetition counts from 1, separately for warm-ups and measured ones.
	Repetition int  `json:"repetition"`
	Warmup     bool `json:"warmup"`
}

// dirName is the entry's execution directory name.
func (p PlanEntry) dirName() string {
	kind := "r"
	if p.Warmup {
		kind = "w"
	}
	return fmt.Sprintf("%04d-%s-%s-%s%d", p.Seq, p.Workflow, p.Config, kind, p.Repetition)
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
	// Observed is when the runner's watch saw the terminal phase (unix ns).
	Observed int64 `json:"observed,omitempty"`
	// Phase is the final workflow phase ("" if it never reached one).
	Phase    v1alpha1.WorkflowPhase `json:"phase"`
	TimedOut bool                   `json:"timedOut"`
	// Error says what went wrong, if anything: the create call, a hook, the
	// wait. A failed workflow has Phase Failed and its status message here.
	Error string `json:"error,omitempty"`
	// Final is the Workflow object as read after the terminal phase (or at
	// the timeout); nil if it was never created.
	Final *v1alpha1.Workflow `json:"final,omitempty"`
	// Closure is the closure the execution was created with; the final
	// object may have offloaded it.
	Closure *v1alpha1.WorkflowClosure `json:"closure"`
	// Artifacts are the files the hooks wrote, relative to Dir.
	Artifacts []string `json:"artifacts,omitempty"`

	// Dir is the execution directory (set by LoadRun, not stored).
	Dir string `json:"-"`
}

// Succeeded reports whether the execution completed as planned.
func (r *Record) Succeeded() bool {
	return r.Phase == v1alpha1.WorkflowSucceeded && !r.TimedOut && r.Error == ""
}

// Run is a run directory read back.
type Run struct {
	Dir       string
	Manifest  Manifest
	Portfolio *Compiled
	// Records are the finished executions in plan order; warm-ups included
	// (Record.Warmup says which).
	Records []*Record
	// Missing are plan entries without a record (an interrupted run).
	Missing []PlanEntry
}

// Complete reports whether every planned execution has a record.
func (r *Run) Complete() bool { return len(r.Missing) == 0 }

// Measured returns the records that count: not warm-ups.
func (r *Run) Measured() []*Record {
	var out []*Record
	for _, rec := range r.Records {
		if !rec.Warmup {
			out = append(out, rec)
		}
	}
	return out
}

// Samples returns the measured records (no warm-ups) of one workflow on
// one config, in plan order: the executions a report's statistics use.
func (r *Run) Samples(config, workflow string) []*Record {
	var out []*Record
	for _, rec := range r.Records {
		if !rec.Warmup && rec.Config == config && rec.Workflow == workflow {
			out = append(out, rec)
		}
	}
	return out
}

// LoadRun reads a run directory: the manifest, the compiled portfolio and
// every execution record, checked against the plan.
func LoadRun(dir string) (*Run, error) {
	r := &Run{Dir: dir}
	if err := readJSON(filepath.Join(dir, ManifestFile), &r.Manifest); err != nil {
		return nil, err
	}
	if r.Manifest.Schema != ManifestSchema {
		return nil, fmt.Errorf("%s: schema %q, want %q", filepath.Join(dir, ManifestFile), r.Manifest.Schema, ManifestSchema)
	}
	r.Portfolio = &Compiled{}
	if err := readJSON(filepath.Join(dir, PortfolioFile), r.Portfolio); err != nil {
		return nil, err
	}
	recs, err := readRecords(dir, r.Manifest.Plan)
	if err != nil {
		return nil, err
	}
	for _, p := range r.Manifest.Plan {
		if rec, ok := recs[p.Seq]; ok {
			r.Records = append(r.Records, rec)
		} else {
			r.Missing = append(r.Missing, p)
		}
	}
	return r, nil
}

// readRecords reads the records present in dir, keyed by plan sequence. A
// record that does not match its plan entry is an error: the directory was
// tampered with or mixes runs, and counting it would be wrong.
func readRecords(dir string, plan []PlanEntry) (map[int]*Record, error) {
	out := map[int]*Record{}
	for _, p := range plan {
		edir := filepath.Join(dir, ExecutionsDir, p.dirName())
		path := filepath.Join(edir, RecordFile)
		rec := &Record{}
		if err := readJSON(path, rec); errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			return nil, err
		}
		if rec.Schema != RecordSchema {
			return nil, fmt.Errorf("%s: schema %q, want %q", path, rec.Schema, RecordSchema)
		}
		if rec.PlanEntry != p {
			return nil, fmt.Errorf("%s: record is for %+v but the plan says %+v", path, rec.PlanEntry, p)
		}
		rec.Dir = edir
		out[p.Seq] = rec
	}
	return out, nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read run file: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// writeJSON writes v to path atomically: a temporary file in the same
// directory, synced, then renamed over path, then the directory synced.
// A crash leaves either the old file or the new one, never half of one.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	b = append(b, '\n')
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// artifacts lists the files in an execution directory other than the
// record and temporary files, as paths relative to it.
func artifacts(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		if rel == RecordFile || strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list artifacts of %s: %w", dir, err)
	}
	slices.Sort(out)
	return out, nil
}
