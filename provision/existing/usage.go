package existing

// usageError marks an error in the user's flags. It has a UsageError
// method, so the CLI can exit with the usage code (2) for it without
// knowing this package: errors.As(err, &u) with
// u interface{ UsageError() bool }.
type usageError struct{ err error }

func (e usageError) Error() string    { return e.err.Error() }
func (e usageError) Unwrap() error    { return e.err }
func (e usageError) UsageError() bool { return true }

// usage wraps a flag validation error; nil stays nil.
func usage(err error) error {
	if err == nil {
		return nil
	}
	return usageError{err}
}
