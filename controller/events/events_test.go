package events

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/benchctl/benchctl/controller/obs"
)

func TestRecorderRateLimitAndFileSink(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	sink, err := NewFileSink(path)
	if err != nil {
		t.Fatal(err)
	}
	m := obs.NewMetrics()
	// A bucket of 3 that refills once per ~3 hours: the 4th and 5th drop.
	r := NewRecorder(sink, 0.0001, 3, obs.NewTelemetry(nil, m))
	for i := range 5 {
		r.Record(context.Background(), Event{Kind: KindNode, Workflow: "wf", Node: "n0", Attempt: int32(i), Phase: "Running", MapItem: -1})
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines int
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("line %d: %v", lines+1, err)
		}
		if e.Time.IsZero() || e.Kind != KindNode {
			t.Fatalf("line %d: %+v", lines+1, e)
		}
		lines++
	}
	if lines != 3 {
		t.Fatalf("%d events written, want 3", lines)
	}
	if got := testutil.ToFloat64(m.EventsDropped.WithLabelValues("node")); got != 2 {
		t.Fatalf("dropped = %v, want 2", got)
	}
	if got := testutil.CollectAndCount(m.EventRecord); got != 3 { // workflow, node, task series
		t.Fatalf("event latency series = %d", got)
	}
}

func TestKubeSink(t *testing.T) {
	client := fake.NewClientset()
	s := NewKubeSink(client, "test")
	ctx := context.Background()
	for _, e := range []Event{
		{Kind: KindWorkflow, Namespace: "ns", Workflow: "wf", Phase: "Running"},
		{Kind: KindTask, Namespace: "ns", Workflow: "wf", Node: "m", MapItem: 7, Attempt: 1, Phase: "Failed", Message: "exit 1"},
	} {
		if err := s.Record(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	list, err := client.CoreV1().Events("ns").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 2 {
		t.Fatalf("%d events, want 2", len(list.Items))
	}
	for _, ev := range list.Items {
		if ev.InvolvedObject.Kind != "Workflow" || ev.InvolvedObject.Name != "wf" {
			t.Fatalf("involved object = %+v", ev.InvolvedObject)
		}
		if ev.Reason == "Failed" && (ev.Type != "Warning" || ev.Message != "task m[7] attempt 1: Failed: exit 1") {
			t.Fatalf("failure event = %q %q", ev.Type, ev.Message)
		}
	}
}
