// Package provider holds what the kind, eks, gke and existing cluster
// providers share: the usage-error marker, the CLI commands the cloud
// providers run and the tools they need, the 0600 writer for files that
// hold credentials, and reading a cluster through its kubeconfig.
package provider

import (
	"fmt"
	"strings"

	"github.com/benchctl/benchctl/provision"
)

// usageError marks an error in the user's flags. It has a UsageError
// method, so the CLI can exit with the usage code (2) for it without
// knowing the provider packages: errors.As(err, &u) with
// u interface{ UsageError() bool }, as provision.IsUsageError does.
type usageError struct{ err error }

func (e usageError) Error() string    { return e.err.Error() }
func (e usageError) Unwrap() error    { return e.err }
func (e usageError) UsageError() bool { return true }

// Usage wraps a flag validation error; nil stays nil.
func Usage(err error) error {
	if err == nil {
		return nil
	}
	return usageError{err}
}

// WriteFile0600 writes data atomically with mode 0600: the files hold
// cluster credentials.
func WriteFile0600(path string, data []byte) error {
	if err := provision.WriteFile0600(path, data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// OneLine folds a CLI's multi-line complaint into one line, capped so a
// wall of text cannot bury the message.
func OneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	const max = 400
	if len(s) > max {
		s = s[:max] + "..."
	}
	return s
}
