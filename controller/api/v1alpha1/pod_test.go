package v1alpha1

import (
	"testing"
	"time"
)

func TestParseTerminationMessage(t *testing.T) {
	start := time.Date(2026, 11, 22, 4, 30, 0, 123456789, time.UTC)
	tests := []struct {
		name    string
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"round trip", TerminationMessage{StartedAt: start, FinishedAt: start.Add(300 * time.Millisecond)}.String(), 300 * time.Millisecond, false},
		{"kwok form", `{"startedAt":"2026-11-22T04:30:00.123456789Z","finishedAt":"2026-11-22T04:30:00.423456789Z"}`, 300 * time.Millisecond, false},
		{"not json", "Completed", 0, true},
		{"missing finish", `{"startedAt":"2026-11-22T04:30:00Z"}`, 0, true},
		{"backwards", `{"startedAt":"2026-11-22T04:30:01Z","finishedAt":"2026-11-22T04:30:00Z"}`, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseTerminationMessage(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && m.FinishedAt.Sub(m.StartedAt) != tt.want {
				t.Fatalf("duration = %v, want %v", m.FinishedAt.Sub(m.StartedAt), tt.want)
			}
		})
	}
}
