package provision

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// RunLockFile is the lock a run holds on its cluster's state directory.
const RunLockFile = "run.lock"

// ErrClusterBusy is returned by LockRuns when another run holds the lock.
var ErrClusterBusy = errors.New("cluster busy")

// LockRuns takes the cluster's run lock, so that two runs never
// interleave their executions on one cluster (serial execution is what
// makes the metric deltas attributable). The lock is an flock on a file
// in the cluster's state directory: the kernel releases it when the
// process ends, however it ends. A held lock is an error naming the
// holder; unlock releases it.
func (c *Cluster) LockRuns(what string) (unlock func(), err error) {
	if c.Dir == "" {
		return func() {}, nil
	}
	return LockRunsAt(filepath.Join(c.Dir, RunLockFile), "cluster "+c.Name, "use another cluster", what)
}

// LockRunsAt takes the run lock in the file p (created, with its
// directory, when missing) for what, the run as another run's message
// will name it. That message names subject, what is locked, and instead,
// what the user may do rather than wait. A held lock is an error
// wrapping ErrClusterBusy.
func LockRunsAt(p, subject, instead, what string) (unlock func(), err error) {
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return nil, fmt.Errorf("lock %s: %w", subject, err)
	}
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", subject, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(p)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s is in use by another benchctl run (%s); wait for it to end, or %s",
				ErrClusterBusy, subject, strings.TrimSpace(string(holder)), instead)
		}
		return nil, fmt.Errorf("lock %s: %w", subject, err)
	}
	// Who holds it, for the message the next run prints.
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(what+", pid "+strconv.Itoa(os.Getpid())+", since "+time.Now().UTC().Format(time.RFC3339)+"\n"), 0)
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
