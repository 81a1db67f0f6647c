package flyte

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// Defaults for Options' zero values.
const (
	DefaultProject        = "flytesnacks"
	DefaultDomain         = "development"
	defaultRequestTimeout = 30 * time.Second
	defaultRetries        = 2
	// maxErrorBody bounds how much of an error answer goes into an error.
	maxErrorBody = 512
	// maxBody bounds any answer: a node execution page is kilobytes, and
	// an endpoint that streams without end must not exhaust memory.
	maxBody = 64 << 20
)

// Sentinels that APIError matches with errors.Is.
var (
	ErrUnauthorized  = errors.New("unauthorized")
	ErrForbidden     = errors.New("forbidden")
	ErrNotFound      = errors.New("not found")
	ErrAlreadyExists = errors.New("already exists")
)

// APIError is an answer of Flyte Admin other than 2xx.
type APIError struct {
	Method   string
	Endpoint string // the request path, without the query
	Status   int
	// Code is the gRPC status code grpc-gateway put in the body (0 if none).
	Code    int
	Message string
}

func (e *APIError) Error() string {
	var hint string
	switch e.Status {
	case http.StatusUnauthorized:
		hint = ": the credentials were refused; check the auth mode, the token file or the client id and secret"
	case http.StatusForbidden:
		hint = ": the credentials are valid but lack permission for this project and domain"
	}
	msg := ""
	if e.Message != "" {
		msg = ": " + e.Message
	}
	return fmt.Sprintf("flyte admin %s %s: HTTP %d %s%s%s", e.Method, e.Endpoint, e.Status, http.StatusText(e.Status), hint, msg)
}

// Is maps the HTTP status to the package's sentinels.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrUnauthorized:
		return e.Status == http.StatusUnauthorized
	case ErrForbidden:
		return e.Status == http.StatusForbidden
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrAlreadyExists:
		return e.Status == http.StatusConflict
	}
	return false
}

// retryable is a status worth another attempt of an idempotent request.
func (e *APIError) retryable() bool {
	return e.Status == http.StatusTooManyRequests || e.Status == http.StatusBadGateway ||
		e.Status == http.StatusServiceUnavailable || e.Status == http.StatusGatewayTimeout
}

// Options configure a Client.
type Options struct {
	// Endpoint is Admin's HTTP base URL, e.g. https://flyte.example.com.
	Endpoint string
	// Project and Domain apply to entries that do not override them.
	Project, Domain string
	Auth            AuthConfig
	// RequestTimeout bounds each HTTP request (default 30s).
	RequestTimeout time.Duration
	// Retries is how often an idempotent request is retried after a
	// network error, a 429 or a 502/503/504 (default 2; -1 for none).
	Retries int
	// AllowInsecureHTTP permits http:// to a host other than loopback.
	// Credentials are refused over it anyway unless Auth.Mode is none.
	AllowInsecureHTTP bool
	// HTTPClient is the transport (default: a fresh http.Client).
	HTTPClient *http.Client
	Logger     *slog.Logger
}

// authorizer adds credentials to a request. Implementations never
// reveal the credential through String.
type authorizer interface {
	authorize(ctx context.Context, h http.Header) error
	String() string
}

// Client speaks Flyte Admin's HTTP/JSON API (grpc-gateway). It is safe for
// concurrent use. It holds no credential in an exported or serialised
// field: the authorizer keeps it, and String and LogValue omit it.
type Client struct {
	base           *url.URL
	project        string
	domain         string
	http           *http.Client
	auth           authorizer
	requestTimeout time.Duration
	retries        int
	log            *slog.Logger
	// sleep waits between polls and retries; tests replace it.
	sleep func(ctx context.Context, d time.Duration) error
}

// NewClient checks the options and, for OAuth2, discovers the token
// endpoint (which needs the network, hence ctx).
func NewClient(ctx context.Context, o Options) (*Client, error) {
	base, err := endpointURL(o)
	if err != nil {
		return nil, err
	}
	c := &Client{
		base:           base,
		project:        o.Project,
		domain:         o.Domain,
		http:           o.HTTPClient,
		requestTimeout: o.RequestTimeout,
		retries:        o.Retries,
		log:            o.Logger,
		sleep:          sleepCtx,
	}
	if c.project == "" {
		c.project = DefaultProject
	}
	if c.domain == "" {
		c.domain = DefaultDomain
	}
	if c.http == nil {
		c.http = &http.Client{}
	}
	if c.requestTimeout <= 0 {
		c.requestTimeout = defaultRequestTimeout
	}
	switch {
	case c.retries == 0:
		c.retries = defaultRetries
	case c.retries < 0:
		c.retries = 0
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	c.auth, err = newAuthorizer(ctx, c, o.Auth)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// endpointURL checks the endpoint and what may be sent to it.
func endpointURL(o Options) (*url.URL, error) {
	base, err := url.Parse(strings.TrimRight(o.Endpoint, "/"))
	if err != nil || base.Host == "" || (base.Scheme != "http" && base.Scheme != "https") {
		return nil, fmt.Errorf("flyte admin endpoint %q: want an http(s) URL with a host", o.Endpoint)
	}
	if base.User != nil {
		return nil, fmt.Errorf("flyte admin endpoint: credentials in the URL are not supported; use the auth settings")
	}
	if base.Scheme == "http" && !isLoopback(base.Hostname()) {
		if o.Auth.mode() != AuthNone {
			return nil, fmt.Errorf("flyte admin endpoint %s: refusing to send credentials over plain http to a non-loopback host; use https", base.Redacted())
		}
		if !o.AllowInsecureHTTP {
			return nil, fmt.Errorf("flyte admin endpoint %s: plain http to a non-loopback host needs AllowInsecureHTTP", base.Redacted())
		}
	}
	return base, nil
}

// ValidateOptions checks the options as far as it can without the
// network: the endpoint, the auth settings, and that a token or secret
// file is there, private and not empty. What it refuses is the user's to
// fix; what NewClient refuses beyond it is Admin's or the network's.
func ValidateOptions(ctx context.Context, o Options) error {
	if _, err := endpointURL(o); err != nil {
		return err
	}
	a := o.Auth
	if err := a.Validate(); err != nil {
		return err
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	switch {
	case a.mode() == AuthTokenFile:
		_, _, err := readSecretFile(ctx, a.TokenFile, "auth.tokenFile", a.AllowLooseFilePermissions, log)
		return err
	case a.mode() == AuthClientCredentials && a.ClientSecretFile != "":
		_, _, err := readSecretFile(ctx, a.ClientSecretFile, "auth.clientSecretFile", a.AllowLooseFilePermissions, log)
		return err
	case a.mode() == AuthClientCredentials && strings.TrimSpace(os.Getenv(a.ClientSecretEnv)) == "":
		return fmt.Errorf("auth.clientSecretEnv: environment variable %s is empty or unset", a.ClientSecretEnv)
	}
	return nil
}

// String names the endpoint and auth mode, never a credential.
func (c *Client) String() string {
	return fmt.Sprintf("flyte.Client{endpoint: %s, project: %s, domain: %s, auth: %s}", c.base.Redacted(), c.project, c.domain, c.auth)
}

// LogValue keeps credentials out of logs that print the client.
func (c *Client) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("endpoint", c.base.Redacted()),
		slog.String("project", c.project),
		slog.String("domain", c.domain),
		slog.String("auth", c.auth.String()))
}

// Endpoint is the Admin base URL.
func (c *Client) Endpoint() string { return c.base.String() }

// Project and Domain are where entries that name none run.
func (c *Client) Project() string { return c.project }
func (c *Client) Domain() string  { return c.domain }

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// request is one call; retry says whether it is safe to repeat.
type request struct {
	method string
	path   string // already escaped
	query  url.Values
	body   any
	retry  bool
	noAuth bool // discovery endpoints, which Admin serves without auth
}

// do sends r and decodes a 2xx answer into out (if not nil).
func (c *Client) do(ctx context.Context, r request, out any) error {
	var payload []byte
	if r.body != nil {
		var err error
		if payload, err = json.Marshal(r.body); err != nil {
			return fmt.Errorf("flyte admin %s %s: encoding the request: %w", r.method, r.path, err)
		}
	}
	attempts := 1
	if r.retry {
		attempts += c.retries
	}
	var last error
	for i := range attempts {
		if i > 0 {
			if err := c.sleep(ctx, time.Duration(100<<(i-1))*time.Millisecond); err != nil {
				return errors.Join(last, err)
			}
		}
		err := c.once(ctx, r, payload, out)
		if err == nil {
			return nil
		}
		last = err
		var ae *APIError
		switch {
		case ctx.Err() != nil:
			return err
		case errors.As(err, &ae) && !ae.retryable():
			return err
		case errors.Is(err, errDecode):
			return err
		}
		c.log.DebugContext(ctx, "flyte admin request failed", "method", r.method, "path", r.path, "attempt", i+1, "err", err)
	}
	return last
}

var errDecode = errors.New("decoding the answer")

func (c *Client) once(ctx context.Context, r request, payload []byte, out any) error {
	ctx, cancel := context.WithTimeout(ctx, c.requestTimeout)
	defer cancel()
	u := *c.base
	u.Path = strings.TrimRight(c.base.Path, "/") + r.path
	u.RawPath = strings.TrimRight(c.base.EscapedPath(), "/") + r.path
	u.RawQuery = r.query.Encode()
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u.String(), body)
	if err != nil {
		return fmt.Errorf("flyte admin %s %s: %w", r.method, r.path, err)
	}
	// application/json selects Admin's JSON marshaler, which emits the
	// proto field names (snake_case); decode accepts lowerCamelCase too.
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if !r.noAuth {
		if err := c.auth.authorize(ctx, req.Header); err != nil {
			return fmt.Errorf("flyte admin %s %s: %w", r.method, r.path, err)
		}
	}
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		// The method and path say which request; url.Error would repeat
		// them with the whole URL.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			return fmt.Errorf("flyte admin %s %s: no answer within %v: %w", r.method, r.path, c.requestTimeout, err)
		}
		return fmt.Errorf("flyte admin %s %s: %w", r.method, r.path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	c.log.DebugContext(ctx, "flyte admin", "method", r.method, "path", r.path, "status", resp.StatusCode, "elapsed", time.Since(start))
	if err != nil {
		return fmt.Errorf("flyte admin %s %s: reading the answer: %w", r.method, r.path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return apiError(r.method, r.path, resp.StatusCode, data)
	}
	if out == nil {
		return nil
	}
	if err := decodeJSON(data, out); err != nil {
		return fmt.Errorf("flyte admin %s %s: %w: %w", r.method, r.path, errDecode, err)
	}
	return nil
}

// apiError reads grpc-gateway's error body: v2 writes {code, message,
// details}, v1 also {error}.
func apiError(method, path string, status int, data []byte) *APIError {
	e := &APIError{Method: method, Endpoint: path, Status: status}
	var body struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Error   string `json:"error"`
	}
	if json.Unmarshal(data, &body) == nil {
		e.Code = body.Code
		e.Message = body.Message
		if e.Message == "" {
			e.Message = body.Error
		}
	} else {
		e.Message = strings.TrimSpace(string(data))
	}
	if len(e.Message) > maxErrorBody {
		e.Message = e.Message[:maxErrorBody] + "…"
	}
	return e
}

// decodeJSON decodes Admin's JSON into out, whose tags use the proto field
// names. Admin answers with those for Accept: application/json, but a
// gateway with grpc-gateway's default marshaler (or a proxy re-encoding)
// sends lowerCamelCase; both decode the same.
func decodeJSON(data []byte, out any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // int64 values must survive the round trip
	var v any
	if err := dec.Decode(&v); err != nil {
		return err
	}
	norm, err := json.Marshal(snakeKeys(v))
	if err != nil {
		return err
	}
	return json.Unmarshal(norm, out)
}

// snakeKeys renames lowerCamelCase object keys to snake_case. Keys that
// start with an upper-case letter (adminVersion's Build, Version) or hold
// no upper-case letter are kept; so are the keys of literal maps, which
// are user-chosen input names.
func snakeKeys(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, val := range x {
			nk := camelToSnake(k)
			if nk == "literals" || nk == "values" || nk == "custom_info" {
				m[nk] = val
				continue
			}
			m[nk] = snakeKeys(val)
		}
		return m
	case []any:
		for i := range x {
			x[i] = snakeKeys(x[i])
		}
		return x
	}
	return v
}

func camelToSnake(k string) string {
	if k == "" || k[0] < 'a' || k[0] > 'z' || strings.ContainsRune(k, '_') {
		return k
	}
	var b strings.Builder
	for i := 0; i < len(k); i++ {
		ch := k[i]
		if ch >= 'A' && ch <= 'Z' {
			b.WriteByte('_')
			ch += 'a' - 'A'
		}
		b.WriteByte(ch)
	}
	return b.String()
}

func esc(parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(p))
	}
	return b.String()
}

// ---- API types: only the fields benchctl uses, named as Admin's JSON
// (proto field names) names them.

// ExecutionID is core.WorkflowExecutionIdentifier.
type ExecutionID struct {
	Project string `json:"project"`
	Domain  string `json:"domain"`
	Name    string `json:"name"`
}

func (id ExecutionID) String() string { return id.Project + "/" + id.Domain + "/" + id.Name }

func (id ExecutionID) path() string { return esc(id.Project, id.Domain, id.Name) }

// ResourceLaunchPlan is core.ResourceType LAUNCH_PLAN.
const ResourceLaunchPlan = "LAUNCH_PLAN"

// Identifier is core.Identifier.
type Identifier struct {
	ResourceType string `json:"resource_type,omitempty"`
	Project      string `json:"project"`
	Domain       string `json:"domain"`
	Name         string `json:"name"`
	Version      string `json:"version"`
}

func (id Identifier) String() string {
	return id.Project + "/" + id.Domain + "/" + id.Name + "/" + id.Version
}

// NodeExecutionID is core.NodeExecutionIdentifier.
type NodeExecutionID struct {
	NodeID      string      `json:"node_id"`
	ExecutionID ExecutionID `json:"execution_id"`
}

// TaskExecutionID is core.TaskExecutionIdentifier.
type TaskExecutionID struct {
	TaskID          Identifier      `json:"task_id"`
	NodeExecutionID NodeExecutionID `json:"node_execution_id"`
	RetryAttempt    Int64           `json:"retry_attempt"`
}

// ExecutionError is core.ExecutionError.
type ExecutionError struct {
	Code     string `json:"code,omitempty"`
	Message  string `json:"message,omitempty"`
	ErrorURI string `json:"error_uri,omitempty"`
	Kind     string `json:"kind,omitempty"`
}

// Execution is admin.Execution.
type Execution struct {
	ID      ExecutionID      `json:"id"`
	Spec    ExecutionSpec    `json:"spec"`
	Closure ExecutionClosure `json:"closure"`
}

// ExecutionSpec is the part of admin.ExecutionSpec benchctl reads back.
type ExecutionSpec struct {
	LaunchPlan Identifier `json:"launch_plan"`
}

// Timing is the timestamps every execution closure (workflow, node and
// task) carries: created when Admin recorded it, started at its running
// event, updated at its last event, and the duration from start to that.
type Timing struct {
	CreatedAt time.Time `json:"created_at,omitzero"`
	StartedAt time.Time `json:"started_at,omitzero"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
	Duration  Duration  `json:"duration,omitzero"`
}

// ExecutionClosure is admin.ExecutionClosure.
type ExecutionClosure struct {
	Phase string `json:"phase"`
	Timing
	Error      *ExecutionError `json:"error,omitempty"`
	AbortCause string          `json:"abort_cause,omitempty"`
}

// NodeExecution is admin.NodeExecution.
type NodeExecution struct {
	ID       NodeExecutionID       `json:"id"`
	Closure  NodeExecutionClosure  `json:"closure"`
	Metadata NodeExecutionMetadata `json:"metadata"`
}

// NodeExecutionClosure is admin.NodeExecutionClosure.
type NodeExecutionClosure struct {
	Phase string `json:"phase"`
	Timing
	Error            *ExecutionError   `json:"error,omitempty"`
	TaskNodeMetadata *TaskNodeMetadata `json:"task_node_metadata,omitempty"`
}

// TaskNodeMetadata is admin.TaskNodeMetadata.
type TaskNodeMetadata struct {
	CacheStatus string `json:"cache_status,omitempty"`
}

// NodeExecutionMetadata is admin.NodeExecutionMetaData.
type NodeExecutionMetadata struct {
	RetryGroup   string `json:"retry_group,omitempty"`
	IsParentNode bool   `json:"is_parent_node,omitempty"`
	SpecNodeID   string `json:"spec_node_id,omitempty"`
	IsDynamic    bool   `json:"is_dynamic,omitempty"`
}

// TaskExecution is admin.TaskExecution.
type TaskExecution struct {
	ID       TaskExecutionID      `json:"id"`
	Closure  TaskExecutionClosure `json:"closure"`
	IsParent bool                 `json:"is_parent,omitempty"`
}

// TaskExecutionClosure is admin.TaskExecutionClosure.
type TaskExecutionClosure struct {
	Phase string `json:"phase"`
	Timing
	Logs     []TaskLog       `json:"logs,omitempty"`
	Reason   string          `json:"reason,omitempty"`
	TaskType string          `json:"task_type,omitempty"`
	Error    *ExecutionError `json:"error,omitempty"`
}

// TaskLog is core.TaskLog.
type TaskLog struct {
	URI  string `json:"uri,omitempty"`
	Name string `json:"name,omitempty"`
}

// Span is core.Span from GetExecutionMetrics; exactly one of the ids is set.
type Span struct {
	StartTime   time.Time        `json:"start_time,omitzero"`
	EndTime     time.Time        `json:"end_time,omitzero"`
	WorkflowID  *ExecutionID     `json:"workflow_id,omitempty"`
	NodeID      *NodeExecutionID `json:"node_id,omitempty"`
	TaskID      *TaskExecutionID `json:"task_id,omitempty"`
	OperationID string           `json:"operation_id,omitempty"`
	Spans       []Span           `json:"spans,omitempty"`
}

// Version is admin.Version (its proto fields are capitalised).
type Version struct {
	Build     string `json:"Build,omitempty"`
	Version   string `json:"Version,omitempty"`
	BuildTime string `json:"BuildTime,omitempty"`
}

// LaunchPlan is the part of admin.LaunchPlan used to check it exists.
type LaunchPlan struct {
	ID      Identifier `json:"id"`
	Closure struct {
		State string `json:"state,omitempty"`
	} `json:"closure"`
}

// ---- calls

// GetVersion returns Admin's build.
func (c *Client) GetVersion(ctx context.Context) (Version, error) {
	var resp struct {
		ControlPlaneVersion Version `json:"control_plane_version"`
	}
	err := c.do(ctx, request{method: http.MethodGet, path: "/api/v1/version", retry: true}, &resp)
	return resp.ControlPlaneVersion, err
}

// GetLaunchPlan fetches a launch plan; a 404 names it.
func (c *Client) GetLaunchPlan(ctx context.Context, id Identifier) (*LaunchPlan, error) {
	var lp LaunchPlan
	err := c.do(ctx, request{method: http.MethodGet, path: "/api/v1/launch_plans" + esc(id.Project, id.Domain, id.Name, id.Version), retry: true}, &lp)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("launch plan %s (project/domain/name/version) is not registered: %w", id, err)
	}
	if err != nil {
		return nil, err
	}
	return &lp, nil
}

// executionCreateRequest is admin.ExecutionCreateRequest.
type executionCreateRequest struct {
	Project string     `json:"project"`
	Domain  string     `json:"domain"`
	Name    string     `json:"name"`
	Spec    createSpec `json:"spec"`
	Inputs  LiteralMap `json:"inputs"`
}

type createSpec struct {
	LaunchPlan Identifier     `json:"launch_plan"`
	Metadata   createMetadata `json:"metadata"`
}

type createMetadata struct {
	Mode      string `json:"mode"`
	Principal string `json:"principal,omitempty"`
}

// CreateExecution creates an execution of a launch plan under a given
// name. A 409 matches ErrAlreadyExists.
func (c *Client) CreateExecution(ctx context.Context, name string, lp Identifier, inputs LiteralMap) (ExecutionID, error) {
	lp.ResourceType = ResourceLaunchPlan
	body := executionCreateRequest{
		Project: lp.Project, Domain: lp.Domain, Name: name, Inputs: inputs,
		Spec: createSpec{LaunchPlan: lp, Metadata: createMetadata{Mode: "MANUAL", Principal: "benchctl"}},
	}
	var resp struct {
		ID ExecutionID `json:"id"`
	}
	// Retrying a create is safe: the name is fixed, so a create that did
	// land answers 409 the second time.
	if err := c.do(ctx, request{method: http.MethodPost, path: "/api/v1/executions", body: body, retry: true}, &resp); err != nil {
		return ExecutionID{}, err
	}
	if resp.ID.Name == "" {
		return ExecutionID{Project: lp.Project, Domain: lp.Domain, Name: name}, nil
	}
	return resp.ID, nil
}

// GetExecution fetches an execution.
func (c *Client) GetExecution(ctx context.Context, id ExecutionID) (*Execution, error) {
	var e Execution
	if err := c.do(ctx, request{method: http.MethodGet, path: "/api/v1/executions" + id.path(), retry: true}, &e); err != nil {
		return nil, err
	}
	return &e, nil
}

// TerminateExecution aborts an execution (admin.ExecutionTerminateRequest).
func (c *Client) TerminateExecution(ctx context.Context, id ExecutionID, cause string) error {
	body := struct {
		ID    ExecutionID `json:"id"`
		Cause string      `json:"cause"`
	}{id, cause}
	return c.do(ctx, request{method: http.MethodDelete, path: "/api/v1/executions" + id.path(), body: body}, nil)
}

// ListExecutions lists a project and domain's executions that match
// filters (Admin's syntax, e.g. "value_in(phase,QUEUED;RUNNING)"; several
// joined by "+"), every page.
func (c *Client) ListExecutions(ctx context.Context, project, domain, filters string) ([]Execution, error) {
	q := url.Values{}
	if filters != "" {
		q.Set("filters", filters)
	}
	return listAll[Execution](ctx, c, "/api/v1/executions"+esc(project, domain), q, "executions")
}

// pageLimit is the page size of list calls; Admin refuses a limit of 0.
const pageLimit = 100

// ListNodeExecutions lists one level of node executions, every page: the
// top level when parent is "", else the children of the node execution
// whose node id is parent.
func (c *Client) ListNodeExecutions(ctx context.Context, id ExecutionID, parent string) ([]NodeExecution, error) {
	q := url.Values{}
	if parent != "" {
		q.Set("unique_parent_id", parent)
	}
	return listAll[NodeExecution](ctx, c, "/api/v1/node_executions"+id.path(), q, "node_executions")
}

// ListTaskExecutions lists the task executions (attempts) of one node
// execution, every page.
func (c *Client) ListTaskExecutions(ctx context.Context, id NodeExecutionID) ([]TaskExecution, error) {
	return listAll[TaskExecution](ctx, c, "/api/v1/task_executions"+id.ExecutionID.path()+esc(id.NodeID), url.Values{}, "task_executions")
}

// listAll reads every page of a list call: the items under key, and the
// token of the next page, until a page names none (or repeats the last,
// or is empty, which a misbehaving server must not turn into a loop).
func listAll[T any](ctx context.Context, c *Client, path string, q url.Values, key string) ([]T, error) {
	var all []T
	token := ""
	for {
		q.Set("limit", fmt.Sprint(pageLimit))
		if token != "" {
			q.Set("token", token)
		}
		var page map[string]json.RawMessage
		if err := c.do(ctx, request{method: http.MethodGet, path: path, query: q, retry: true}, &page); err != nil {
			return all, err
		}
		var items []T
		var next string
		if raw, ok := page[key]; ok {
			if err := json.Unmarshal(raw, &items); err != nil {
				return all, fmt.Errorf("flyte admin GET %s: %w: %s: %w", path, errDecode, key, err)
			}
		}
		if raw, ok := page["token"]; ok {
			if err := json.Unmarshal(raw, &next); err != nil {
				return all, fmt.Errorf("flyte admin GET %s: %w: token: %w", path, errDecode, err)
			}
		}
		all = append(all, items...)
		if next == "" || next == token || len(items) == 0 {
			return all, nil
		}
		token = next
	}
}

// NodeTree is a node execution with its task executions (its attempts)
// and, for a parent node (dynamic, sub-workflow, launch plan), the node
// executions under it.
type NodeTree struct {
	NodeExecution
	Tasks    []TaskExecution `json:"task_executions,omitempty"`
	Children []NodeTree      `json:"children,omitempty"`
}

// maxNesting bounds how deep NodeTrees follows parent nodes, so that a
// misbehaving server cannot make it recurse without end.
const maxNesting = 16

// NodeTrees lists every node execution of an execution with its task
// executions, nested levels included.
func (c *Client) NodeTrees(ctx context.Context, id ExecutionID) ([]NodeTree, error) {
	return c.nodeTrees(ctx, id, "", 0)
}

func (c *Client) nodeTrees(ctx context.Context, id ExecutionID, parent string, depth int) ([]NodeTree, error) {
	if depth > maxNesting {
		return nil, fmt.Errorf("node executions of %s nest deeper than %d levels", id, maxNesting)
	}
	nodes, err := c.ListNodeExecutions(ctx, id, parent)
	if err != nil {
		return nil, err
	}
	out := make([]NodeTree, 0, len(nodes))
	for _, n := range nodes {
		t := NodeTree{NodeExecution: n}
		if t.Tasks, err = c.ListTaskExecutions(ctx, n.ID); err != nil {
			return nil, err
		}
		if n.Metadata.IsParentNode {
			if t.Children, err = c.nodeTrees(ctx, id, n.ID.NodeID, depth+1); err != nil {
				return nil, err
			}
		}
		out = append(out, t)
	}
	return out, nil
}

// GetExecutionMetrics fetches the span tree Admin derives from its
// recorded events, depth entity levels deep.
func (c *Client) GetExecutionMetrics(ctx context.Context, id ExecutionID, depth int) (*Span, error) {
	var resp struct {
		Span *Span `json:"span"`
	}
	q := url.Values{"depth": {fmt.Sprint(depth)}}
	if err := c.do(ctx, request{method: http.MethodGet, path: "/api/v1/metrics/executions" + id.path(), query: q, retry: true}, &resp); err != nil {
		return nil, err
	}
	return resp.Span, nil
}
