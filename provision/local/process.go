package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/benchctl/benchctl/provision"
)

// Running is a started process that benchctl watches while it is alive.
type Running struct {
	Proc   provision.Process
	exited chan struct{}
	err    error // valid once exited is closed
}

// Exited returns the process's exit error once it has exited while
// benchctl watched it, or nil while it still runs.
func (r *Running) Exited() (bool, error) {
	select {
	case <-r.exited:
		return true, r.err
	default:
		return false, nil
	}
}

// StartProcess starts a process in its own session, so it outlives
// benchctl, with stdout and stderr appended to logPath.
func StartProcess(name, bin string, args []string, logPath string) (*Running, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open %s log: %w", name, err)
	}
	defer logf.Close()
	closeInheritedOnExec()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s (%s): %w", name, bin, err)
	}
	st, err := procStartTime(cmd.Process.Pid)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("read start time of %s: %w", name, err), cmd.Process.Kill())
	}
	r := &Running{
		Proc:   provision.Process{Name: name, PID: cmd.Process.Pid, Args: append([]string{bin}, args...), Log: logPath, StartTime: st},
		exited: make(chan struct{}),
	}
	// Reap the child if it dies while benchctl still runs, so the error
	// names the process; after benchctl exits the child is re-parented.
	go func() {
		r.err = cmd.Wait()
		close(r.exited)
	}()
	return r, nil
}

// closeInheritedOnExec marks every descriptor above stderr close-on-exec.
// Go opens its own that way, but descriptors benchctl inherited (a CI
// job's `flock LOCK benchctl ...`) would otherwise pass to the cluster's
// processes, which outlive benchctl and would hold the lock until teardown.
func closeInheritedOnExec() {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return // not Linux's procfs: nothing to mark
	}
	for _, e := range entries {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			syscall.CloseOnExec(fd)
		}
	}
}

// procStartTime reads the process start time (field 22 of /proc/PID/stat,
// clock ticks since boot); with the PID it identifies a process uniquely.
func procStartTime(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is parenthesised and may hold spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	fields := strings.Fields(string(b[i+1:]))
	// fields[0] is field 3 (state), so field 22 is fields[19].
	if len(fields) < 20 {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	return strconv.ParseUint(fields[19], 10, 64)
}

// Alive reports whether the recorded process still runs (and is the same
// process, not a recycled PID).
func Alive(p provision.Process) bool {
	st, err := procStartTime(p.PID)
	if err != nil {
		return false
	}
	if st != p.StartTime {
		return false
	}
	// A zombie (exited, not yet reaped) counts as dead.
	b, err := os.ReadFile("/proc/" + strconv.Itoa(p.PID) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && b[i+2] != 'Z'
}

// StopProcess sends SIGTERM, waits up to grace, then SIGKILLs. It only
// signals the PID if it is still the process benchctl started.
func StopProcess(ctx context.Context, p provision.Process, grace time.Duration) error {
	if !Alive(p) {
		return nil
	}
	if err := syscall.Kill(p.PID, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("stop %s (pid %d): %w", p.Name, p.PID, err)
	}
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if !Alive(p) {
			return nil
		}
		select {
		case <-ctx.Done():
			deadline = time.Now()
		case <-time.After(20 * time.Millisecond):
		}
	}
	if Alive(p) {
		if err := syscall.Kill(p.PID, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("kill %s (pid %d): %w", p.Name, p.PID, err)
		}
		for range 100 {
			if !Alive(p) {
				return nil
			}
			time.Sleep(10 * time.Millisecond)
		}
		return fmt.Errorf("%s (pid %d) survived SIGKILL", p.Name, p.PID)
	}
	return nil
}

// LogTail returns the last n lines of a log file, for error messages.
func LogTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// FreePorts reserves n distinct free loopback ports. The listeners are
// closed before the servers bind, so a race with another program is
// possible but unlikely; a bind failure shows up as a process exit.
func FreePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free loopback port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
