package providertest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// recorder is a testing.TB that records failures; Fatal ends the
// goroutine as the real one does.
type recorder struct {
	testing.TB
	errors []string
	fatal  bool
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}
func (r *recorder) Fatal(args ...any) {
	r.errors = append(r.errors, fmt.Sprint(args...))
	r.fatal = true
	runtime.Goexit()
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	r.fatal = true
	runtime.Goexit()
}

// run calls check with a recorder and reports what it recorded.
func run(check func(testing.TB)) *recorder {
	r := &recorder{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		check(r)
	}()
	<-done
	return r
}

var errSentinel = errors.New("missing command-line tool")

func TestErrorHelpersFailWhenTheyShould(t *testing.T) {
	wrapped := fmt.Errorf("--provider eks: %w: eksctl is not on PATH", errSentinel)
	tests := []struct {
		name      string
		check     func(testing.TB)
		wantFail  bool
		wantFatal bool
	}{
		{"CheckErr: no error wanted, none", func(t testing.TB) { CheckErr(t, nil, "") }, false, false},
		{"CheckErr: no error wanted, one", func(t testing.TB) { CheckErr(t, wrapped, "") }, true, true},
		{"CheckErr: error wanted, none", func(t testing.TB) { CheckErr(t, nil, "eksctl") }, true, false},
		{"CheckErr: error wanted, other text", func(t testing.TB) { CheckErr(t, wrapped, "gcloud") }, true, false},
		{"CheckErr: error wanted, it", func(t testing.TB) { CheckErr(t, wrapped, "eksctl is not") }, false, false},
		{"RequireErr: none", func(t testing.TB) { RequireErr(t, nil, nil, "eksctl") }, true, true},
		{"RequireErr: all there", func(t testing.TB) { RequireErr(t, wrapped, errSentinel, "--provider eks", "not on PATH") }, false, false},
		{"RequireErr: one text missing", func(t testing.TB) { RequireErr(t, wrapped, nil, "--provider eks", "gcloud") }, true, false},
		{"RequireErr: other sentinel", func(t testing.TB) { RequireErr(t, wrapped, errors.New("missing command-line tool"), "eksctl") }, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(tt.check)
			if failed := len(r.errors) > 0; failed != tt.wantFail || r.fatal != tt.wantFatal {
				t.Errorf("failed = %v (fatal %v), want %v (fatal %v); recorded %s", failed, r.fatal, tt.wantFail, tt.wantFatal, strings.Join(r.errors, "; "))
			}
		})
	}
}

func TestRequireMode0600(t *testing.T) {
	dir := t.TempDir()
	for name, mode := range map[string]os.FileMode{"private": 0o600, "readable": 0o644} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(dir, name), mode); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		file      string
		wantFail  bool
		wantFatal bool
	}{
		{"private", false, false},
		{"readable", true, false},
		{"missing", true, true},
	}
	for _, tt := range tests {
		r := run(func(t testing.TB) { RequireMode0600(t, filepath.Join(dir, tt.file)) })
		if failed := len(r.errors) > 0; failed != tt.wantFail || r.fatal != tt.wantFatal {
			t.Errorf("%s: failed = %v (fatal %v), want %v (fatal %v)", tt.file, failed, r.fatal, tt.wantFail, tt.wantFatal)
		}
	}
}

func TestPath(t *testing.T) {
	p := Path{"gcloud": true}
	if got, err := p.LookPath("gcloud"); err != nil || got != "/usr/bin/gcloud" {
		t.Errorf("LookPath(gcloud) = %q, %v", got, err)
	}
	if _, err := p.LookPath("eksctl"); err == nil {
		t.Error("LookPath found a program that is not on the fake PATH")
	}
}
