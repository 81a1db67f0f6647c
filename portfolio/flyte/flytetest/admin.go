// Package flytetest is a fake Flyte Admin for tests: the subset of Admin's
// HTTP/JSON API (grpc-gateway) that benchctl's flyte engine uses, on a
// loopback httptest server. Registered launch plans run on a simulated
// deployment whose executions advance in real time, step by step as
// FlytePropeller would report them: the execution, its node executions
// (start-node, task nodes, end-node) and their task executions appear and
// change phase as their instants pass, and GetExecutionMetrics derives
// its span tree from them as flyteadmin's metrics manager does.
//
// Its JSON is written from flyteidl's admin.swagger.json (flyteorg/flyte
// v1.16, flyteidl/gen/pb-go/gateway/flyteidl/service/admin.swagger.json)
// field by field, with proto field names as Admin's JSON marshaler emits
// them, int64 values as strings, timestamps in RFC 3339 and durations as
// "1.5s". It shares no types with the client in package flyte on
// purpose: a wrong field name on either side then fails the tests instead
// of agreeing with itself.
package flytetest

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Phases as Admin's enums spell them.
const (
	phaseQueued    = "QUEUED"
	phaseRunning   = "RUNNING"
	phaseSucceeded = "SUCCEEDED"
	phaseFailed    = "FAILED"
	phaseAborted   = "ABORTED"
)

// gRPC status codes grpc-gateway puts in error bodies.
const (
	codeInvalidArgument    = 3
	codeNotFound           = 5
	codeAlreadyExists      = 6
	codeFailedPrecondition = 9
	codeUnavailable        = 14
	codeUnauthenticated    = 16
)

// Timing is how long each step of an execution takes on the simulated
// deployment. Every step of every execution varies by up to ±Jitter of
// itself, seeded by the execution's name, so repetitions differ.
type Timing struct {
	// WorkflowSetup: the execution created → start-node's last event.
	WorkflowSetup time.Duration
	// Transition: the latest upstream's last event → a node's first.
	Transition time.Duration
	// NodeSetup: a node's first event → its task's first (pod created).
	NodeSetup time.Duration
	// TaskSetup: the task's first event → Running (the pod started).
	TaskSetup time.Duration
	// Runtime: Running → the task's terminal event (user code).
	Runtime time.Duration
	// TaskTeardown: the terminal event → the task's last event.
	TaskTeardown time.Duration
	// NodeTeardown: the task's last event → its node's last event.
	NodeTeardown time.Duration
	// WorkflowTeardown: the last node's last event → the execution's.
	WorkflowTeardown time.Duration
	Jitter           float64
}

// DefaultTiming runs a short task node in about 40 ms.
var DefaultTiming = Timing{
	WorkflowSetup: 6 * time.Millisecond, Transition: 3 * time.Millisecond, NodeSetup: 2 * time.Millisecond,
	TaskSetup: 5 * time.Millisecond, Runtime: 20 * time.Millisecond, TaskTeardown: 1 * time.Millisecond,
	NodeTeardown: 2 * time.Millisecond, WorkflowTeardown: 4 * time.Millisecond, Jitter: 0.2,
}

// LaunchPlan is a registered launch plan and the workflow it runs: Nodes
// task nodes in a chain (or, Parallel, side by side).
type LaunchPlan struct {
	Project, Domain, Name, Version string
	// Inputs are the launch plan's required inputs.
	Inputs   []string
	Nodes    int
	Parallel bool
	Timing   Timing
	// FailAt is the node (from 1) whose task fails, failing the
	// execution; 0 for none.
	FailAt int
	// RetryAt is the node (from 1) whose first attempt fails and is
	// retried; 0 for none.
	RetryAt int
	// Hang leaves the first task running for ever.
	Hang bool
}

func (lp *LaunchPlan) key() string {
	return lp.Project + "/" + lp.Domain + "/" + lp.Name + "/" + lp.Version
}

// event is one phase change of an entity as Admin recorded it.
type event struct {
	at    time.Time
	phase string
	err   string // the error of a FAILED event
}

// entity is a workflow, node or task execution: its events in time order.
type entity struct {
	events []event
}

// Observed is an entity as Admin serves it at some instant.
type Observed struct {
	Phase                     string
	Created, Started, Updated time.Time // Started zero before Running
	// Duration is Started to the terminal event, once there is one.
	Duration          time.Duration
	Error             string
	Visible, Terminal bool
	terminalAt        time.Time
}

// at is the entity as recorded by now.
func (e *entity) at(now time.Time) Observed {
	var o Observed
	for _, ev := range e.events {
		if ev.at.After(now) {
			break
		}
		if !o.Visible {
			o.Visible, o.Created = true, ev.at
		}
		o.Phase, o.Updated, o.Error = ev.phase, ev.at, ev.err
		if ev.phase == phaseRunning && o.Started.IsZero() {
			o.Started = ev.at
		}
		if terminal(ev.phase) && !o.Terminal {
			o.Terminal = true
			o.terminalAt = ev.at
		}
	}
	if o.Terminal && !o.Started.IsZero() {
		o.Duration = o.terminalAt.Sub(o.Started)
	}
	return o
}

func terminal(phase string) bool {
	return phase == phaseSucceeded || phase == phaseFailed || phase == phaseAborted
}

// abort cuts the entity's events after now and ends it ABORTED, unless it
// already ended.
func (e *entity) abort(now time.Time) {
	var kept []event
	for _, ev := range e.events {
		if !ev.at.After(now) {
			kept = append(kept, ev)
		}
	}
	if len(kept) == 0 || terminal(kept[len(kept)-1].phase) {
		e.events = kept
		return
	}
	e.events = append(kept, event{at: now, phase: phaseAborted})
}

// node is one node execution and its attempts.
type node struct {
	id       string
	upstream []string
	entity
	tasks []*entity
}

// execution is one workflow execution on the simulated deployment.
type execution struct {
	project, domain, name string
	lp                    *LaunchPlan
	inputs                map[string]any
	entity
	nodes      []*node // start-node, n0.., end-node
	abortCause string
}

// Admin is the fake. Create it with New; its URL is the Admin endpoint.
type Admin struct {
	*httptest.Server
	t *testing.T

	mu          sync.Mutex
	launchPlans map[string]*LaunchPlan
	execs       map[string]*execution // by project/domain/name
	order       []*execution
	auth        *Auth
	tokens      map[string]time.Time // issued token -> expiry
	failNext    int
	failStatus  int

	// Counters.
	creates, aborts, faults, unauthorized, tokensIssued int

	// OnCreate, if set, runs after the n-th execution (from 0) was
	// created, outside the lock.
	OnCreate func(n int, name string)
	// ClockOffset shifts Admin's clock from this host's: its timestamps
	// are not the harness's.
	ClockOffset time.Duration
	// Version is what /api/v1/version reports.
	Version string
}

// Auth makes the fake require a credential: a static Token, or tokens
// from its OAuth2 client-credentials endpoint for ClientID and Secret,
// each valid for TokenTTL, sent under Header.
type Auth struct {
	Token            string
	ClientID, Secret string
	TokenTTL         time.Duration
	// Header is the credential's header (authorization_metadata_key);
	// default flyte-authorization.
	Header string
}

// New starts a fake Admin serving the launch plans; it stops with the test.
func New(t *testing.T, lps ...LaunchPlan) *Admin {
	t.Helper()
	a := &Admin{t: t, launchPlans: map[string]*LaunchPlan{}, execs: map[string]*execution{}, tokens: map[string]time.Time{}, Version: "v1.16.8-fake"}
	for i := range lps {
		a.Register(lps[i])
	}
	a.Server = httptest.NewServer(a.routes())
	t.Cleanup(a.Close)
	return a
}

// Register adds a launch plan.
func (a *Admin) Register(lp LaunchPlan) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.launchPlans[lp.key()] = &lp
}

// RequireAuth makes every API request need the credential auth describes.
func (a *Admin) RequireAuth(auth Auth) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if auth.Header == "" {
		auth.Header = "flyte-authorization"
	}
	a.auth = &auth
}

// FailNext makes the next n API requests (discovery and tokens excepted)
// answer status without being handled, as a restarting Admin behind a
// load balancer does.
func (a *Admin) FailNext(n, status int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.failNext, a.failStatus = n, status
}

// Stats are the fake's counters.
type Stats struct {
	Creates, Aborts, Faults, Unauthorized, TokensIssued int
}

// Stats returns the counters.
func (a *Admin) Stats() Stats {
	a.mu.Lock()
	defer a.mu.Unlock()
	return Stats{a.creates, a.aborts, a.faults, a.unauthorized, a.tokensIssued}
}

func (a *Admin) now() time.Time { return time.Now().Add(a.ClockOffset).UTC() }

// ---- the simulated deployment

// jitter varies d by up to ±j of itself, from r.
func jitter(r *rand.Rand, d time.Duration, j float64) time.Duration {
	if j <= 0 || d <= 0 {
		return d
	}
	return time.Duration(float64(d) * (1 + j*(2*r.Float64()-1)))
}

// schedule lays out every event of a new execution from its creation:
// Admin records timestamps with microseconds, as PostgreSQL keeps them.
func schedule(x *execution, created time.Time) {
	lp := x.lp
	h := fnv.New64a()
	_, _ = io.WriteString(h, x.name)
	r := rand.New(rand.NewPCG(h.Sum64(), 1))
	tm := lp.Timing
	step := func(d time.Duration) time.Duration { return jitter(r, d, tm.Jitter) }
	at := func(t time.Time) time.Time { return t.Truncate(time.Microsecond) }

	created = at(created)
	startDone := at(created.Add(step(tm.WorkflowSetup)))
	x.events = []event{{at: created, phase: phaseQueued}, {at: at(created.Add(step(tm.WorkflowSetup) / 2)), phase: phaseRunning}}
	if !x.events[1].at.Before(startDone) {
		x.events[1].at = created
	}
	start := &node{id: "start-node", entity: entity{events: []event{{at: startDone, phase: phaseSucceeded}}}}
	x.nodes = []*node{start}
	done := map[string]time.Time{"start-node": startDone}
	var failed *node
	var last []string
	for i := 1; i <= lp.Nodes; i++ {
		id := fmt.Sprintf("n%d", i-1)
		up := []string{"start-node"}
		if !lp.Parallel && i > 1 {
			up = []string{fmt.Sprintf("n%d", i-2)}
		}
		ready := done[up[0]]
		for _, u := range up {
			if done[u].After(ready) {
				ready = done[u]
			}
		}
		n := &node{id: id, upstream: up}
		nc := at(ready.Add(step(tm.Transition)))
		n.events = []event{{at: nc, phase: phaseQueued}}
		attempts := 1
		if i == lp.RetryAt {
			attempts = 2
		}
		taskFirst := at(nc.Add(step(tm.NodeSetup)))
		var taskLast time.Time
		for a := range attempts {
			tc := taskFirst
			ts := at(tc.Add(step(tm.TaskSetup)))
			task := &entity{events: []event{{at: tc, phase: phaseQueued}, {at: ts, phase: phaseRunning}}}
			if a == 0 {
				n.events = append(n.events, event{at: tc, phase: phaseRunning})
			}
			n.tasks = append(n.tasks, task)
			if lp.Hang && i == 1 {
				x.nodes = append(x.nodes, n)
				return
			}
			te := at(ts.Add(step(tm.Runtime)))
			tl := at(te.Add(step(tm.TaskTeardown)))
			switch {
			case i == lp.FailAt:
				task.events = append(task.events, event{at: te, phase: phaseFailed, err: "task " + id + " exited 1"}, event{at: tl, phase: phaseFailed, err: "task " + id + " exited 1"})
			case a+1 < attempts:
				task.events = append(task.events, event{at: te, phase: phaseFailed, err: "retryable"}, event{at: tl, phase: phaseFailed, err: "retryable"})
			default:
				task.events = append(task.events, event{at: te, phase: phaseSucceeded}, event{at: tl, phase: phaseSucceeded})
			}
			taskLast = tl
			taskFirst = at(tl.Add(step(tm.Transition))) // the next attempt
		}
		nl := at(taskLast.Add(step(tm.NodeTeardown)))
		if i == lp.FailAt {
			n.events = append(n.events, event{at: nl, phase: phaseFailed, err: "task " + id + " exited 1"})
			failed = n
		} else {
			n.events = append(n.events, event{at: nl, phase: phaseSucceeded})
		}
		done[id] = nl
		x.nodes = append(x.nodes, n)
		if failed != nil {
			break
		}
		last = append(last, id)
	}
	if !lp.Parallel && len(last) > 0 {
		last = last[len(last)-1:]
	}
	end := done["start-node"]
	for _, id := range last {
		if done[id].After(end) {
			end = done[id]
		}
	}
	if failed != nil {
		end = done[failed.id]
		x.events = append(x.events, event{at: at(end.Add(step(tm.WorkflowTeardown))), phase: phaseFailed, err: "node " + failed.id + " failed: task " + failed.id + " exited 1"})
		return
	}
	if len(last) == 0 {
		last = []string{"start-node"}
	}
	endNode := &node{id: "end-node", upstream: last, entity: entity{events: []event{{at: at(end.Add(step(tm.Transition))), phase: phaseSucceeded}}}}
	x.nodes = append(x.nodes, endNode)
	x.events = append(x.events, event{at: at(end.Add(step(tm.WorkflowTeardown))), phase: phaseSucceeded})
}

// Served is an execution as the fake serves it once it ended: the
// instants a report's measurements must reproduce.
type Served struct {
	Execution Observed
	// Nodes are the node executions by id, start-node and end-node
	// included.
	Nodes map[string]ServedNode
}

// ServedNode is a node and its attempts.
type ServedNode struct {
	Observed
	Upstream []string
	Tasks    []Observed
}

// Served returns the execution's state now.
func (a *Admin) Served(name string) (Served, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, x := range a.order {
		if x.name != name {
			continue
		}
		now := a.now()
		s := Served{Execution: x.at(now), Nodes: map[string]ServedNode{}}
		for _, n := range x.nodes {
			sn := ServedNode{Observed: n.at(now), Upstream: n.upstream}
			for _, t := range n.tasks {
				sn.Tasks = append(sn.Tasks, t.at(now))
			}
			s.Nodes[n.id] = sn
		}
		return s, true
	}
	return Served{}, false
}

// Executions names every execution created, in order, with its phase now.
func (a *Admin) Executions() map[string]string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[string]string{}
	now := a.now()
	for _, x := range a.order {
		out[x.name] = x.at(now).Phase
	}
	return out
}

// AbortCause is the cause an execution was aborted with ("" if none).
func (a *Admin) AbortCause(name string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, x := range a.order {
		if x.name == name {
			return x.abortCause
		}
	}
	return ""
}

// ---- HTTP

// apiError writes grpc-gateway's error body.
func apiError(w http.ResponseWriter, status, code int, format string, args ...any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"code": code, "message": fmt.Sprintf(format, args...), "details": []any{}})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (a *Admin) routes() http.Handler {
	mux := http.NewServeMux()
	api := func(pattern string, h http.HandlerFunc) { mux.HandleFunc(pattern, a.guard(h)) }
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", a.discovery)
	mux.HandleFunc("GET /config/v1/flyte_client", a.clientConfig)
	mux.HandleFunc("POST /oauth2/token", a.token)
	api("GET /api/v1/version", a.version)
	api("GET /api/v1/launch_plans/{project}/{domain}/{name}/{version}", a.getLaunchPlan)
	api("POST /api/v1/executions", a.createExecution)
	api("GET /api/v1/executions/{project}/{domain}", a.listExecutions)
	api("GET /api/v1/executions/{project}/{domain}/{name}", a.getExecution)
	api("DELETE /api/v1/executions/{project}/{domain}/{name}", a.terminateExecution)
	api("GET /api/v1/node_executions/{project}/{domain}/{name}", a.listNodeExecutions)
	api("GET /api/v1/task_executions/{project}/{domain}/{name}/{node}", a.listTaskExecutions)
	api("GET /api/v1/metrics/executions/{project}/{domain}/{name}", a.getMetrics)
	// flytepropeller's Prometheus endpoint, served beside Admin.
	mux.HandleFunc("GET /metrics", a.propellerMetrics)
	return mux
}

// guard injects faults and checks the credential of API requests.
func (a *Admin) guard(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		if a.failNext > 0 {
			a.failNext--
			a.faults++
			status := a.failStatus
			a.mu.Unlock()
			apiError(w, status, codeUnavailable, "upstream connect error or disconnect/reset before headers")
			return
		}
		if au := a.auth; au != nil {
			cred, ok := strings.CutPrefix(r.Header.Get(au.Header), "Bearer ")
			exp, issued := a.tokens[cred]
			valid := ok && ((au.Token != "" && cred == au.Token) || (issued && a.now().Before(exp)))
			if !valid {
				a.unauthorized++
				a.mu.Unlock()
				apiError(w, http.StatusUnauthorized, codeUnauthenticated, "token is missing, invalid or expired")
				return
			}
		}
		a.mu.Unlock()
		h(w, r)
	}
}

func (a *Admin) discovery(w http.ResponseWriter, r *http.Request) {
	// A relative token endpoint is Admin's own (flyte-binary's default).
	writeJSON(w, map[string]any{"issuer": a.URL, "token_endpoint": a.URL + "/oauth2/token",
		"grant_types_supported": []string{"client_credentials"}, "token_endpoint_auth_methods_supported": []string{"client_secret_basic"}})
}

func (a *Admin) clientConfig(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	header := "flyte-authorization"
	if a.auth != nil {
		header = a.auth.Header
	}
	a.mu.Unlock()
	writeJSON(w, map[string]any{"client_id": "flytectl", "redirect_uri": "http://localhost:53593/callback",
		"scopes": []string{"all"}, "authorization_metadata_key": header, "service_http_endpoint": "", "audience": a.URL})
}

// token is the client-credentials grant (RFC 6749 §4.4), the client
// authenticated with HTTP basic auth.
func (a *Admin) token(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	id, secret, _ := r.BasicAuth()
	if err := r.ParseForm(); err != nil || r.Form.Get("grant_type") != "client_credentials" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"error":"unsupported_grant_type"}`)
		return
	}
	if a.auth == nil || id != a.auth.ClientID || secret != a.auth.Secret {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"error":"invalid_client"}`)
		return
	}
	a.tokensIssued++
	tok := fmt.Sprintf("fake-token-%d", a.tokensIssued)
	a.tokens[tok] = a.now().Add(a.auth.TokenTTL)
	writeJSON(w, map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": int(a.auth.TokenTTL / time.Second)})
}

func (a *Admin) version(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, map[string]any{"control_plane_version": map[string]any{"Build": "fake0000", "Version": a.Version, "BuildTime": "2026-12-01"}})
}

func identifier(resourceType, project, domain, name, version string) map[string]any {
	return map[string]any{"resource_type": resourceType, "project": project, "domain": domain, "name": name, "version": version}
}

func (a *Admin) getLaunchPlan(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	lp := a.launchPlans[r.PathValue("project")+"/"+r.PathValue("domain")+"/"+r.PathValue("name")+"/"+r.PathValue("version")]
	a.mu.Unlock()
	if lp == nil {
		apiError(w, http.StatusNotFound, codeNotFound, "missing entity of type LAUNCH_PLAN with identifier project:%q domain:%q name:%q version:%q",
			r.PathValue("project"), r.PathValue("domain"), r.PathValue("name"), r.PathValue("version"))
		return
	}
	params := map[string]any{}
	for _, in := range lp.Inputs {
		params[in] = map[string]any{"var": map[string]any{"type": map[string]any{"simple": "INTEGER"}}, "required": true}
	}
	writeJSON(w, map[string]any{
		"id":      identifier("LAUNCH_PLAN", lp.Project, lp.Domain, lp.Name, lp.Version),
		"spec":    map[string]any{"workflow_id": identifier("WORKFLOW", lp.Project, lp.Domain, lp.Name, lp.Version)},
		"closure": map[string]any{"state": "ACTIVE", "expected_inputs": map[string]any{"parameters": params}},
	})
}

// executionNameRe is flyteadmin's rule for execution names.
var executionNameRe = regexp.MustCompile(`^[a-z][a-z\-0-9]*$`)

// createExecution is ExecutionCreateRequest, validated as flyteadmin's
// execution validator does.
func (a *Admin) createExecution(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Project string `json:"project"`
		Domain  string `json:"domain"`
		Name    string `json:"name"`
		Spec    *struct {
			LaunchPlan *struct {
				ResourceType string `json:"resource_type"`
				Project      string `json:"project"`
				Domain       string `json:"domain"`
				Name         string `json:"name"`
				Version      string `json:"version"`
			} `json:"launch_plan"`
			Metadata struct {
				Mode      string `json:"mode"`
				Principal string `json:"principal"`
			} `json:"metadata"`
		} `json:"spec"`
		Inputs struct {
			Literals map[string]json.RawMessage `json:"literals"`
		} `json:"inputs"`
	}
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(&req); err != nil {
		apiError(w, http.StatusBadRequest, codeInvalidArgument, "invalid request body: %v", err)
		return
	}
	switch {
	case req.Project == "" || req.Domain == "":
		apiError(w, http.StatusBadRequest, codeInvalidArgument, "missing project or domain")
		return
	case req.Name != "" && (!executionNameRe.MatchString(req.Name) || len(req.Name) > 63):
		apiError(w, http.StatusBadRequest, codeInvalidArgument, "invalid name format: %s, does not match regex '%s'", req.Name, executionNameRe)
		return
	case req.Spec == nil || req.Spec.LaunchPlan == nil:
		apiError(w, http.StatusBadRequest, codeInvalidArgument, "missing spec")
		return
	case req.Spec.LaunchPlan.ResourceType != "LAUNCH_PLAN":
		apiError(w, http.StatusBadRequest, codeInvalidArgument, "Invalid reference entity resource type [%s], only [LAUNCH_PLAN TASK] allowed", req.Spec.LaunchPlan.ResourceType)
		return
	case req.Spec.Metadata.Mode != "" && !slices.Contains([]string{"MANUAL", "SCHEDULED", "SYSTEM", "RELAUNCH", "CHILD_WORKFLOW", "RECOVERED", "TRIGGER"}, req.Spec.Metadata.Mode):
		apiError(w, http.StatusBadRequest, codeInvalidArgument, "unknown execution mode %q", req.Spec.Metadata.Mode)
		return
	}
	l := req.Spec.LaunchPlan
	a.mu.Lock()
	lp := a.launchPlans[l.Project+"/"+l.Domain+"/"+l.Name+"/"+l.Version]
	a.mu.Unlock()
	if lp == nil || l.Project != req.Project || l.Domain != req.Domain {
		apiError(w, http.StatusNotFound, codeNotFound, "missing entity of type LAUNCH_PLAN with identifier %s/%s/%s/%s", l.Project, l.Domain, l.Name, l.Version)
		return
	}
	inputs := map[string]any{}
	for name, raw := range req.Inputs.Literals {
		if !slices.Contains(lp.Inputs, name) {
			apiError(w, http.StatusBadRequest, codeInvalidArgument, "invalid input %s", name)
			return
		}
		v, err := primitive(raw)
		if err != nil {
			apiError(w, http.StatusBadRequest, codeInvalidArgument, "invalid %s input: %v", name, err)
			return
		}
		inputs[name] = v
	}
	for _, name := range lp.Inputs {
		if _, ok := inputs[name]; !ok {
			apiError(w, http.StatusBadRequest, codeInvalidArgument, "expected_inputs %s missing", name)
			return
		}
	}
	a.mu.Lock()
	key := req.Project + "/" + req.Domain + "/" + req.Name
	if _, dup := a.execs[key]; dup {
		a.mu.Unlock()
		apiError(w, http.StatusConflict, codeAlreadyExists, "execution with identifier %s already exists", key)
		return
	}
	x := &execution{project: req.Project, domain: req.Domain, name: req.Name, lp: lp, inputs: inputs}
	schedule(x, a.now())
	a.execs[key] = x
	a.order = append(a.order, x)
	n := a.creates
	a.creates++
	onCreate := a.OnCreate
	a.mu.Unlock()
	writeJSON(w, map[string]any{"id": x.idJSON()})
	if onCreate != nil {
		onCreate(n, x.name)
	}
}

// primitive reads a core.Literal holding one scalar primitive: exactly
// one of integer (an int64, as a string), float_value, string_value and
// boolean.
func primitive(raw json.RawMessage) (any, error) {
	var lit struct {
		Scalar *struct {
			Primitive map[string]json.RawMessage `json:"primitive"`
		} `json:"scalar"`
	}
	if err := json.Unmarshal(raw, &lit); err != nil || lit.Scalar == nil || len(lit.Scalar.Primitive) != 1 {
		return nil, fmt.Errorf("want a literal with one scalar primitive, got %s", raw)
	}
	for k, v := range lit.Scalar.Primitive {
		switch k {
		case "integer":
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return nil, fmt.Errorf("integer %s: an int64 is a JSON string", v)
			}
			return strconv.ParseInt(s, 10, 64)
		case "float_value":
			var f float64
			return f, json.Unmarshal(v, &f)
		case "string_value":
			var s string
			return s, json.Unmarshal(v, &s)
		case "boolean":
			var b bool
			return b, json.Unmarshal(v, &b)
		}
		return nil, fmt.Errorf("primitive %q is not one benchctl sends", k)
	}
	return nil, nil
}

// idJSON is the execution's core.WorkflowExecutionIdentifier.
func (x *execution) idJSON() map[string]any {
	return map[string]any{"project": x.project, "domain": x.domain, "name": x.name}
}

// nodeIDJSON is a node's core.NodeExecutionIdentifier.
func (x *execution) nodeIDJSON(n *node) map[string]any {
	return map[string]any{"node_id": n.id, "execution_id": x.idJSON()}
}

// listOf answers a list of the execution the path names, every entry
// list gives that is visible now, a page at a time.
func (a *Admin) listOf(w http.ResponseWriter, r *http.Request, key string, list func(x *execution, now time.Time) []map[string]any) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if x := a.lookup(w, r); x != nil {
		page(w, r, key, list(x, a.now()))
	}
}

func (a *Admin) lookup(w http.ResponseWriter, r *http.Request) *execution {
	key := r.PathValue("project") + "/" + r.PathValue("domain") + "/" + r.PathValue("name")
	x := a.execs[key]
	if x == nil {
		apiError(w, http.StatusNotFound, codeNotFound, "missing entity of type execution with identifier %s", key)
	}
	return x
}

func ts(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// duration is google.protobuf.Duration in JSON, exactly: seconds with
// nine fractional digits.
func duration(d time.Duration) string {
	return fmt.Sprintf("%d.%09ds", d/time.Second, d%time.Second)
}

// closure fills the timestamps and phase every closure carries.
func closure(o Observed) map[string]any {
	c := map[string]any{"phase": o.Phase, "created_at": ts(o.Created), "updated_at": ts(o.Updated)}
	if !o.Started.IsZero() {
		c["started_at"] = ts(o.Started)
	}
	if o.Terminal && !o.Started.IsZero() {
		c["duration"] = duration(o.Duration)
	}
	if o.Error != "" {
		c["error"] = map[string]any{"code": "USER:Unknown", "message": o.Error, "kind": "USER"}
	}
	return c
}

func (a *Admin) executionJSON(x *execution, now time.Time) map[string]any {
	o := x.at(now)
	c := closure(o)
	c["workflow_id"] = identifier("WORKFLOW", x.project, x.domain, x.lp.Name, x.lp.Version)
	if o.Phase == phaseAborted {
		c["abort_metadata"] = map[string]any{"cause": x.abortCause, "principal": "benchctl"}
	}
	return map[string]any{
		"id": x.idJSON(),
		"spec": map[string]any{
			"launch_plan": identifier("LAUNCH_PLAN", x.lp.Project, x.lp.Domain, x.lp.Name, x.lp.Version),
			"metadata":    map[string]any{"mode": "MANUAL", "principal": "benchctl"},
		},
		"closure": c,
	}
}

func (a *Admin) getExecution(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if x := a.lookup(w, r); x != nil {
		writeJSON(w, a.executionJSON(x, a.now()))
	}
}

// page answers one page of a list: limit items from the offset token.
func page[T any](w http.ResponseWriter, r *http.Request, key string, items []T) {
	limit, err := strconv.Atoi(r.URL.Query().Get("limit"))
	if err != nil || limit <= 0 {
		apiError(w, http.StatusBadRequest, codeInvalidArgument, "invalid value for limit: %q", r.URL.Query().Get("limit"))
		return
	}
	off := 0
	if tok := r.URL.Query().Get("token"); tok != "" {
		if off, err = strconv.Atoi(tok); err != nil || off < 0 || off > len(items) {
			apiError(w, http.StatusBadRequest, codeInvalidArgument, "invalid pagination token %q", tok)
			return
		}
	}
	end := min(off+limit, len(items))
	next := ""
	if end < len(items) {
		next = strconv.Itoa(end)
	}
	writeJSON(w, map[string]any{key: items[off:end], "token": next})
}

// filterRe is one of Admin's filter expressions, function(field,values).
var filterRe = regexp.MustCompile(`^(contains|value_in|eq)\(([a-z_.]+),\s?(.+)\)$`)

// listExecutions supports the filters benchctl sends: contains and eq on
// execution_name, value_in on phase (values joined by ';'), joined by '+'.
func (a *Admin) listExecutions(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	type filter struct{ fn, field, value string }
	var fs []filter
	if q := r.URL.Query().Get("filters"); q != "" {
		for _, expr := range strings.Split(q, "+") {
			m := filterRe.FindStringSubmatch(expr)
			if m == nil || (m[2] != "execution_name" && m[2] != "phase") {
				apiError(w, http.StatusBadRequest, codeInvalidArgument, "invalid filter %q", expr)
				return
			}
			fs = append(fs, filter{m[1], m[2], m[3]})
		}
	}
	now := a.now()
	var out []map[string]any
	for _, x := range a.order {
		if x.project != r.PathValue("project") || x.domain != r.PathValue("domain") {
			continue
		}
		ok := true
		for _, f := range fs {
			v := x.name
			if f.field == "phase" {
				v = x.at(now).Phase
			}
			switch f.fn {
			case "contains":
				ok = ok && strings.Contains(v, f.value)
			case "eq":
				ok = ok && v == f.value
			case "value_in":
				ok = ok && slices.Contains(strings.Split(f.value, ";"), v)
			}
		}
		if ok {
			out = append(out, a.executionJSON(x, now))
		}
	}
	page(w, r, "executions", out)
}

// terminateExecution is TerminateExecution: an execution already ended
// cannot be aborted (FailedPrecondition, as flyteadmin answers).
func (a *Admin) terminateExecution(w http.ResponseWriter, r *http.Request) {
	var body struct {
		ID struct {
			Project string `json:"project"`
			Domain  string `json:"domain"`
			Name    string `json:"name"`
		} `json:"id"`
		Cause string `json:"cause"`
	}
	_ = json.NewDecoder(r.Body).Decode(&body)
	a.mu.Lock()
	defer a.mu.Unlock()
	x := a.lookup(w, r)
	if x == nil {
		return
	}
	now := a.now()
	if x.at(now).Terminal {
		apiError(w, http.StatusBadRequest, codeFailedPrecondition, "Cannot abort an already terminated workflow execution")
		return
	}
	x.abort(now)
	for _, n := range x.nodes {
		n.abort(now)
		for _, t := range n.tasks {
			t.abort(now)
		}
	}
	x.abortCause = body.Cause
	a.aborts++
	writeJSON(w, map[string]any{})
}

func (a *Admin) nodeJSON(x *execution, n *node, o Observed) map[string]any {
	c := closure(o)
	c["task_node_metadata"] = map[string]any{"cache_status": "CACHE_DISABLED"}
	return map[string]any{
		"id":       x.nodeIDJSON(n),
		"closure":  c,
		"metadata": map[string]any{"retry_group": "0", "is_parent_node": false, "spec_node_id": n.id},
	}
}

func (a *Admin) listNodeExecutions(w http.ResponseWriter, r *http.Request) {
	a.listOf(w, r, "node_executions", func(x *execution, now time.Time) []map[string]any {
		var out []map[string]any
		if r.URL.Query().Get("unique_parent_id") != "" {
			return out // task nodes have no children
		}
		for _, n := range x.nodes {
			if o := n.at(now); o.Visible {
				out = append(out, a.nodeJSON(x, n, o))
			}
		}
		return out
	})
}

func (a *Admin) taskJSON(x *execution, n *node, attempt int, o Observed) map[string]any {
	c := closure(o)
	c["task_type"] = "python-task"
	c["logs"] = []any{}
	return map[string]any{
		"id": map[string]any{
			"task_id":           identifier("TASK", x.project, x.domain, x.lp.Name+".task", x.lp.Version),
			"node_execution_id": x.nodeIDJSON(n),
			"retry_attempt":     attempt, // uint32 in the proto: a JSON number
		},
		"closure":   c,
		"is_parent": false,
	}
}

func (a *Admin) listTaskExecutions(w http.ResponseWriter, r *http.Request) {
	a.listOf(w, r, "task_executions", func(x *execution, now time.Time) []map[string]any {
		var out []map[string]any
		for _, n := range x.nodes {
			if n.id != r.PathValue("node") {
				continue
			}
			for i, t := range n.tasks {
				if o := t.at(now); o.Visible {
					out = append(out, a.taskJSON(x, n, i, o))
				}
			}
		}
		return out
	})
}

// ---- flytepropeller's metrics

// Propeller metric families the fake exports, as flytepropeller names
// them under its default metrics prefix and scope (flyte:propeller:all:):
// summaries of event recordings, workflow updates and rounds.
const (
	PropellerWorkflowEvents = "flyte:propeller:all:workflow:event_recording:success_duration_ms"
	PropellerNodeEvents     = "flyte:propeller:all:node:event_recording:success_duration_ms"
	PropellerTaskEvents     = "flyte:propeller:all:task:event_recording:success_duration_ms"
	PropellerUpdates        = "flyte:propeller:all:wf_update_latency_ms"
	PropellerRounds         = "flyte:propeller:all:round:round_time_unlabeled_ms"
)

// PropellerCounts is what the fake propeller counted for one execution
// by now: every event sent (workflow, node, task), one status update per
// event and one round per node event.
func (a *Admin) PropellerCounts(name string) map[string]int {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, x := range a.order {
		if x.name == name {
			return a.counts(x, a.now())
		}
	}
	return nil
}

func (a *Admin) counts(x *execution, now time.Time) map[string]int {
	c := map[string]int{}
	seen := func(e *entity) int {
		n := 0
		for _, ev := range e.events {
			if !ev.at.After(now) {
				n++
			}
		}
		return n
	}
	c[PropellerWorkflowEvents] = seen(&x.entity)
	for _, n := range x.nodes {
		c[PropellerNodeEvents] += seen(&n.entity)
		for _, t := range n.tasks {
			c[PropellerTaskEvents] += seen(t)
		}
	}
	c[PropellerUpdates] = c[PropellerWorkflowEvents] + c[PropellerNodeEvents] + c[PropellerTaskEvents]
	c[PropellerRounds] = c[PropellerNodeEvents]
	return c
}

// propellerMetrics serves the counts of every execution so far as
// Prometheus summaries (their sums are invented and carry no meaning).
func (a *Admin) propellerMetrics(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	total := map[string]int{}
	now := a.now()
	for _, x := range a.order {
		for k, v := range a.counts(x, now) {
			total[k] += v
		}
	}
	a.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	for _, f := range []string{PropellerWorkflowEvents, PropellerNodeEvents, PropellerTaskEvents, PropellerUpdates, PropellerRounds} {
		fmt.Fprintf(w, "# HELP %s fake\n# TYPE %s summary\n", f, f)
		fmt.Fprintf(w, "%s{quantile=\"0.5\"} 1\n%s_sum %d\n%s_count %d\n", f, f, 2*total[f], f, total[f])
	}
	fmt.Fprintf(w, "# HELP go_goroutines fake\n# TYPE go_goroutines gauge\ngo_goroutines 12\n")
}

// ---- GetExecutionMetrics, as flyteadmin's metrics manager derives it

type span struct {
	StartTime   any            `json:"start_time,omitempty"`
	EndTime     any            `json:"end_time,omitempty"`
	WorkflowID  map[string]any `json:"workflow_id,omitempty"`
	NodeID      map[string]any `json:"node_id,omitempty"`
	TaskID      map[string]any `json:"task_id,omitempty"`
	OperationID string         `json:"operation_id,omitempty"`
	Spans       []span         `json:"spans,omitempty"`
}

func opSpan(from, to time.Time, op string) span {
	return span{StartTime: ts(from), EndTime: ts(to), OperationID: op}
}

func (a *Admin) getMetrics(w http.ResponseWriter, r *http.Request) {
	depth, err := strconv.Atoi(r.URL.Query().Get("depth"))
	if err != nil {
		apiError(w, http.StatusBadRequest, codeInvalidArgument, "invalid depth %q", r.URL.Query().Get("depth"))
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	x := a.lookup(w, r)
	if x == nil {
		return
	}
	writeJSON(w, map[string]any{"span": a.executionSpan(x, a.now(), depth)})
}

func (a *Admin) executionSpan(x *execution, now time.Time, depth int) span {
	o := x.at(now)
	s := span{StartTime: ts(o.Created), EndTime: ts(o.Updated), WorkflowID: x.idJSON()}
	if depth == 0 {
		return s
	}
	seen := map[string]Observed{}
	byID := map[string]*node{}
	for _, n := range x.nodes {
		if no := n.at(now); no.Visible {
			seen[n.id], byID[n.id] = no, n
		}
	}
	start, ok := seen["start-node"]
	if !ok {
		s.Spans = []span{opSpan(o.Created, o.Updated, "WORKFLOW_SETUP")}
		return s
	}
	s.Spans = append(s.Spans, opSpan(o.Created, start.Updated, "WORKFLOW_SETUP"))
	var ordered []*node
	for _, n := range x.nodes {
		if _, ok := seen[n.id]; ok && n.id != "start-node" && n.id != "end-node" {
			ordered = append(ordered, n)
		}
	}
	slices.SortStableFunc(ordered, func(p, q *node) int { return seen[p.id].Created.Compare(seen[q.id].Created) })
	latest := func(ids []string) (Observed, bool) {
		var best Observed
		found := false
		for _, id := range ids {
			if u, ok := seen[id]; ok && (!found || u.Updated.After(best.Updated)) {
				best, found = u, true
			}
		}
		return best, found
	}
	for _, n := range ordered {
		ns := a.nodeSpan(x, n, seen[n.id], now, depth-1)
		if up, ok := latest(n.upstream); ok {
			ns.Spans = append([]span{opSpan(up.Updated, seen[n.id].Created, "NODE_TRANSITION")}, ns.Spans...)
		}
		s.Spans = append(s.Spans, ns)
	}
	var endUp []string
	for _, n := range x.nodes {
		if n.id == "end-node" {
			endUp = n.upstream
		}
	}
	if up, ok := latest(endUp); ok && !o.Updated.Before(up.Updated) {
		s.Spans = append(s.Spans, opSpan(up.Updated, o.Updated, "WORKFLOW_TEARDOWN"))
	}
	return s
}

func (a *Admin) nodeSpan(x *execution, n *node, o Observed, now time.Time, depth int) span {
	s := span{StartTime: ts(o.Created), EndTime: ts(o.Updated), NodeID: x.nodeIDJSON(n)}
	if depth == 0 {
		return s
	}
	var tasks []Observed
	for _, t := range n.tasks {
		if to := t.at(now); to.Visible {
			tasks = append(tasks, to)
		}
	}
	if len(tasks) == 0 {
		s.Spans = []span{opSpan(o.Created, o.Updated, "NODE_SETUP")}
		return s
	}
	s.Spans = append(s.Spans, opSpan(o.Created, tasks[0].Created, "NODE_SETUP"))
	for i, t := range tasks {
		if i > 0 {
			s.Spans = append(s.Spans, opSpan(tasks[i-1].Updated, t.Created, "NODE_RESET"))
		}
		if depth-1 != 0 {
			s.Spans = append(s.Spans, a.taskSpan(x, n, i, t))
		}
	}
	if last := tasks[len(tasks)-1]; !o.Updated.Before(last.Updated) {
		s.Spans = append(s.Spans, opSpan(last.Updated, o.Updated, "NODE_TEARDOWN"))
	}
	return s
}

func (a *Admin) taskSpan(x *execution, n *node, attempt int, o Observed) span {
	s := span{StartTime: ts(o.Created), EndTime: ts(o.Updated), TaskID: a.taskJSON(x, n, attempt, o)["id"].(map[string]any)}
	switch {
	case o.Started.IsZero():
		s.Spans = []span{opSpan(o.Created, o.Updated, "TASK_SETUP")}
	case !o.Terminal:
		s.Spans = []span{opSpan(o.Created, o.Started, "TASK_SETUP"), opSpan(o.Started, o.Updated, "TASK_RUNTIME")}
	default:
		end := o.Started.Add(o.Duration)
		s.Spans = []span{opSpan(o.Created, o.Started, "TASK_SETUP"), opSpan(o.Started, end, "TASK_RUNTIME")}
		if !o.Updated.Before(end) {
			s.Spans = append(s.Spans, opSpan(end, o.Updated, "TASK_TEARDOWN"))
		}
	}
	return s
}
