package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/benchctl/benchctl/controller/api/v1alpha1"
	"github.com/benchctl/benchctl/controller/taskdata"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "in"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "in", "inputs"), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"succeeds", nil, ""},
		{"fails after the work", []string{"--fail"}, "failing as asked"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			term := filepath.Join(t.TempDir(), "termination-log")
			args := append([]string{
				"--duration=30ms", "--blob-url=file://" + dir + "?no_tmp_dir=1", "--inputs-key=in/inputs",
				"--outputs-key=out/" + tt.name, "--output-bytes=3000000", "--seed=abc", "--termination-log=" + term,
			}, tt.args...)
			o, err := parseFlags(args)
			if err != nil {
				t.Fatal(err)
			}
			err = run(context.Background(), o)
			if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			msg, err := os.ReadFile(term)
			if err != nil {
				t.Fatal(err)
			}
			tm, err := v1alpha1.ParseTerminationMessage(string(msg))
			if err != nil {
				t.Fatal(err)
			}
			if d := tm.FinishedAt.Sub(tm.StartedAt); d < 30*time.Millisecond {
				t.Fatalf("user code ran %v, want at least 30ms", d)
			}
			out, err := os.ReadFile(filepath.Join(dir, "out", tt.name))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, taskdata.Payload("abc", 3000000)) {
				t.Fatal("outputs differ from the controller's simulated payload")
			}
		})
	}
}

func TestDynamicSubDAG(t *testing.T) {
	dir := t.TempDir()
	o, err := parseFlags([]string{
		"--no-outputs", "--blob-url=file://" + dir + "?no_tmp_dir=1", "--termination-log=" + filepath.Join(dir, "term"),
		"--dynamic-key=d0/dag", "--dynamic-generator=gen", "--dynamic-width=5", "--dynamic-depth=2", "--dynamic-leaf-task=leaf",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "d0", "dag"))
	if err != nil {
		t.Fatal(err)
	}
	var got v1alpha1.WorkflowTemplate
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := v1alpha1.ExpandDynamic("gen", v1alpha1.DynamicSpec{Width: 5, Depth: 2, LeafTask: "leaf"})
	if len(got.Nodes) != len(want.Nodes) || got.Nodes["n0"].Dynamic.Depth != 1 {
		t.Fatalf("sub-DAG %+v, want %+v", got, want)
	}
}

func TestFlags(t *testing.T) {
	if _, err := parseFlags([]string{"--no-outputs", "--dynamic-key=x"}); err == nil {
		t.Fatal("incomplete dynamic flags accepted")
	}
	if _, err := parseFlags([]string{"--duration=1s"}); err == nil {
		t.Fatal("outputs without a blob URL accepted")
	}
	if _, err := parseFlags([]string{"--duration=1s", "--no-outputs"}); err != nil {
		t.Fatal(err)
	}
}
