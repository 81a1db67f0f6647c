// Package pgtest starts a throwaway PostgreSQL server for tests, from the
// Debian server binaries, so that database code is tested against the real
// thing rather than a mock.
package pgtest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// RequireEnv, when set to 1, turns a missing PostgreSQL into a test failure
// instead of a skip, so that CI (which installs it) cannot pass vacuously.
const RequireEnv = "BENCHCTL_REQUIRE_POSTGRES"

// binGlob is where Debian's postgresql-NN packages put the server binaries;
// they are not on PATH (only the pg_ctlcluster wrappers are).
const binGlob = "/usr/lib/postgresql/*/bin"

// superuser is the bootstrap role initdb creates; it also names the database.
const superuser = "benchctl"

// Start initialises a cluster in a fresh directory under /tmp, starts it on
// 127.0.0.1 on a free port (fsync on: callers measure real I/O), creates a
// database and returns its DSN. t.Cleanup stops the server and removes the
// directory. Without the binaries the test is skipped, or fails when
// BENCHCTL_REQUIRE_POSTGRES=1.
func Start(t testing.TB) (dsn string) {
	t.Helper()
	bin, err := findBin()
	if err != nil {
		unavailable(t, err.Error())
	}
	var cred *syscall.Credential
	var uid, gid = -1, -1
	if os.Geteuid() == 0 {
		// initdb and postgres refuse to run as root.
		u, err := user.Lookup("postgres")
		if err != nil {
			unavailable(t, fmt.Sprintf("running as root and there is no postgres user to run the server as: %v", err))
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	// Not t.TempDir: its parents are 0700 root, which the postgres user
	// cannot traverse.
	dir, err := os.MkdirTemp("/tmp", "benchctl-pg-")
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if cred != nil {
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatalf("pgtest: %v", err)
		}
	}
	data := filepath.Join(dir, "data")
	logFile := filepath.Join(dir, "server.log")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	run := func(name string, args ...string) error {
		cmd := exec.CommandContext(ctx, filepath.Join(bin, name), args...)
		cmd.Dir = dir // the test's working directory may not be readable by postgres
		cmd.Env = append(os.Environ(), "LC_ALL=C", "PGTZ=UTC")
		if cred != nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		}
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out.String())
		}
		return nil
	}
	// --no-sync only skips syncing the freshly initialised files to disk
	// (a test cluster need not survive a crash of initdb); the server
	// itself runs with fsync on.
	if err := run("initdb", "-D", data, "-U", superuser, "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"); err != nil {
		t.Fatalf("pgtest: %v", err)
	}

	var port int
	for try := 0; ; try++ {
		if port, err = freePort(); err != nil {
			t.Fatalf("pgtest: %v", err)
		}
		conf := fmt.Sprintf("\n# pgtest\nlisten_addresses = '127.0.0.1'\nport = %d\nunix_socket_directories = '%s'\nfsync = on\nsynchronous_commit = on\n", port, data)
		if err := appendFile(filepath.Join(data, "postgresql.conf"), conf); err != nil {
			t.Fatalf("pgtest: %v", err)
		}
		err = run("pg_ctl", "-D", data, "-l", logFile, "-w", "-t", "60", "start")
		if err == nil {
			break
		}
		// Most likely someone took the port between freePort and the
		// server's bind; the later settings in postgresql.conf win.
		if try == 2 {
			log, _ := os.ReadFile(logFile)
			t.Fatalf("pgtest: %v\nserver log:\n%s", err, log)
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, filepath.Join(bin, "pg_ctl"), "-D", data, "-m", "fast", "-w", "stop")
		cmd.Dir = dir
		if cred != nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("pgtest: pg_ctl stop: %v\n%s", err, out)
		}
	})
	if err := run("createdb", "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-U", superuser, superuser); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", superuser, port, superuser)
}

// unavailable skips, or fails when PostgreSQL is required.
func unavailable(t testing.TB, why string) {
	t.Helper()
	msg := "pgtest: " + why + " (install the Debian package postgresql: apt-get install postgresql)"
	if os.Getenv(RequireEnv) == "1" {
		t.Fatal(msg + "; " + RequireEnv + "=1")
	}
	t.Skip(msg)
}

// findBin returns the newest installed server version's bin directory.
func findBin() (string, error) {
	dirs, _ := filepath.Glob(binGlob)
	var ok []string
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "pg_ctl")) && isExec(filepath.Join(d, "createdb")) {
			ok = append(ok, d)
		}
	}
	if len(ok) == 0 {
		return "", fmt.Errorf("no PostgreSQL server binaries (initdb, pg_ctl) in %s", binGlob)
	}
	sort.Slice(ok, func(i, j int) bool { return version(ok[i]) > version(ok[j]) })
	return ok[0], nil
}

// version is the major version in /usr/lib/postgresql/NN/bin, or 0.
func version(bin string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(bin)), 64)
	return v
}

func isExec(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// freePort asks the kernel for an unused loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func appendFile(path, s string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("append %s: %w", path, err)
	}
	if _, err := f.WriteString(s); err != nil {
		f.Close()
		return fmt.Errorf("append %s: %w", path, err)
	}
	return f.Close()
}
