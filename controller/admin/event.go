// Package admin is benchadmin, the bundled admin service: it persists the
// controller's workflow, node and task events in a real database (SQLite or
// PostgreSQL) so that event reporting costs real I/O, as it does with
// FlyteAdmin, and it derives Flyte-style execution metrics from the
// persisted timestamps.
//
// The API is HTTP/JSON, versioned under /api/v1 (see NewServer): the
// controller already speaks HTTP for everything else, curl and the
// collector can read it without generated stubs, and the cost being
// measured is the database write, not the wire format.
package admin

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// APIVersion is the version in the API's paths.
const APIVersion = "v1"

// Paths of the API.
const (
	PathEvents  = "/api/" + APIVersion + "/events"
	PathVersion = "/api/" + APIVersion + "/version"
	// PathExecutions is followed by {execution}/events or {execution}/metrics.
	PathExecutions = "/api/" + APIVersion + "/executions/"
)

// Event kinds.
const (
	KindWorkflow = "workflow"
	KindNode     = "node"
	KindTask     = "task"
)

// Event is one phase change of a workflow execution, a node or a task
// attempt, as the controller reports it.
type Event struct {
	// ID makes retries idempotent; empty means Key().
	ID        string `json:"id,omitempty"`
	Kind      string `json:"kind"` // workflow | node | task
	Namespace string `json:"namespace"`
	Workflow  string `json:"workflow"`
	Execution string `json:"execution"`
	Node      string `json:"node,omitempty"`
	// MapItem is the item index of a map node's task, -1 when not a map item.
	MapItem    int       `json:"mapItem"`
	Attempt    int32     `json:"attempt,omitempty"`
	Phase      string    `json:"phase"`
	OccurredAt time.Time `json:"occurredAt"`
	Message    string    `json:"message,omitempty"`
}

// Key is the deterministic id of the event: one per entity and phase, so
// that a retried send is recognised as a duplicate. The workflow is part
// of it because an execution's launch-plan children report under the
// execution's id with node ids of their own. Each part is path-escaped,
// so a '/' inside a part cannot make two events collide.
func (e Event) Key() string {
	return strings.Join([]string{
		url.PathEscape(e.Execution), url.PathEscape(e.Workflow), url.PathEscape(e.Kind), url.PathEscape(e.Node),
		strconv.Itoa(e.MapItem), strconv.FormatInt(int64(e.Attempt), 10), url.PathEscape(e.Phase),
	}, "/")
}

// maxIDLen bounds ids, which are primary keys.
const maxIDLen = 1024

// Validate reports a malformed event (an InvalidArgument *Error).
func (e Event) Validate() error {
	bad := func(format string, args ...any) error {
		return &Error{Code: CodeInvalidArgument, Message: fmt.Sprintf(format, args...), Status: 400}
	}
	switch e.Kind {
	case KindWorkflow, KindNode, KindTask:
	case "":
		return bad("kind is required")
	default:
		return bad("unknown kind %q (want workflow, node or task)", e.Kind)
	}
	if e.Execution == "" {
		return bad("execution is required")
	}
	if e.Phase == "" {
		return bad("phase is required")
	}
	if _, ok := Rank(e.Phase); !ok {
		return bad("unknown phase %q", e.Phase)
	}
	if e.Kind != KindWorkflow && e.Node == "" {
		return bad("node is required for a %s event", e.Kind)
	}
	if e.MapItem < -1 {
		return bad("mapItem %d: want -1 (not a map item) or an index", e.MapItem)
	}
	if e.Attempt < 0 {
		return bad("attempt %d is negative", e.Attempt)
	}
	if e.OccurredAt.IsZero() {
		return bad("occurredAt is required")
	}
	// Stored as int64 Unix nanoseconds.
	if !time.Unix(0, e.OccurredAt.UnixNano()).Equal(e.OccurredAt) {
		return bad("occurredAt %s is out of range", e.OccurredAt)
	}
	if len(e.ID) > maxIDLen {
		return bad("id is longer than %d bytes", maxIDLen)
	}
	return nil
}

// Persisted is an event as stored.
type Persisted struct {
	Event
	RecordedAt   time.Time `json:"recordedAt"`   // server time when committed
	WriteSeconds float64   `json:"writeSeconds"` // the database transaction's duration for this event
}

// Error codes, as in FlyteAdmin's gRPC status codes.
const (
	CodeAlreadyExists     = "AlreadyExists"
	CodeIncompatiblePhase = "IncompatiblePhase"
	CodeInvalidArgument   = "InvalidArgument"
	CodeNotFound          = "NotFound"
	CodeInternal          = "Internal"
)

// Sentinels for errors.Is on what Store.Record and Client.Record return.
// The controller handles them as Flyte's does: AlreadyExists means the event
// is already persisted, IncompatiblePhase that it is obsolete; neither is
// worth a retry.
var (
	ErrAlreadyExists     error = &Error{Code: CodeAlreadyExists, Status: 409}
	ErrIncompatiblePhase error = &Error{Code: CodeIncompatiblePhase, Status: 412}
	ErrInvalidArgument   error = &Error{Code: CodeInvalidArgument, Status: 400}
	ErrNotFound          error = &Error{Code: CodeNotFound, Status: 404}
)

// Error is a refusal by the service, also its JSON error body.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// CurrentPhase is the entity's phase, for IncompatiblePhase.
	CurrentPhase string `json:"currentPhase,omitempty"`
	// Status is the HTTP status.
	Status int `json:"-"`
}

func (e *Error) Error() string {
	s := "benchadmin: " + e.Code
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.CurrentPhase != "" {
		s += " (current phase " + e.CurrentPhase + ")"
	}
	return s
}

// Is matches any *Error with the same code, so errors.Is(err,
// ErrAlreadyExists) works whatever the message.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Phase ranks.
const (
	rankInitial  = 0
	rankTerminal = 4
)

// ranks of the phases of the controller's workflows, nodes and tasks, and
// of Flyte's.
var ranks = map[string]int{
	"": 0, "NotStarted": 0, "Pending": 0, "Undefined": 0,
	"Queued":  1,
	"Running": 2,
	"Failing": 3, "Succeeding": 3,
	"Succeeded": 4, "Failed": 4, "Aborted": 4, "Skipped": 4, "RetryableFailure": 4, "TimedOut": 4,
}

// Rank orders the phases of one entity (execution, kind, node, mapItem,
// attempt), so that an event arriving late, or replayed by a restarted
// controller, cannot move an entity backwards. ok is false for an unknown
// phase.
func Rank(phase string) (int, bool) {
	r, ok := ranks[phase]
	return r, ok
}

// checkTransition refuses moving an entity from current to next.
func checkTransition(current, next string) error {
	cr, _ := Rank(current)
	nr, _ := Rank(next)
	switch {
	case cr == rankTerminal && next != current:
		return &Error{Code: CodeIncompatiblePhase, Status: 412, CurrentPhase: current,
			Message: fmt.Sprintf("already terminal in phase %s, refusing %s", current, next)}
	case nr < cr:
		return &Error{Code: CodeIncompatiblePhase, Status: 412, CurrentPhase: current,
			Message: fmt.Sprintf("phase %s is behind the current phase %s", next, current)}
	}
	return nil
}
