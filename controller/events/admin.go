package events

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/benchctl/benchctl/controller/admin"
)

// AdminSink sends each event to the admin service (benchadmin), which
// persists it before it answers: the cost FlytePropeller pays reporting to
// FlyteAdmin. A network error or a 5xx answer is retried with exponential
// back-off; an event the service already has is a success (the service is
// idempotent by event id, so a retry after a lost answer is safe); any
// other refusal, such as a phase that goes backwards, is final.
//
// Once an event has failed every retry the sink is down: later events get
// one attempt each, without back-off, until one succeeds, so a dead
// service costs each round one refused connection rather than the whole
// retry schedule per event.
type AdminSink struct {
	client  *admin.Client
	retries int
	backoff time.Duration
	down    atomic.Bool
}

// NewAdminSink returns a sink reporting to the service at url; timeout
// bounds each attempt.
func NewAdminSink(url string, timeout time.Duration, retries int, backoff time.Duration) *AdminSink {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// Every worker may report at once; keep a connection per worker
	// instead of the default two, so no event pays for a new one.
	tr.MaxIdleConnsPerHost = 64
	return &AdminSink{
		client:  &admin.Client{BaseURL: url, HTTP: &http.Client{Timeout: timeout, Transport: tr}},
		retries: retries, backoff: backoff,
	}
}

// Record implements Sink.
func (s *AdminSink) Record(ctx context.Context, e Event) error {
	ev := admin.Event{
		Kind: string(e.Kind), Namespace: e.Namespace, Workflow: e.Workflow, Execution: e.Execution,
		Node: e.Node, MapItem: e.MapItem, Attempt: e.Attempt, Phase: e.Phase, OccurredAt: e.Time, Message: e.Message,
	}
	if ev.Phase == "" {
		ev.Phase = "NotStarted"
	}
	wait, retries := s.backoff, s.retries
	if s.down.Load() {
		retries = 0
	}
	for attempt := 1; ; attempt++ {
		err := s.client.Record(ctx, ev)
		var refused *admin.Error
		switch {
		case err == nil, errors.Is(err, admin.ErrAlreadyExists):
			s.down.Store(false)
			return nil
		case errors.As(err, &refused) && refused.Status < http.StatusInternalServerError:
			s.down.Store(false)
			return fmt.Errorf("admin refused the event: %w", err)
		case attempt > retries:
			s.down.Store(true)
			return fmt.Errorf("admin unreachable after %d attempt(s): %w", attempt, err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("admin: %w (last error: %w)", ctx.Err(), err)
		case <-t.C:
		}
		wait *= 2
	}
}

// Close implements Sink.
func (s *AdminSink) Close() error {
	if tr, ok := s.client.HTTP.Transport.(*http.Transport); ok {
		tr.CloseIdleConnections()
	}
	return nil
}
