package local_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/benchctl/benchctl/controller/api/v1alpha1"
	"github.com/benchctl/benchctl/provision/local/localtest"
)

// TestAnnotatedPodTiming is the local cluster's acceptance test: a pod
// annotated to run 300 ms goes Succeeded, and its precise start and finish
// instants are 300 ms ± 5 ms apart. Teardown (registered by Start) checks
// that no process survives. The cases run one after another on one
// cluster, so a start costs once.
func TestAnnotatedPodTiming(t *testing.T) {
	c := localtest.Start(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	tests := []struct {
		name     string
		duration time.Duration
		fail     bool
		phase    corev1.PodPhase
	}{
		{"succeeds", 300 * time.Millisecond, false, corev1.PodSucceeded},
		{"fails", 50 * time.Millisecond, true, corev1.PodFailed},
		// A 0 s task ends in one status write, never Running (the
		// benchctl-task-instant stages).
		{"zero length", 0, false, corev1.PodSucceeded},
		{"zero length fails", 0, true, corev1.PodFailed},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := fmt.Sprintf("timed-%d", i)
			ann := map[string]string{v1alpha1.AnnotationDuration: tt.duration.String()}
			if tt.fail {
				ann[v1alpha1.AnnotationFail] = "true"
			}
			pods := c.Clientset.CoreV1().Pods("default")
			w, err := pods.Watch(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String()})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Stop()
			_, err = pods.Create(ctx, &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: ann},
				Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					Containers:    []corev1.Container{{Name: "task", Image: "benchtask"}},
				},
			}, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var pod *corev1.Pod
			var observed time.Time
			sawRunning := false
			for pod == nil {
				select {
				case ev, ok := <-w.ResultChan():
					if !ok {
						t.Fatal("watch closed")
					}
					p, isPod := ev.Object.(*corev1.Pod)
					if !isPod || ev.Type != watch.Modified {
						continue
					}
					sawRunning = sawRunning || p.Status.Phase == corev1.PodRunning
					if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
						pod, observed = p, time.Now()
					}
				case <-ctx.Done():
					t.Fatal("pod did not finish in time")
				}
			}
			if pod.Status.Phase != tt.phase {
				t.Fatalf("phase = %s, want %s", pod.Status.Phase, tt.phase)
			}
			if want := tt.duration > 0; sawRunning != want {
				t.Fatalf("pod seen Running: %v, want %v", sawRunning, want)
			}
			term := pod.Status.ContainerStatuses[0].State.Terminated
			if term == nil {
				t.Fatalf("no terminated state: %+v", pod.Status.ContainerStatuses)
			}
			m, err := v1alpha1.ParseTerminationMessage(term.Message)
			if err != nil {
				t.Fatal(err)
			}
			got := m.FinishedAt.Sub(m.StartedAt)
			t.Logf("user code ran %v (declared %v)", got, tt.duration)
			if d := got - tt.duration; d < -5*time.Millisecond || d > 5*time.Millisecond {
				t.Fatalf("finished - started = %v, want %v ± 5ms", got, tt.duration)
			}
			// KWOK must really wait: the pod's end is seen only after the
			// reported finish (same host clock), and not long after.
			if lag := observed.Sub(m.FinishedAt); lag < 0 || lag > 2*time.Second {
				t.Fatalf("pod end observed %v after its reported finish, want within [0, 2s]", lag)
			}
			t.Logf("end observed %v after the reported finish", observed.Sub(m.FinishedAt))
		})
	}
}
