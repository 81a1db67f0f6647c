package controller_test

import (
	"log/slog"
	"os"
	"testing"
)

// TestMain keeps the in-process controllers' info logs out of test and
// benchmark output (benchmark lines must stay parseable).
func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	os.Exit(m.Run())
}
