// Package providertest holds the test helpers the provider packages
// (kind, eks, gke, existing) share.
package providertest

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/benchctl/benchctl/provision"
)

// Path is a fake PATH: the programs on it, by name. Embed it in a fake
// runner for its LookPath.
type Path map[string]bool

// LookPath finds file in /usr/bin if it is on the fake PATH.
func (p Path) LookPath(file string) (string, error) {
	if p[file] {
		return "/usr/bin/" + file, nil
	}
	return "", &exec.Error{Name: file, Err: exec.ErrNotFound}
}

// CheckErr checks err against a table row's wantErr: "" wants no error
// (the test stops on one), anything else an error containing it.
func CheckErr(t testing.TB, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v, want it to contain %q", err, want)
	}
}

// RequireErr stops the test unless err is an error, and fails it unless
// errors.Is(err, is) holds (when is is not nil) and err contains each of
// want.
func RequireErr(t testing.TB, err, is error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want one containing %q", want)
	}
	if is != nil && !errors.Is(err, is) {
		t.Errorf("err = %v, want errors.Is %v", err, is)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
}

// RequireMode0600 stops the test unless the file at path exists, and fails
// it unless the file's mode is 0600: it holds cluster credentials.
func RequireMode0600(t testing.TB, path string) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("%s mode %v, want 0600", path, st.Mode().Perm())
	}
}

// Provider is a provider that can also print a dry run.
type Provider interface {
	provision.Provider
	provision.DryRunner
}

// UsageCase is a spec and whether its error must be a usage error.
type UsageCase struct {
	Name  string
	Spec  provision.Spec
	Usage bool
}

// CheckUsageErrors checks that the CLI can map flag mistakes to exit code
// 2 (provision.IsUsageError), and that other failures are not marked so:
// DryRun's error is a usage error exactly for the Usage cases, and Create
// marks those too. Each call gets a fresh provider from newProvider.
func CheckUsageErrors(t *testing.T, newProvider func() Provider, cases []UsageCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.Name, func(t *testing.T) {
			err := newProvider().DryRun(context.Background(), tt.Spec, t.TempDir(), io.Discard)
			if got := provision.IsUsageError(err); got != tt.Usage {
				t.Errorf("DryRun error %v: usage = %v, want %v", err, got, tt.Usage)
			}
			if tt.Usage {
				c := &provision.Cluster{Name: tt.Spec.Name, Dir: t.TempDir()}
				if err := newProvider().Create(context.Background(), tt.Spec, c); !provision.IsUsageError(err) {
					t.Errorf("Create error %v is not a usage error", err)
				}
			}
		})
	}
}
