package rundir

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/benchctl/benchctl/reports"
)

func testManifest() *Manifest {
	plan := []PlanEntry{
		{Seq: 0, Workflow: "w", Target: "a", Repetition: 1, Warmup: true},
		{Seq: 1, Workflow: "w", Target: "a", Repetition: 1},
		{Seq: 2, Workflow: "w", Target: "a", Repetition: 2},
	}
	return &Manifest{RunID: "r1", Portfolio: PortfolioRef{Name: "p", Tier: "smoke", Hash: "sha256:x"},
		Workflows: []WorkflowRef{{Name: "w", Repetitions: 2, Warmup: 1}},
		Targets:   []Target{{Name: "a", Namespace: "ns", Environment: reports.Environment{Provider: reports.Provider{Name: "local"}}}},
		Plan:      plan, Started: 7}
}

// TestRunDirectory writes a run as the pipeline does and reads it back:
// the manifest first, records last, artifacts compressed and read
// transparently, half-done and damaged executions told apart.
func TestRunDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run")
	d := Open(path)
	if _, err := d.ReadManifest(); !errors.Is(err, ErrNoRun) {
		t.Fatalf("empty directory: err = %v, want ErrNoRun", err)
	}
	m := testManifest()
	if err := d.Create(m, map[string]string{"compiled": "yes"}); err != nil {
		t.Fatal(err)
	}
	// Execution 0 complete, 1 half-done (artifacts, no record), 2 damaged.
	e0 := d.Execution(m.Plan[0])
	if err := e0.Prepare(); err != nil {
		t.Fatal(err)
	}
	big := []byte(strings.Repeat("apiserver_request_total{verb=\"PUT\"} 1\n", 1000))
	if err := e0.WriteArtifact(ArtifactAPIServerAfter, big); err != nil {
		t.Fatal(err)
	}
	if err := e0.WriteRecord(&Record{PlanEntry: m.Plan[0], Name: "w-0"}); err != nil {
		t.Fatal(err)
	}
	e1 := d.Execution(m.Plan[1])
	if err := e1.Prepare(); err != nil {
		t.Fatal(err)
	}
	if err := e1.WriteArtifact(ArtifactSpans, []byte("x")); err != nil {
		t.Fatal(err)
	}
	e2 := d.Execution(m.Plan[2])
	if err := e2.Prepare(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e2.Path, RecordFile), []byte(`{"schema": "benchctl.dev/exec`), 0o644); err != nil {
		t.Fatal(err)
	}

	run, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Records) != 1 || len(run.Missing) != 2 || len(run.Damaged) != 1 || run.Damaged[0].Entry.Seq != 2 {
		t.Fatalf("records %d, missing %d, damaged %+v", len(run.Records), len(run.Missing), run.Damaged)
	}
	if run.Manifest.Schema != ManifestSchema || run.Manifest.Targets[0].Environment.Provider.Name != "local" || run.Manifest.Workflows[0].Repetitions != 2 {
		t.Errorf("manifest read back as %+v", run.Manifest)
	}
	got, err := run.Records[0].ReadArtifact(ArtifactAPIServerAfter)
	if err != nil || string(got) != string(big) {
		t.Fatalf("artifact read back: %d bytes, %v", len(got), err)
	}
	fi, err := os.Stat(filepath.Join(e0.Path, ArtifactAPIServerAfter+compressedSuffix))
	if err != nil || fi.Size() > int64(len(big))/10 {
		t.Errorf("artifact stored as %v (%v); want it compressed", fi, err)
	}
	if names, err := e0.Artifacts(); err != nil || len(names) != 1 || names[0] != ArtifactAPIServerAfter {
		t.Errorf("artifacts = %v (%v)", names, err)
	}
	if _, err := run.Records[0].ReadArtifact(ArtifactPods); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("absent artifact: err = %v", err)
	}
	var compiled map[string]string
	if err := d.ReadPortfolio(&compiled); err != nil || compiled["compiled"] != "yes" {
		t.Errorf("portfolio read back: %v %v", compiled, err)
	}
	// No temporary files are left behind.
	leftovers, _ := filepath.Glob(filepath.Join(path, ".*"))
	if len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
	// A new run is never written over another one, nor into a directory
	// holding other files.
	if err := d.Create(testManifest(), nil); err == nil {
		t.Error("Create over an existing run succeeded")
	}
}

// TestRecordOfAnotherEntry: a record that does not match its plan entry
// is an error, never a sample: the directory mixes runs.
func TestRecordOfAnotherEntry(t *testing.T) {
	d := Open(t.TempDir())
	m := testManifest()
	if err := d.Create(m, nil); err != nil {
		t.Fatal(err)
	}
	e := d.Execution(m.Plan[1])
	if err := e.Prepare(); err != nil {
		t.Fatal(err)
	}
	if err := e.WriteRecord(&Record{PlanEntry: m.Plan[2]}); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(d.Path); err == nil || !strings.Contains(err.Error(), "record is for") {
		t.Errorf("err = %v", err)
	}
}

// TestSchemaV1 reads a run directory written by benchctl f1d9bbe: its
// manifest names targets "config" and keeps environments in files.
func TestSchemaV1(t *testing.T) {
	run, err := Load("../../aggregate/testdata/smoke-run")
	if err != nil {
		t.Fatal(err)
	}
	m := run.Manifest
	if m.Schema != ManifestSchemaV1 || len(m.Targets) != 1 || m.Targets[0].Name != "default" || m.Targets[0].Environment.Config.Name != "default" {
		t.Fatalf("v1 manifest read as %+v", m)
	}
	if len(m.Workflows) != 12 || m.Workflows[0].Name != "short-chain" || m.Workflows[0].Repetitions != 3 || m.Workflows[0].Warmup != 1 {
		t.Errorf("workflows %+v", m.Workflows)
	}
	if !run.Complete() || len(run.Records) != 48 || run.Records[5].Target != "default" {
		t.Errorf("%d records, complete %v", len(run.Records), run.Complete())
	}
}

// TestTruncatedArtifactIsDamaged: a record whose listed artifact is
// truncated (or gone) fails VerifyArtifacts, naming it; the runner then
// runs that execution again on resume.
func TestTruncatedArtifactIsDamaged(t *testing.T) {
	tests := []struct {
		name   string
		damage func(path string) error
		want   string
	}{
		{"intact", func(string) error { return nil }, ""},
		{"truncated spans", func(p string) error {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(p, b[:len(b)/2], 0o644)
		}, ArtifactSpans},
		{"spans gone", os.Remove, ArtifactSpans},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Open(filepath.Join(t.TempDir(), "run"))
			m := testManifest()
			if err := d.Create(m, nil); err != nil {
				t.Fatal(err)
			}
			e := d.Execution(m.Plan[0])
			if err := e.Prepare(); err != nil {
				t.Fatal(err)
			}
			spans := []byte(strings.Repeat("span bytes that compress ", 4000))
			if err := e.WriteArtifact(ArtifactSpans, spans); err != nil {
				t.Fatal(err)
			}
			if err := e.WriteRecord(&Record{PlanEntry: m.Plan[0], Name: "w-0", Artifacts: []string{ArtifactSpans}}); err != nil {
				t.Fatal(err)
			}
			if err := tt.damage(filepath.Join(e.Path, ArtifactSpans+compressedSuffix)); err != nil {
				t.Fatal(err)
			}
			recs, _, err := d.Records(m.Plan)
			if err != nil || len(recs) != 1 {
				t.Fatalf("%d records, %v", len(recs), err)
			}
			err = recs[0].VerifyArtifacts()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("intact: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v: want the record damaged, naming %s", err, tt.want)
			}
		})
	}
}
