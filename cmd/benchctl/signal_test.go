package main

import (
	"context"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSecondSignalExitsAtOnce: the first SIGTERM cancels the command's
// context (it cleans up); a second one exits with 130 at once.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	ctx, stop := signal.NotifyContext(context.Background(), interruptSignals...)
	defer stop()
	var stderr strings.Builder
	exited := make(chan int, 1)
	go exitOnSecondSignal(ctx, stop, &stderr, func(code int) { exited <- code })
	for i, want := range []string{"first: the context ends", "second: exit"} {
		if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		switch i {
		case 0:
			select {
			case <-ctx.Done():
			case <-time.After(5 * time.Second):
				t.Fatalf("%s: the context did not end", want)
			}
			select {
			case code := <-exited:
				t.Fatalf("exited (%d) on the first signal", code)
			case <-time.After(100 * time.Millisecond):
			}
		case 1:
			select {
			case code := <-exited:
				if code != exitInterrupted || !strings.Contains(stderr.String(), "--resume") {
					t.Errorf("exit %d, stderr %q: want %d and a resume hint", code, stderr.String(), exitInterrupted)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("%s: no exit on the second signal", want)
			}
		}
	}
}
