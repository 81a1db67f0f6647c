package v1alpha1

import (
	"encoding/json"
	"fmt"
	"time"
)

// The pod contract. Task pods carry these annotations; the local cluster's
// KWOK stages and benchtask both honour them and both report the precise
// user-code instants in the same termination message, so the controller and
// the harness read them the same way on every provider.
const (
	// Domain is the project's own annotation and label domain.
	Domain = "benchctl.dev"

	// AnnotationDuration is the Go duration the task's user code runs for.
	// KWOK moves an annotated pod Running, then Succeeded exactly this long
	// after it started running, whatever owns the pod.
	AnnotationDuration = Domain + "/duration"
	// AnnotationFail, when "true", makes the attempt end Failed (exit code 1)
	// instead of Succeeded, after the same duration.
	AnnotationFail = Domain + "/fail"
	// AnnotationCRDRevision is the Workflow CRD's revision, on the CRD
	// itself: deploy upgrades an older CRD (Helm installs a chart's CRDs
	// only when absent, and never upgrades them). 2 is the first with a
	// schemaless closure and compact node statuses; none means 1.
	AnnotationCRDRevision = Domain + "/crd-revision"

	// ConditionUserCode is a pod condition that KWOK writes when the pod
	// starts running. Its message is a UserCodeCondition in JSON: the start
	// instant and the deadline at which the pod completes.
	ConditionUserCode = Domain + "/user-code"

	// Labels on task pods.
	LabelWorkflow  = Domain + "/workflow"
	LabelExecution = Domain + "/execution"
	LabelNode      = Domain + "/node"
	LabelAttempt   = Domain + "/attempt"
	// LabelParent is on launch-plan children: the parent Workflow.
	LabelParent = Domain + "/parent"
	// LabelManaged marks objects the controller owns.
	LabelManaged = Domain + "/managed"
)

// UserCodeCondition is the message of the ConditionUserCode pod condition.
//
// +kubebuilder:object:generate=false
type UserCodeCondition struct {
	StartedAt time.Time `json:"startedAt"`
	Deadline  time.Time `json:"deadline"`
}

// TerminationMessage is what a task pod's container reports when it ends:
// the instants its user code started and finished, with nanosecond
// resolution. Pod status timestamps are whole seconds and are not enough.
//
// +kubebuilder:object:generate=false
type TerminationMessage struct {
	StartedAt  time.Time `json:"startedAt"`
	FinishedAt time.Time `json:"finishedAt"`
}

// ParseTerminationMessage parses a container's termination message.
func ParseTerminationMessage(s string) (TerminationMessage, error) {
	var m TerminationMessage
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return m, fmt.Errorf("parse termination message %q: %w", s, err)
	}
	if m.StartedAt.IsZero() || m.FinishedAt.IsZero() {
		return m, fmt.Errorf("termination message %q lacks startedAt or finishedAt", s)
	}
	if m.FinishedAt.Before(m.StartedAt) {
		return m, fmt.Errorf("termination message %q finishes before it starts", s)
	}
	return m, nil
}

// String renders the message as written by benchtask and KWOK.
func (m TerminationMessage) String() string {
	b, _ := json.Marshal(struct {
		StartedAt  string `json:"startedAt"`
		FinishedAt string `json:"finishedAt"`
	}{m.StartedAt.UTC().Format(time.RFC3339Nano), m.FinishedAt.UTC().Format(time.RFC3339Nano)})
	return string(b)
}
