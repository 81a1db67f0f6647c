// Package events records workflow, node and task events to a pluggable sink,
// each with its latency, under a token-bucket rate limit whose drops are
// counted.
package events

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/benchctl/benchctl/controller/api/telemetry"
	"github.com/benchctl/benchctl/controller/api/v1alpha1"
	"github.com/benchctl/benchctl/controller/obs"
)

// Kind is the level an event is about.
type Kind string

// Event kinds, the values of the event.kind span attribute.
const (
	KindWorkflow Kind = "workflow"
	KindNode     Kind = "node"
	KindTask     Kind = "task"
)

// PhaseRetryableFailure is a node event's phase when an attempt failed and
// the node waits for its next attempt (its status goes back to Queued).
const PhaseRetryableFailure = "RetryableFailure"

// Event is one phase change.
type Event struct {
	Kind      Kind      `json:"kind"`
	Time      time.Time `json:"time"`
	Namespace string    `json:"namespace"`
	Workflow  string    `json:"workflow"`
	UID       types.UID `json:"uid,omitempty"`
	Execution string    `json:"execution"`
	Node      string    `json:"node,omitempty"`
	// MapItem is the item index of a map node's task, or -1.
	MapItem int    `json:"mapItem"`
	Attempt int32  `json:"attempt,omitempty"`
	Phase   string `json:"phase"`
	Message string `json:"message,omitempty"`
}

// Sink stores events.
type Sink interface {
	Record(ctx context.Context, e Event) error
	Close() error
}

// Recorder sends events to a sink under a rate limit.
type Recorder struct {
	sink    Sink
	limiter *rate.Limiter
	tel     *obs.Telemetry
}

// NewRecorder returns a recorder allowing qps events per second with bursts
// of burst.
func NewRecorder(sink Sink, qps float64, burst int, tel *obs.Telemetry) *Recorder {
	return &Recorder{sink: sink, limiter: rate.NewLimiter(rate.Limit(qps), burst), tel: tel}
}

// Record sends e unless the rate limit is exhausted. An event the sink
// finally fails to store (after its own retries) is dropped like one
// beyond the rate limit: logged and counted, not returned, since an event
// never fails a workflow; the harness marks an execution with dropped
// events invalid.
func (r *Recorder) Record(ctx context.Context, e Event) {
	if !r.limiter.Allow() {
		r.tel.Metrics.EventsDropped.WithLabelValues(string(e.Kind)).Inc()
		return
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	attrs := []attribute.KeyValue{attribute.String(telemetry.AttrEventKind, string(e.Kind))}
	if e.Node != "" {
		attrs = append(attrs, attribute.String(telemetry.AttrNode, e.Node))
	}
	ctx, span := r.tel.Start(ctx, telemetry.SpanEventRecord, attrs...)
	start := time.Now()
	err := r.sink.Record(ctx, e)
	r.tel.Metrics.EventRecord.WithLabelValues(string(e.Kind)).Observe(time.Since(start).Seconds())
	if err != nil {
		r.tel.Metrics.EventsDropped.WithLabelValues(string(e.Kind)).Inc()
		slog.Warn("event dropped", "kind", e.Kind, "workflow", e.Workflow, "node", e.Node, "phase", e.Phase, "err", err)
	}
	obs.End(span, err)
}

// Close closes the sink.
func (r *Recorder) Close() error { return r.sink.Close() }

// LogSink writes events to a logger at debug level.
type LogSink struct{ Logger *slog.Logger }

// Record implements Sink.
func (s LogSink) Record(ctx context.Context, e Event) error {
	s.Logger.DebugContext(ctx, "event", "kind", e.Kind, "workflow", e.Workflow, "execution", e.Execution,
		"node", e.Node, "attempt", e.Attempt, "phase", e.Phase, "message", e.Message)
	return nil
}

// Close implements Sink.
func (LogSink) Close() error { return nil }

// NoneSink discards events (they are still rate-limited and timed).
type NoneSink struct{}

// Record implements Sink.
func (NoneSink) Record(context.Context, Event) error { return nil }

// Close implements Sink.
func (NoneSink) Close() error { return nil }

// FileSink appends events as JSON lines.
type FileSink struct {
	mu sync.Mutex
	f  *os.File
	w  *bufio.Writer
}

// NewFileSink opens (appends to) path.
func NewFileSink(path string) (*FileSink, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open event file: %w", err)
	}
	return &FileSink{f: f, w: bufio.NewWriter(f)}, nil
}

// Record implements Sink. Each line is flushed, so a reader sees every
// recorded event and the latency includes the write.
func (s *FileSink) Record(_ context.Context, e Event) error {
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write event: %w", err)
	}
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("write event: %w", err)
	}
	return nil
}

// Close implements Sink.
func (s *FileSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("flush events: %w", err)
	}
	return s.f.Close()
}

// KubeSink creates a core/v1 Event per event, about the Workflow object.
type KubeSink struct {
	client   kubernetes.Interface
	instance string
	seq      atomic.Uint64
}

// NewKubeSink returns a sink creating Events through client; instance names
// this controller process in the events' reportingInstance.
func NewKubeSink(client kubernetes.Interface, instance string) *KubeSink {
	return &KubeSink{client: client, instance: instance}
}

// Record implements Sink.
func (s *KubeSink) Record(ctx context.Context, e Event) error {
	reason := e.Phase
	if reason == "" {
		reason = "NotStarted"
	}
	typ := corev1.EventTypeNormal
	if strings.Contains(e.Phase, "Fail") || e.Phase == "Aborted" {
		typ = corev1.EventTypeWarning
	}
	msg := fmt.Sprintf("%s %s", e.Kind, e.Phase)
	if e.Node != "" {
		msg = fmt.Sprintf("%s %s attempt %d: %s", e.Kind, e.Node, e.Attempt, e.Phase)
		if e.Kind == KindTask && e.MapItem >= 0 {
			msg = fmt.Sprintf("%s %s[%d] attempt %d: %s", e.Kind, e.Node, e.MapItem, e.Attempt, e.Phase)
		}
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	ts := metav1.NewTime(e.Time)
	ev := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{
			// client-go's recorder scheme, plus a sequence number because
			// one round records several events.
			Name:      fmt.Sprintf("%s.%x.%x", e.Workflow, e.Time.UnixNano(), s.seq.Add(1)),
			Namespace: e.Namespace,
			Labels:    map[string]string{v1alpha1.LabelExecution: labelValue(e.Execution)},
		},
		InvolvedObject: corev1.ObjectReference{
			APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: "Workflow",
			Namespace: e.Namespace, Name: e.Workflow, UID: e.UID,
		},
		Reason: reason, Message: msg, Type: typ, Count: 1,
		FirstTimestamp: ts, LastTimestamp: ts,
		Source:              corev1.EventSource{Component: "benchflow"},
		ReportingController: v1alpha1.Domain + "/benchflow", ReportingInstance: s.instance,
	}
	if _, err := s.client.CoreV1().Events(e.Namespace).Create(ctx, ev, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create event for %s/%s: %w", e.Namespace, e.Workflow, err)
	}
	return nil
}

// Close implements Sink.
func (*KubeSink) Close() error { return nil }

// labelValue trims s to a valid label value length.
func labelValue(s string) string {
	if len(s) > 63 {
		s = s[:63]
	}
	return strings.Trim(s, "-_.")
}
