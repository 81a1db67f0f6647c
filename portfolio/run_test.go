package portfolio

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/benchctl/benchctl/controller/api/v1alpha1"
	"github.com/benchctl/benchctl/portfolio/rundir"
)

// fakeController completes Workflows in a fake cluster the way the real
// one would as seen from the runner: it moves each new Workflow to a phase
// chosen by outcome (by benchmark name), after a short delay, and creates
// a pod per Workflow so that cleanup has something to delete.
type fakeController struct {
	t       *testing.T
	c       client.WithWatch
	outcome map[string]v1alpha1.WorkflowPhase // benchmark -> phase; "" = never finishes
	// onCreate runs for the n-th Workflow seen (from 0); returning false
	// leaves that Workflow unfinished.
	onCreate func(n int, w *v1alpha1.Workflow) bool

	mu      sync.Mutex
	created []*v1alpha1.Workflow
}

func newFakeCluster(t *testing.T) client.WithWatch {
	t.Helper()
	s, err := NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	return fake.NewClientBuilder().WithScheme(s).Build()
}

func (f *fakeController) start(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	w, err := f.c.Watch(ctx, &v1alpha1.WorkflowList{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); w.Stop(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ev := range w.ResultChan() {
			wf, ok := ev.Object.(*v1alpha1.Workflow)
			if !ok || ev.Type != watch.Added {
				continue
			}
			f.mu.Lock()
			n := len(f.created)
			f.created = append(f.created, wf.DeepCopy())
			onCreate := f.onCreate
			f.mu.Unlock()
			if onCreate != nil && !onCreate(n, wf) {
				continue
			}
			phase := f.outcome[wf.Labels[LabelBenchmark]]
			if phase == "" {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				f.complete(ctx, wf, phase)
			}()
		}
	}()
}

func (f *fakeController) complete(ctx context.Context, wf *v1alpha1.Workflow, phase v1alpha1.WorkflowPhase) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: wf.Namespace, Name: wf.Name + "-n0",
		Labels: map[string]string{v1alpha1.LabelWorkflow: wf.Name}}}
	if err := f.c.Create(ctx, pod); err != nil && ctx.Err() == nil {
		f.t.Errorf("create pod: %v", err)
	}
	time.Sleep(5 * time.Millisecond)
	cur := &v1alpha1.Workflow{}
	if err := f.c.Get(ctx, client.ObjectKeyFromObject(wf), cur); err != nil {
		return // deleted: the runner gave up on it
	}
	cur.Status.Phase = phase
	cur.Status.StartedAt, cur.Status.FinishedAt = time.Now().UnixNano()-1e6, time.Now().UnixNano()
	cur.Status.Nodes = map[string]v1alpha1.NodeStatus{"n0": {Phase: v1alpha1.NodeSucceeded, Attempts: 1}}
	if phase == v1alpha1.WorkflowFailed {
		cur.Status.Message = "node n0 failed"
		cur.Status.Nodes["n0"] = v1alpha1.NodeStatus{Phase: v1alpha1.NodeFailed, Attempts: 1}
	}
	if err := f.c.Update(ctx, cur); err != nil && ctx.Err() == nil {
		f.t.Logf("update %s: %v", wf.Name, err)
	}
}

func (f *fakeController) createdCount() int { return len(f.seen()) }

func (f *fakeController) seen() []*v1alpha1.Workflow {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.created)
}

// fileHooks writes an artifact in each hook and counts calls.
type fileHooks struct {
	mu     sync.Mutex
	before map[string]int // execution name -> calls
	after  map[string]int
	failOn string // workflow whose Before fails
}

func newFileHooks() *fileHooks {
	return &fileHooks{before: map[string]int{}, after: map[string]int{}}
}

func (h *fileHooks) Before(_ context.Context, e *Execution) error {
	h.mu.Lock()
	h.before[e.Name]++
	h.mu.Unlock()
	if e.Workflow == h.failOn {
		return errors.New("metrics endpoint unreachable")
	}
	return e.Dir.WriteArtifact("metrics-before.txt", []byte("x 1\n"))
}

func (h *fileHooks) After(_ context.Context, e *Execution) error {
	h.mu.Lock()
	h.after[e.Name]++
	h.mu.Unlock()
	if e.Created == 0 || e.Final == nil {
		return errors.New("After called without the created instant or the final object")
	}
	return e.Dir.WriteArtifact("spans.json", []byte("{}"))
}

func testPortfolio(t *testing.T, body string) *Compiled {
	t.Helper()
	return compileDoc(t, body, TierDefault)
}

const twoWorkflows = `  - name: alpha
    description: d
    repetitions: 2
    warmup: 1
    timeout: 10s
    chain: {length: 1}
  - name: beta
    description: d
    repetitions: 1
    warmup: 1
    timeout: 10s
    fanout: {width: 2}
`

func TestExecuteAB(t *testing.T) {
	c := newFakeCluster(t)
	fc := &fakeController{t: t, c: c, outcome: map[string]v1alpha1.WorkflowPhase{"alpha": v1alpha1.WorkflowSucceeded, "beta": v1alpha1.WorkflowSucceeded}}
	fc.start(t)
	hooks := newFileHooks()
	comp := testPortfolio(t, twoWorkflows)
	dir := t.TempDir()
	var out bytes.Buffer
	run, err := execute(t, context.Background(), dir, comp, []Target{
		{Name: "a", Namespace: "ns-a", Client: c, Hooks: hooks},
		{Name: "b", Namespace: "ns-b", Client: c, Hooks: hooks},
	}, Options{Progress: &out})
	if err != nil {
		t.Fatal(err)
	}
	measured := 0
	for _, r := range run.Records {
		if !r.Warmup {
			measured++
		}
	}
	if !run.Complete() || len(run.Records) != 10 || measured != 6 {
		t.Fatalf("run: complete %v, %d records, %d measured; want 10 and 6", run.Complete(), len(run.Records), measured)
	}
	if s := run.Samples("b", "alpha"); len(s) != 2 || s[0].Seq != 3 || s[1].Seq != 4 {
		t.Errorf("samples of alpha on b: %v", s)
	}
	// Creation order is the plan: warm-ups A B, then A B, B A, ...
	var order []string
	for _, w := range fc.seen() {
		order = append(order, w.Labels[LabelBenchmark]+"/"+w.Labels[LabelTarget]+"/"+w.Namespace)
	}
	want := []string{"alpha/a/ns-a", "alpha/b/ns-b", "alpha/a/ns-a", "alpha/b/ns-b", "alpha/b/ns-b", "alpha/a/ns-a",
		"beta/a/ns-a", "beta/b/ns-b", "beta/a/ns-a", "beta/b/ns-b"}
	if !slices.Equal(order, want) {
		t.Errorf("creation order %v\nwant %v", order, want)
	}
	for i, rec := range run.Records {
		if rec.Seq != i || !rec.Succeeded() || rec.Created == 0 || rec.Observed < rec.Created || rec.Final == nil || rec.Closure == nil {
			t.Errorf("record %d: %+v", i, rec)
			continue
		}
		if rec.Final.Status.Phase != v1alpha1.WorkflowSucceeded || rec.ExecutionID != rec.Name || rec.Final.Spec.ExecutionID != rec.Name {
			t.Errorf("record %d: final object %s phase %q", i, rec.Final.Name, rec.Final.Status.Phase)
		}
		if rec.Warmup != (i < 2 || i == 6 || i == 7) {
			t.Errorf("record %d: warmup = %v", i, rec.Warmup)
		}
		if !slices.Equal(rec.Artifacts, []string{"metrics-before.txt", "spans.json"}) {
			t.Errorf("record %d: artifacts %v", i, rec.Artifacts)
		}
		if hooks.before[rec.Name] != 1 || hooks.after[rec.Name] != 1 {
			t.Errorf("record %d: hooks called %d/%d times", i, hooks.before[rec.Name], hooks.after[rec.Name])
		}
		if Count(rec.Closure) != comp.Workflow(rec.Workflow).Counts {
			t.Errorf("record %d: closure counts differ from the compiled ones", i)
		}
	}
	// Everything was cleaned up as it finished.
	var wfs v1alpha1.WorkflowList
	var pods corev1.PodList
	if err := c.List(context.Background(), &wfs); err != nil || len(wfs.Items) != 0 {
		t.Errorf("workflows left: %d (%v)", len(wfs.Items), err)
	}
	if err := c.List(context.Background(), &pods); err != nil || len(pods.Items) != 0 {
		t.Errorf("pods left: %d (%v)", len(pods.Items), err)
	}
	// The record holds the fields the aggregate reads, under these names.
	raw, err := os.ReadFile(filepath.Join(run.Records[3].Dir, rundir.RecordFile))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"schema", "seq", "workflow", "target", "repetition", "warmup", "executionID", "created", "phase", "timedOut", "final", "closure", "artifacts"} {
		if _, ok := m[k]; !ok {
			t.Errorf("record.json lacks %q", k)
		}
	}
	if m["workflow"] != "alpha" {
		t.Errorf("record.json workflow = %v", m["workflow"])
	}
	// Progress: one plain line per execution (not a terminal).
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 10 || !strings.Contains(lines[0], "alpha") || !strings.Contains(lines[0], "warm-up 1/1") || !strings.Contains(lines[3], "ETA") {
		t.Errorf("progress output:\n%s", out.String())
	}
	if strings.Contains(out.String(), "\r") {
		t.Error("progress redraws lines when not on a terminal")
	}
	if run.Manifest.Portfolio.Hash != comp.Hash || run.Manifest.RunID == "" {
		t.Errorf("manifest %+v", run.Manifest.Portfolio)
	}
}

func TestExecuteFailureTimeoutAndHookError(t *testing.T) {
	c := newFakeCluster(t)
	fc := &fakeController{t: t, c: c, outcome: map[string]v1alpha1.WorkflowPhase{
		"fails": v1alpha1.WorkflowFailed, "ok": v1alpha1.WorkflowSucceeded, "nohook": v1alpha1.WorkflowSucceeded,
	}}
	fc.start(t)
	hooks := newFileHooks()
	hooks.failOn = "nohook"
	comp := testPortfolio(t, `  - {name: fails, description: d, repetitions: 1, warmup: 0, chain: {length: 1}}
  - {name: hangs, description: d, repetitions: 1, warmup: 0, timeout: 300ms, chain: {length: 1}}
  - {name: nohook, description: d, repetitions: 1, warmup: 0, chain: {length: 1}}
  - {name: ok, description: d, repetitions: 1, warmup: 0, chain: {length: 1}}
`)
	run, err := execute(t, context.Background(), t.TempDir(), comp, []Target{{Name: "a", Namespace: "ns", Client: c, Hooks: hooks}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Records) != 4 {
		t.Fatalf("%d records, want 4", len(run.Records))
	}
	fails, hangs, nohook, ok := run.Records[0], run.Records[1], run.Records[2], run.Records[3]
	if fails.Phase != v1alpha1.WorkflowFailed || fails.TimedOut || !strings.Contains(fails.Error, "node n0 failed") || fails.Succeeded() {
		t.Errorf("failed execution recorded as %+v", fails)
	}
	if !hangs.TimedOut || hangs.Phase != "" || !strings.Contains(hangs.Error, "300ms timeout") || hangs.Final == nil || hangs.Succeeded() {
		t.Errorf("timed-out execution recorded as phase %q timedOut %v error %q", hangs.Phase, hangs.TimedOut, hangs.Error)
	}
	if d := time.Duration(hangs.Ended - hangs.Began); d < 300*time.Millisecond || d > 10*time.Second {
		t.Errorf("timed-out execution took %s", d)
	}
	if nohook.Created != 0 || nohook.Final != nil || !strings.Contains(nohook.Error, "before hook: metrics endpoint unreachable") || hooks.after[nohook.Name] != 0 {
		t.Errorf("execution whose Before hook failed: %+v", nohook)
	}
	if !ok.Succeeded() {
		t.Errorf("the run did not go on after the failures: %+v", ok)
	}
	if n := fc.createdCount(); n != 3 {
		t.Errorf("%d workflows created, want 3 (none for the failed hook)", n)
	}
	var wfs v1alpha1.WorkflowList
	if err := c.List(context.Background(), &wfs); err != nil || len(wfs.Items) != 0 {
		t.Errorf("workflows left after failures: %d (%v)", len(wfs.Items), err)
	}
}

// TestResume interrupts a run mid-execution, then resumes it: no
// execution is lost or counted twice, and the interrupted one is redone
// under a new name after its Workflow was deleted.
func TestResume(t *testing.T) {
	c := newFakeCluster(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const interruptAt = 3
	fc := &fakeController{t: t, c: c, outcome: map[string]v1alpha1.WorkflowPhase{"alpha": v1alpha1.WorkflowSucceeded, "beta": v1alpha1.WorkflowSucceeded}}
	fc.onCreate = func(n int, _ *v1alpha1.Workflow) bool {
		if n == interruptAt {
			cancel() // Ctrl-C while the 4th execution runs
			return false
		}
		return true
	}
	fc.start(t)
	hooks := newFileHooks()
	comp := testPortfolio(t, twoWorkflows)
	dir := t.TempDir()
	targets := []Target{{Name: "a", Namespace: "ns-a", Client: c, Hooks: hooks}, {Name: "b", Namespace: "ns-b", Client: c, Hooks: hooks}}

	run, err := execute(t, ctx, dir, comp, targets, Options{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: err = %v, want context.Canceled", err)
	}
	if run == nil || len(run.Records) != interruptAt || len(run.Missing) != 10-interruptAt {
		t.Fatalf("interrupted run: %d records, %d missing", len(run.Records), len(run.Missing))
	}
	interrupted := fc.seen()[interruptAt]
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(interrupted), &v1alpha1.Workflow{}); err == nil {
		t.Error("the interrupted workflow was not deleted")
	}
	if _, err := os.Stat(filepath.Join(dir, rundir.ExecutionsDir, run.Missing[0].DirName())); !os.IsNotExist(err) {
		t.Errorf("the interrupted execution left its directory: %v", err)
	}

	// Simulate a harder kill during the next execution: its Workflow and
	// a half-written directory survive.
	next := run.Missing[0]
	leftover := comp.Workflow(next.Workflow).NewExecution("ns-b", "leftover", map[string]string{LabelRun: run.Manifest.RunID})
	if err := c.Create(context.Background(), leftover); err != nil {
		t.Fatal(err)
	}
	half := filepath.Join(dir, rundir.ExecutionsDir, next.DirName())
	if err := os.MkdirAll(half, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(half, "stale-spans.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A Workflow of another run in the same namespace is not ours to delete.
	foreign := comp.Workflow("alpha").NewExecution("ns-b", "foreign", map[string]string{LabelRun: "other"})
	if err := c.Create(context.Background(), foreign); err != nil {
		t.Fatal(err)
	}

	// And a recorded execution whose spans were cut short (a full disk):
	// it runs again, the others are kept.
	const truncated = 1
	spansFile := filepath.Join(run.Records[truncated].Dir, "spans.json.gz")
	b, err := os.ReadFile(spansFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(spansFile, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}

	var out bytes.Buffer
	fc.mu.Lock()
	fc.onCreate = nil
	fc.mu.Unlock()
	run2, err := execute(t, context.Background(), dir, comp, targets, Options{Progress: &out})
	if err != nil {
		t.Fatal(err)
	}
	if !run2.Complete() || len(run2.Records) != 10 {
		t.Fatalf("resumed run: complete %v, %d records", run2.Complete(), len(run2.Records))
	}
	if run2.Manifest.RunID != run.Manifest.RunID {
		t.Error("resume started a new run ID")
	}
	names := map[string]bool{}
	for i, rec := range run2.Records {
		if rec.Seq != i || !rec.Succeeded() || names[rec.Name] {
			t.Errorf("record %d: seq %d succeeded %v duplicate %v", i, rec.Seq, rec.Succeeded(), names[rec.Name])
		}
		names[rec.Name] = true
		if hooks.after[rec.Name] != 1 {
			t.Errorf("record %d: After ran %d times", i, hooks.after[rec.Name])
		}
		switch {
		case i == truncated && rec.Name == run.Records[i].Name:
			t.Errorf("record %d, whose spans were truncated, was not redone", i)
		case i < interruptAt && i != truncated && rec.Name != run.Records[i].Name:
			t.Errorf("record %d was redone", i)
		}
		if slices.Contains(rec.Artifacts, "stale-spans.json") {
			t.Errorf("record %d kept the half-done execution's artifact", i)
		}
	}
	if names[interrupted.Name] {
		t.Error("the interrupted execution was recorded")
	}
	// 10 planned, the interrupted and the truncated ones created twice,
	// plus the two planted.
	if n := fc.createdCount(); n != 10+2+2 {
		t.Errorf("%d workflows created, want 14", n)
	}
	var wfs v1alpha1.WorkflowList
	if err := c.List(context.Background(), &wfs); err != nil || len(wfs.Items) != 1 || wfs.Items[0].Name != "foreign" {
		t.Errorf("after the resumed run, workflows left: %v (%v); want only the other run's", wfs.Items, err)
	}
	if !strings.HasPrefix(out.String(), "resuming: 2 of 10 executions already recorded\n") {
		t.Errorf("progress on resume:\n%s", out.String())
	}
}

func TestLoadRunRejectsForeignRecord(t *testing.T) {
	c := newFakeCluster(t)
	fc := &fakeController{t: t, c: c, outcome: map[string]v1alpha1.WorkflowPhase{"alpha": v1alpha1.WorkflowSucceeded, "beta": v1alpha1.WorkflowSucceeded}}
	fc.start(t)
	dir := t.TempDir()
	run, err := execute(t, context.Background(), dir, testPortfolio(t, twoWorkflows), []Target{{Name: "a", Namespace: "ns", Client: c}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Copy record 0 over record 1: counting it would count one execution twice.
	b, err := os.ReadFile(filepath.Join(run.Records[0].Dir, rundir.RecordFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(run.Records[1].Dir, rundir.RecordFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := rundir.Load(dir); err == nil || !strings.Contains(err.Error(), "record is for") {
		t.Errorf("Load of a tampered directory: err = %v", err)
	}
}

func TestExecuteAbortsWhenClusterRefuses(t *testing.T) {
	// RBAC forbids creating Workflows: every create would fail the same
	// way, so the run stops at once instead of recording a failure per
	// execution.
	s, err := NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	c := fake.NewClientBuilder().WithScheme(s).WithInterceptorFuncs(interceptorRefusingCreates()).Build()
	dir := t.TempDir()
	run, err := execute(t, context.Background(), dir, testPortfolio(t, twoWorkflows), []Target{{Name: "a", Namespace: "ns", Client: c}}, Options{})
	if err == nil || !strings.Contains(err.Error(), "create workflow ns/alpha-") || !strings.Contains(err.Error(), "forbidden") {
		t.Fatalf("err = %v", err)
	}
	if len(run.Records) != 0 {
		t.Errorf("%d records of refused executions", len(run.Records))
	}
}

func interceptorRefusingCreates() interceptor.Funcs {
	return interceptor.Funcs{Create: func(_ context.Context, _ client.WithWatch, obj client.Object, _ ...client.CreateOption) error {
		return apierrors.NewForbidden(v1alpha1.Resource("workflows"), obj.GetName(), errors.New("user cannot create workflows"))
	}}
}

func TestExecuteRunDirectory(t *testing.T) {
	c := newFakeCluster(t)
	fc := &fakeController{t: t, c: c, outcome: map[string]v1alpha1.WorkflowPhase{"alpha": v1alpha1.WorkflowSucceeded, "beta": v1alpha1.WorkflowSucceeded}}
	fc.start(t)
	comp := testPortfolio(t, twoWorkflows)
	targets := []Target{{Name: "a", Namespace: "ns", Client: c}}
	fresh := filepath.Join(t.TempDir(), "new", "run")
	run, err := execute(t, context.Background(), fresh, comp, targets, Options{})
	if err != nil || !run.Complete() || len(run.Records) != 5 {
		t.Fatalf("new directory: %v", err)
	}
	// Executing a complete run again does nothing more.
	before := fc.createdCount()
	again, err := execute(t, context.Background(), fresh, comp, targets, Options{})
	if err != nil || len(again.Records) != 5 || fc.createdCount() != before {
		t.Errorf("executing a complete run: err %v, %d records, %d new workflows", err, len(again.Records), fc.createdCount()-before)
	}
	// Targets are checked before anything runs.
	for _, bad := range [][]Target{nil, {{Name: "a", Namespace: "ns"}}, {targets[0], targets[0]}} {
		if _, err := execute(t, context.Background(), t.TempDir(), comp, bad, Options{}); err == nil {
			t.Errorf("targets %+v accepted", bad)
		}
	}
}

// execute creates the run directory's manifest for the targets when it
// has none (what the bench pipeline does), then executes the plan.
func execute(t *testing.T, ctx context.Context, path string, comp *Compiled, targets []Target, opts Options) (*rundir.Run, error) {
	t.Helper()
	dir := rundir.Open(path)
	m, err := dir.ReadManifest()
	if errors.Is(err, rundir.ErrNoRun) {
		names := []string{"a"}
		if len(targets) > 0 {
			names = nil
			for _, tg := range targets {
				names = append(names, tg.Name)
			}
		}
		m = &rundir.Manifest{RunID: "r1", Portfolio: rundir.PortfolioRef{Name: comp.Name, Tier: comp.Tier, Hash: comp.Hash},
			Workflows: comp.Planned(), Plan: Plan(comp, names), Started: 1}
		for _, n := range names {
			m.Targets = append(m.Targets, rundir.Target{Name: n, Namespace: "ns-" + n})
		}
		if err := dir.Create(m, comp); err != nil {
			t.Fatal(err)
		}
	} else if err != nil {
		t.Fatal(err)
	}
	return Execute(ctx, dir, m, comp, targets, opts)
}

// switchLiveness is a controller that is up until down is set.
type switchLiveness struct{ down atomic.Bool }

func (l *switchLiveness) Alive(context.Context) error {
	if l.down.Load() {
		return errors.New("process 4242 is gone")
	}
	return nil
}

// killingHooks takes the controller down once the first execution has
// been collected.
type killingHooks struct {
	*fileHooks
	live *switchLiveness
}

func (h *killingHooks) After(ctx context.Context, e *Execution) error {
	h.live.down.Store(true)
	return h.fileHooks.After(ctx, e)
}

// TestControllerExit: a controller that dies during an execution (or
// before one) is noticed within seconds, not at the execution's 1-minute
// timeout; the execution is recorded as failed with "controller exited",
// the run stops with a ControllerExitedError, and a resume runs that
// execution again, so the run ends with one record per planned execution.
func TestControllerExit(t *testing.T) {
	tests := []struct {
		name string
		// killAt: the n-th Workflow created (from 0) finds the controller
		// dead and never finishes; -1: it dies between executions.
		killAt int
	}{
		{"dies mid-execution", 1},
		{"dies between executions", -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newFakeCluster(t)
			live := &switchLiveness{}
			fc := &fakeController{t: t, c: c, outcome: map[string]v1alpha1.WorkflowPhase{"ok": v1alpha1.WorkflowSucceeded}}
			fc.onCreate = func(n int, _ *v1alpha1.Workflow) bool {
				if n == tt.killAt {
					live.down.Store(true)
					return false
				}
				return true
			}
			fc.start(t)
			comp := testPortfolio(t, `  - {name: ok, description: d, repetitions: 3, warmup: 0, timeout: 1m, chain: {length: 1}}
`)
			dir := t.TempDir()
			var hooks Hooks = newFileHooks()
			if tt.killAt == -1 {
				hooks = &killingHooks{fileHooks: newFileHooks(), live: live}
			}
			target := Target{Name: "a", Namespace: "ns", Client: c, Hooks: hooks, Liveness: live}
			opts := Options{LivenessInterval: 50 * time.Millisecond}
			start := time.Now()
			run, err := execute(t, context.Background(), dir, comp, []Target{target}, opts)
			var exited *ControllerExitedError
			if !errors.As(err, &exited) || exited.Target != "a" {
				t.Fatalf("err = %v, want a ControllerExitedError for target a", err)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("noticed after %s; the timeout is 1m", d)
			}
			if len(run.Records) != 1 || len(run.Missing) != 2 {
				t.Fatalf("%d records and %d missing, want 1 and 2", len(run.Records), len(run.Missing))
			}
			// The failed execution's record is on disk, as evidence.
			rec, rerr := rundir.Open(dir).Execution(run.Missing[0]).ReadRecord()
			if rerr != nil || !rec.ControllerExited || !strings.HasPrefix(rec.Error, "controller exited: process 4242 is gone") || rec.Succeeded() {
				t.Fatalf("record of the execution the controller died in: %+v (%v)", rec, rerr)
			}
			// Restarted: the resume runs it again, and the rest.
			live.down.Store(false)
			fc.mu.Lock()
			fc.onCreate = nil
			fc.mu.Unlock()
			target.Hooks = newFileHooks()
			run, err = execute(t, context.Background(), dir, comp, []Target{target}, opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(run.Records) != 3 || len(run.Missing) != 0 {
				t.Fatalf("after resume: %d records, %d missing", len(run.Records), len(run.Missing))
			}
			for _, r := range run.Records {
				if !r.Succeeded() || r.ControllerExited {
					t.Errorf("after resume: %s %+v", r.DirName(), r)
				}
			}
		})
	}
}

// outage fails the first n calls of each of Create, Get and Watch with a
// refused connection, as an API server that is restarting does.
func outage(n int) interceptor.Funcs {
	var creates, gets, watches atomic.Int32
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	return interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			if _, ok := obj.(*v1alpha1.Workflow); ok && creates.Add(1) <= int32(n) {
				return refused
			}
			return c.Create(ctx, obj, opts...)
		},
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if _, ok := obj.(*v1alpha1.Workflow); ok && gets.Add(1) <= int32(n) {
				return refused
			}
			return c.Get(ctx, key, obj, opts...)
		},
		Watch: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) (watch.Interface, error) {
			if watches.Add(1) <= int32(n) {
				return nil, refused
			}
			return c.Watch(ctx, list, opts...)
		},
	}
}

// TestExecuteRidesOutAnAPIServerOutage: requests refused while the API
// server restarts are retried within the execution's timeout: every
// execution succeeds, each Workflow created exactly once.
func TestExecuteRidesOutAnAPIServerOutage(t *testing.T) {
	tests := []struct {
		name     string
		failures int
	}{
		{"no outage", 0},
		{"three refused calls of each kind", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The fake controller talks to the cluster directly; only the
			// runner's requests meet the outage.
			base := newFakeCluster(t)
			c := interceptor.NewClient(base, outage(tt.failures))
			fc := &fakeController{t: t, c: base, outcome: map[string]v1alpha1.WorkflowPhase{"ok": v1alpha1.WorkflowSucceeded}}
			fc.start(t)
			comp := testPortfolio(t, `  - {name: ok, description: d, repetitions: 2, warmup: 0, timeout: 30s, chain: {length: 1}}
`)
			run, err := execute(t, context.Background(), t.TempDir(), comp, []Target{{Name: "a", Namespace: "ns", Client: c}}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range run.Records {
				if !r.Succeeded() {
					t.Errorf("%s: %s", r.DirName(), r.Error)
				}
			}
			if n := fc.createdCount(); n != 2 || len(run.Records) != 2 {
				t.Errorf("%d workflows created and %d recorded, want 2 and 2", n, len(run.Records))
			}
		})
	}
}
