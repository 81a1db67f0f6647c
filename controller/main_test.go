package controller_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/benchctl/benchctl/controller"
)

func TestMainUsageErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("workers: 2\nwokers: 3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"--bogus"}, "bogus"},
		{"bad config", []string{"--config", bad, "--namespace", "ns"}, "line 2"},
		{"missing config", []string{"--config", filepath.Join(dir, "none.yaml"), "--namespace", "ns"}, "none.yaml"},
		{"no namespace", []string{"--namespace", ""}, "--namespace is required"},
		{"bad http address", []string{"--http-address", "nowhere", "--namespace", "ns"}, "http.address"},
		{"stray argument", []string{"run"}, "unexpected arguments"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("POD_NAMESPACE", "")
			var stderr bytes.Buffer
			err := controller.Main(context.Background(), tt.args, &bytes.Buffer{}, &stderr)
			if !errors.As(err, new(controller.UsageError)) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want a usage error containing %q", err, tt.want)
			}
		})
	}
	var out bytes.Buffer
	if err := controller.Main(context.Background(), []string{"--version"}, &out, &bytes.Buffer{}); err != nil || !strings.HasPrefix(out.String(), controller.Version) {
		t.Fatalf("--version: %q %v", out.String(), err)
	}
}
