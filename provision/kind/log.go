package kind

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	kindlog "sigs.k8s.io/kind/pkg/log"
)

// slogLogger routes kind's progress messages into benchctl's slog, so
// -v shows them (V(0) is kind's user-facing status; deeper levels debug).
type slogLogger struct{ l *slog.Logger }

var _ kindlog.Logger = slogLogger{}

// kind ends many messages with a newline meant for a terminal.
func (s slogLogger) Warn(message string) {
	s.l.Warn(strings.TrimSpace(message), "component", "kind")
}
func (s slogLogger) Warnf(format string, args ...any) {
	s.Warn(fmt.Sprintf(format, args...))
}
func (s slogLogger) Error(message string) {
	s.l.Error(strings.TrimSpace(message), "component", "kind")
}
func (s slogLogger) Errorf(format string, args ...any) {
	s.Error(fmt.Sprintf(format, args...))
}

func (s slogLogger) V(level kindlog.Level) kindlog.InfoLogger {
	l := slog.LevelInfo
	if level > 0 {
		l = slog.LevelDebug
	}
	return slogInfo{s.l, l}
}

type slogInfo struct {
	l     *slog.Logger
	level slog.Level
}

func (s slogInfo) Info(message string) {
	s.l.Log(context.Background(), s.level, strings.TrimSpace(message), "component", "kind")
}
func (s slogInfo) Infof(format string, args ...any) { s.Info(fmt.Sprintf(format, args...)) }
func (s slogInfo) Enabled() bool                    { return s.l.Enabled(context.Background(), s.level) }
