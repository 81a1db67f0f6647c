package provision

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
)

// Registry maps provider names to implementations.
type Registry map[string]Provider

// Get returns the named provider or an error listing the known ones.
func (r Registry) Get(name string) (Provider, error) {
	p, ok := r[name]
	if !ok {
		return nil, usageErr{fmt.Errorf("unknown provider %q: use one of %s", name, strings.Join(Providers, ", "))}
	}
	return p, nil
}

// usageErr marks an error that is the user's to fix (IsUsageError).
type usageErr struct{ error }

func (usageErr) UsageError() bool { return true }
func (e usageErr) Unwrap() error  { return e.error }

// ProcessStopper stops the host processes recorded with a cluster. The
// local provider implements it; Delete uses it to stop the controllers
// benchctl started on this host for a cluster it then only forgets.
type ProcessStopper interface {
	StopProcesses(ctx context.Context, c *Cluster) error
}

// Create reserves spec.Name, creates the cluster and records it. On
// failure the reservation is released, so the name can be used again.
func Create(ctx context.Context, store *Store, reg Registry, spec Spec) (*Cluster, error) {
	p, err := reg.Get(spec.Provider)
	if err != nil {
		return nil, err
	}
	dir, err := store.Reserve(spec.Name)
	if err != nil {
		return nil, err
	}
	c := &Cluster{
		Name:      spec.Name,
		Provider:  spec.Provider,
		CreatedBy: CreatedByBenchctl,
		CreatedAt: time.Now().UTC(),
		Nodes:     spec.Nodes,
		Dir:       dir,
	}
	if spec.Provider == ProviderExisting {
		c.CreatedBy = CreatedByUser
	}
	// Record the reservation first: if benchctl dies mid-create, teardown
	// still knows what it owns.
	if err := store.Save(c); err != nil {
		return nil, errors.Join(err, store.Remove(spec.Name))
	}
	if err := p.Create(ctx, spec, c); err != nil {
		// The provider cleans up what it started; drop the record.
		return nil, errors.Join(err, store.Remove(spec.Name))
	}
	if err := store.Save(c); err != nil {
		return nil, err
	}
	return c, nil
}

// DeleteResult says what Delete did.
type DeleteResult int

// Delete outcomes.
const (
	// Deleted: benchctl created the cluster and removed it.
	Deleted DeleteResult = iota
	// Forgotten: the user brought the cluster; only benchctl's record of it
	// was removed and the cluster was not touched.
	Forgotten
)

// Delete removes a cluster benchctl created, or forgets one the user
// brought (without touching it).
func Delete(ctx context.Context, store *Store, reg Registry, name string) (DeleteResult, error) {
	c, err := store.Load(name)
	if errors.Is(err, ErrNotFound) {
		// A directory without a record is a create that died early.
		if list, lerr := store.List(); lerr == nil {
			for _, l := range list {
				if l.Name == name && l.Provider == "" {
					slog.Warn("removing state of a cluster whose creation did not finish", "cluster", name, "dir", l.Dir)
					return Deleted, store.Remove(name)
				}
			}
		}
		return Deleted, err
	}
	if err != nil {
		return Deleted, err
	}
	if c.CreatedBy != CreatedByBenchctl {
		// The cluster is the user's; the controller processes benchctl
		// ran for it on this host are benchctl's own.
		var errs []error
		if ps, ok := reg[ProviderLocal].(ProcessStopper); ok && len(c.Processes) > 0 {
			errs = append(errs, ps.StopProcesses(ctx, c))
		}
		return Forgotten, errors.Join(append(errs, store.Remove(name))...)
	}
	p, err := reg.Get(c.Provider)
	if err != nil {
		return Deleted, err
	}
	if err := p.Delete(ctx, c); err != nil {
		return Deleted, fmt.Errorf("delete cluster %q: %w", name, err)
	}
	return Deleted, store.Remove(name)
}

// ErrDryRunUnsupported is DryRun's error for a provider that cannot print
// a plan (local, whose Create runs no external command).
var ErrDryRunUnsupported = errors.New("--dry-run is not supported")

// DryRunner is a provider that can print what Create would run.
type DryRunner interface {
	DryRun(ctx context.Context, spec Spec, dir string, w io.Writer) error
}

// DryRun prints the plan for spec without creating or recording anything.
func DryRun(ctx context.Context, store *Store, reg Registry, spec Spec, w io.Writer) error {
	p, err := reg.Get(spec.Provider)
	if err != nil {
		return err
	}
	dr, ok := p.(DryRunner)
	if !ok {
		return fmt.Errorf("%w by --provider %s", ErrDryRunUnsupported, spec.Provider)
	}
	if err := ValidateName(spec.Name); err != nil {
		return err
	}
	return dr.DryRun(ctx, spec, store.ClusterDir(spec.Name), w)
}

// IsUsageError reports whether err is the user's to fix (a missing or bad
// flag), as marked by providers with a UsageError() bool method.
func IsUsageError(err error) bool {
	var u interface{ UsageError() bool }
	return errors.As(err, &u) && u.UsageError()
}
