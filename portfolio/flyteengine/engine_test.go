package flyteengine

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/benchctl/benchctl/aggregate/collect"
	"github.com/benchctl/benchctl/portfolio"
	"github.com/benchctl/benchctl/portfolio/flyte"
	"github.com/benchctl/benchctl/portfolio/flyte/flytetest"
	"github.com/benchctl/benchctl/portfolio/rundir"
)

// lp is the launch plan the tests' portfolios name.
func lp(name string, nodes int) flytetest.LaunchPlan {
	return flytetest.LaunchPlan{Project: "flytesnacks", Domain: "development", Name: name, Version: "v1", Inputs: []string{"n"},
		Nodes: nodes, Timing: flytetest.DefaultTiming}
}

// hanging is a launch plan whose first task never ends.
func hanging(nodes int) flytetest.LaunchPlan {
	h := lp("bench.hangs", nodes)
	h.Hang = true
	return h
}

// compile compiles a portfolio of flyte: entries.
func compile(t *testing.T, workflows string) *portfolio.Compiled {
	t.Helper()
	p, err := portfolio.Parse("flyte.yaml", []byte("apiVersion: benchctl/v1\nkind: Portfolio\nworkflows:\n"+workflows))
	if err != nil {
		t.Fatal(err)
	}
	c, err := p.Compile(portfolio.TierDefault)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// target is one fake deployment's engine and collector.
func target(t *testing.T, name string, a *flytetest.Admin, c *portfolio.Compiled, auth flyte.AuthConfig) portfolio.Target {
	t.Helper()
	client, err := flyte.NewClient(context.Background(), flyte.Options{Endpoint: a.URL, Auth: auth, RequestTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(client, c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Check(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	return portfolio.Target{Name: name, Engine: e, Hooks: &collect.Flyte{Client: client}}
}

// execute runs the plan of c on targets in dir, creating the manifest on
// the first call, as the bench pipeline does.
func execute(t *testing.T, ctx context.Context, path string, c *portfolio.Compiled, targets ...portfolio.Target) (*rundir.Run, error) {
	t.Helper()
	dir := rundir.Open(path)
	m, err := dir.ReadManifest()
	if errors.Is(err, rundir.ErrNoRun) {
		var names []string
		for _, tg := range targets {
			names = append(names, tg.Name)
		}
		m = &rundir.Manifest{RunID: "c0ffee42", Portfolio: rundir.PortfolioRef{Name: c.Name, Tier: c.Tier, Hash: c.Hash},
			Workflows: c.Planned(), Plan: portfolio.Plan(c, names), Started: time.Now().UnixNano()}
		for _, n := range names {
			m.Targets = append(m.Targets, rundir.Target{Name: n, Namespace: "flytesnacks/development"})
		}
		if err := dir.Create(m, c); err != nil {
			t.Fatal(err)
		}
	} else if err != nil {
		t.Fatal(err)
	}
	return portfolio.Execute(ctx, dir, m, c, targets, portfolio.Options{CleanupTimeout: 10 * time.Second})
}

// TestRun: every planned execution is one Admin execution of the launch
// plan, under the runner's name, recorded with what Admin recorded of it.
func TestRun(t *testing.T) {
	a := flytetest.New(t, lp("bench.chain", 3))
	c := compile(t, `  - {name: chain, description: d, repetitions: 2, warmup: 1, timeout: 30s, flyte: {launchPlan: bench.chain, version: v1, inputs: {n: 3}}}
`)
	run, err := execute(t, context.Background(), t.TempDir(), c, target(t, "flyte", a, c, flyte.AuthConfig{}))
	if err != nil {
		t.Fatal(err)
	}
	if !run.Complete() || len(run.Records) != 3 {
		t.Fatalf("complete %v, %d records", run.Complete(), len(run.Records))
	}
	phases := a.Executions()
	for _, rec := range run.Records {
		if !rec.Succeeded() || rec.Created == 0 || rec.Observed < rec.Created {
			t.Errorf("%s: %+v", rec.DirName(), rec)
		}
		if rec.ExecutionID != "flytesnacks/development/"+rec.Name || rec.Namespace != "flytesnacks/development" || phases[rec.Name] != "SUCCEEDED" {
			t.Errorf("%s: execution %s in %s, Admin says %q", rec.DirName(), rec.ExecutionID, rec.Namespace, phases[rec.Name])
		}
		want := []string{rundir.ArtifactFlyteExecution, rundir.ArtifactFlyteMetrics, rundir.ArtifactFlyteNodes}
		if !slices.Equal(rec.Artifacts, want) {
			t.Errorf("%s: artifacts %v, want %v", rec.DirName(), rec.Artifacts, want)
		}
	}
	if st := a.Stats(); st.Creates != 3 || st.Aborts != 0 {
		t.Errorf("Admin saw %+v; want 3 creates, no abort", st)
	}
}

// TestFailedExecution: a failed execution is recorded with Admin's error
// and the run goes on.
func TestFailedExecution(t *testing.T) {
	bad := lp("bench.fails", 3)
	bad.FailAt = 2
	a := flytetest.New(t, bad, lp("bench.chain", 1))
	c := compile(t, `  - {name: fails, description: d, repetitions: 1, warmup: 0, timeout: 30s, flyte: {launchPlan: bench.fails, version: v1, inputs: {n: 1}}}
  - {name: ok, description: d, repetitions: 1, warmup: 0, timeout: 30s, flyte: {launchPlan: bench.chain, version: v1, inputs: {n: 1}}}
`)
	run, err := execute(t, context.Background(), t.TempDir(), c, target(t, "flyte", a, c, flyte.AuthConfig{}))
	if err != nil {
		t.Fatal(err)
	}
	fails, ok := run.Records[0], run.Records[1]
	if fails.Succeeded() || fails.Phase != "Failed" || !strings.Contains(fails.Error, "FAILED: node n1 failed: task n1 exited 1") {
		t.Errorf("failed execution recorded as phase %q error %q", fails.Phase, fails.Error)
	}
	if !ok.Succeeded() {
		t.Errorf("the run did not go on: %+v", ok)
	}
}

// TestTimeoutAborts: an execution past its timeout is aborted in Admin,
// recorded as timed out, and the run goes on.
func TestTimeoutAborts(t *testing.T) {
	a := flytetest.New(t, hanging(2), lp("bench.chain", 1))
	c := compile(t, `  - {name: hangs, description: d, repetitions: 1, warmup: 0, timeout: 400ms, flyte: {launchPlan: bench.hangs, version: v1, inputs: {n: 1}}}
  - {name: ok, description: d, repetitions: 1, warmup: 0, timeout: 30s, flyte: {launchPlan: bench.chain, version: v1, inputs: {n: 1}}}
`)
	run, err := execute(t, context.Background(), t.TempDir(), c, target(t, "flyte", a, c, flyte.AuthConfig{}))
	if err != nil {
		t.Fatal(err)
	}
	hangs := run.Records[0]
	if !hangs.TimedOut || hangs.Succeeded() || !strings.Contains(hangs.Error, "no terminal phase within the 400ms timeout") {
		t.Errorf("timed-out execution recorded as %+v", hangs)
	}
	if got := a.Executions()[hangs.Name]; got != "ABORTED" {
		t.Errorf("Admin has the timed-out execution %s, want ABORTED", got)
	}
	if cause := a.AbortCause(hangs.Name); !strings.HasPrefix(cause, "benchctl: ") {
		t.Errorf("abort cause %q does not say who aborted it", cause)
	}
	if !run.Records[1].Succeeded() {
		t.Errorf("the run did not go on: %+v", run.Records[1])
	}
}

// TestInterruptAndResume: an interrupt aborts the execution in flight and
// records nothing for it; the resumed run keeps what was recorded, runs
// the rest, and ends with one record per planned execution.
func TestInterruptAndResume(t *testing.T) {
	a := flytetest.New(t, lp("bench.chain", 2))
	c := compile(t, `  - {name: chain, description: d, repetitions: 4, warmup: 0, timeout: 30s, flyte: {launchPlan: bench.chain, version: v1, inputs: {n: 2}}}
`)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var interrupted string
	a.OnCreate = func(n int, name string) {
		if n == 2 {
			interrupted = name
			cancel() // Ctrl-C while the third execution runs
		}
	}
	dir := t.TempDir()
	tg := target(t, "flyte", a, c, flyte.AuthConfig{})
	run, err := execute(t, ctx, dir, c, tg)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: err = %v, want context.Canceled", err)
	}
	if len(run.Records) != 2 || len(run.Missing) != 2 {
		t.Fatalf("interrupted run: %d records, %d missing", len(run.Records), len(run.Missing))
	}
	if got := a.Executions()[interrupted]; got != "ABORTED" {
		t.Errorf("the interrupted execution is %s in Admin, want ABORTED", got)
	}
	a.OnCreate = nil
	run2, err := execute(t, context.Background(), dir, c, tg)
	if err != nil {
		t.Fatal(err)
	}
	if !run2.Complete() || len(run2.Records) != 4 {
		t.Fatalf("resumed run: complete %v, %d records", run2.Complete(), len(run2.Records))
	}
	names := map[string]bool{}
	for i, rec := range run2.Records {
		if !rec.Succeeded() || names[rec.Name] || rec.Name == interrupted {
			t.Errorf("record %d: %s succeeded %v (duplicate %v)", i, rec.Name, rec.Succeeded(), names[rec.Name])
		}
		names[rec.Name] = true
		if i < 2 && rec.Name != run.Records[i].Name {
			t.Errorf("record %d was run again", i)
		}
	}
	if st := a.Stats(); st.Creates != 5 || st.Aborts != 1 {
		t.Errorf("Admin saw %+v; want 4 planned creates, the interrupted one, and its abort", st)
	}
}

// TestResumeAbortsLeftovers: an execution a killed run left running (no
// record, no abort) is aborted before the resumed run goes on, and only
// the run's own.
func TestResumeAbortsLeftovers(t *testing.T) {
	a := flytetest.New(t, hanging(1), lp("bench.chain", 1))
	c := compile(t, `  - {name: chain, description: d, repetitions: 1, warmup: 0, timeout: 30s, flyte: {launchPlan: bench.chain, version: v1, inputs: {n: 1}}}
`)
	client, err := flyte.NewClient(context.Background(), flyte.Options{Endpoint: a.URL})
	if err != nil {
		t.Fatal(err)
	}
	lit, _ := (&flyte.Entry{Inputs: map[string]flyte.Value{"n": flyte.Int(1)}}).LiteralMap()
	hangID := flyte.Identifier{Project: "flytesnacks", Domain: "development", Name: "bench.hangs", Version: "v1"}
	for _, name := range []string{"chain-c0ffee42-0-beef", "chain-otherrun-0-beef"} {
		if _, err := client.Launch(context.Background(), name, hangID, lit); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := execute(t, context.Background(), t.TempDir(), c, target(t, "flyte", a, c, flyte.AuthConfig{})); err != nil {
		t.Fatal(err)
	}
	got := a.Executions()
	if got["chain-c0ffee42-0-beef"] != "ABORTED" || got["chain-otherrun-0-beef"] != "RUNNING" {
		t.Errorf("after the run: %v; want this run's leftover aborted and the other run's untouched", got)
	}
}

// burstHooks makes Admin fail the requests that follow each Before: the
// execution's create, then its polls.
type burstHooks struct {
	portfolio.Hooks
	a *flytetest.Admin
	n int
}

func (h *burstHooks) Before(ctx context.Context, e *portfolio.Execution) error {
	if err := h.Hooks.Before(ctx, e); err != nil {
		return err
	}
	h.a.FailNext(h.n, http.StatusServiceUnavailable)
	return nil
}

// TestServerErrorBurstIsRetried: a burst of 503s shorter than the
// client's retries costs nothing: every execution succeeds, each created
// once (a create retried after a refusal does not create twice).
func TestServerErrorBurstIsRetried(t *testing.T) {
	a := flytetest.New(t, lp("bench.chain", 2))
	c := compile(t, `  - {name: chain, description: d, repetitions: 3, warmup: 0, timeout: 30s, flyte: {launchPlan: bench.chain, version: v1, inputs: {n: 2}}}
`)
	tg := target(t, "flyte", a, c, flyte.AuthConfig{})
	tg.Hooks = &burstHooks{Hooks: tg.Hooks, a: a, n: 2}
	run, err := execute(t, context.Background(), t.TempDir(), c, tg)
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range run.Records {
		if !rec.Succeeded() {
			t.Errorf("%s: %s", rec.DirName(), rec.Error)
		}
	}
	if st := a.Stats(); st.Faults != 6 || st.Creates != 3 || len(a.Executions()) != 3 {
		t.Errorf("Admin saw %+v and %d executions; want 6 faults answered, 3 creates", st, len(a.Executions()))
	}
}

// TestClientCredentialsRefresh: with OAuth2 client credentials discovered
// from Admin, a run outlives its first token: the client fetches another
// before the first expires, and Admin never sees an expired or missing
// credential.
func TestClientCredentialsRefresh(t *testing.T) {
	a := flytetest.New(t, lp("bench.chain", 1))
	// oauth2 treats a token as expired 10 s early, so an 11 s token is
	// used for 1 s: the run below takes longer (each execution waits at
	// least one 100 ms poll).
	a.RequireAuth(flytetest.Auth{ClientID: "benchctl", Secret: "s3cr3t", TokenTTL: 11 * time.Second})
	t.Setenv("BENCHCTL_TEST_FLYTE_SECRET", "s3cr3t")
	c := compile(t, `  - {name: chain, description: d, repetitions: 14, warmup: 0, timeout: 30s, flyte: {launchPlan: bench.chain, version: v1, inputs: {n: 1}}}
`)
	start := time.Now()
	run, err := execute(t, context.Background(), t.TempDir(), c,
		target(t, "flyte", a, c, flyte.AuthConfig{Mode: flyte.AuthClientCredentials, ClientID: "benchctl", ClientSecretEnv: "BENCHCTL_TEST_FLYTE_SECRET"}))
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 1100*time.Millisecond {
		t.Fatalf("the run took %v, too short to outlive a token", took)
	}
	for _, rec := range run.Records {
		if !rec.Succeeded() {
			t.Errorf("%s: %s", rec.DirName(), rec.Error)
		}
	}
	if st := a.Stats(); st.TokensIssued < 2 || st.Unauthorized != 0 {
		t.Errorf("Admin saw %+v; want a refreshed token and no refused request", st)
	}
}

// TestRefusedCredentials: a wrong client secret fails before anything
// runs, naming the token endpoint and never the secret.
func TestRefusedCredentials(t *testing.T) {
	a := flytetest.New(t, lp("bench.chain", 1))
	a.RequireAuth(flytetest.Auth{ClientID: "benchctl", Secret: "right", TokenTTL: time.Hour})
	t.Setenv("BENCHCTL_TEST_FLYTE_SECRET", "wrong-secret")
	_, err := flyte.NewClient(context.Background(), flyte.Options{Endpoint: a.URL,
		Auth: flyte.AuthConfig{Mode: flyte.AuthClientCredentials, ClientID: "benchctl", ClientSecretEnv: "BENCHCTL_TEST_FLYTE_SECRET"}})
	if err == nil || !strings.Contains(err.Error(), a.URL+"/oauth2/token") || strings.Contains(err.Error(), "wrong-secret") {
		t.Fatalf("err = %v", err)
	}
}

// TestCheck: Admin's version, and a launch plan that is not registered
// named with the workflow that wants it.
func TestCheck(t *testing.T) {
	a := flytetest.New(t, lp("bench.chain", 1))
	c := compile(t, `  - {name: chain, description: d, flyte: {launchPlan: bench.chain, version: v1, inputs: {n: 1}}}
  - {name: missing, description: d, flyte: {launchPlan: bench.missing, version: v9}}
`)
	client, err := flyte.NewClient(context.Background(), flyte.Options{Endpoint: a.URL})
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(client, c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	v, err := e.Check(context.Background(), c)
	if v.Version != "v1.16.8-fake" || err == nil ||
		!strings.Contains(err.Error(), "workflow missing: launch plan flytesnacks/development/bench.missing/v9 (project/domain/name/version) is not registered") {
		t.Errorf("version %+v, err = %v", v, err)
	}
}

// TestRunsOneAtATime: the runner's serial rule holds for the flyte engine
// too: no execution is created before the previous one ended.
func TestRunsOneAtATime(t *testing.T) {
	a := flytetest.New(t, lp("bench.chain", 2))
	c := compile(t, `  - {name: chain, description: d, repetitions: 3, warmup: 1, timeout: 30s, flyte: {launchPlan: bench.chain, version: v1, inputs: {n: 1}}}
`)
	var mu sync.Mutex
	var overlaps []string
	a.OnCreate = func(n int, name string) {
		mu.Lock()
		defer mu.Unlock()
		for other, phase := range a.Executions() {
			if other != name && !slices.Contains([]string{"SUCCEEDED", "FAILED", "ABORTED"}, phase) {
				overlaps = append(overlaps, other+" while "+name)
			}
		}
	}
	if _, err := execute(t, context.Background(), t.TempDir(), c, target(t, "flyte", a, c, flyte.AuthConfig{})); err != nil {
		t.Fatal(err)
	}
	if len(overlaps) > 0 {
		t.Errorf("executions overlapped: %v", overlaps)
	}
}
