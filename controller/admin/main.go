package admin

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// Version and Commit identify the build (set with -ldflags).
var Version, Commit = "dev", "unknown"

// UsageError is bad command-line input (exit code 2).
type UsageError struct{ Err error }

func (e UsageError) Error() string { return e.Err.Error() }

func (e UsageError) Unwrap() error { return e.Err }

// DefaultListen is the service's address unless --listen says otherwise.
const DefaultListen = "127.0.0.1:8089"

// Main is the benchadmin command line; both the benchadmin binary and
// 'benchctl admin' call it. It serves until ctx is done, then shuts down
// gracefully.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("benchadmin", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", DefaultListen, "address to serve on; loopback only unless --allow-remote")
	allowRemote := fs.Bool("allow-remote", false, "allow a non-loopback --listen address (the chart's in-cluster Deployment)")
	dsn := fs.String("db", "sqlite://benchadmin.db", "database: sqlite:///path.db or postgres://user[:password]@host/db")
	dsnFile := fs.String("db-file", "", "read the --db DSN from this file, so that a password never appears in a process list")
	version := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return UsageError{err}
	}
	if fs.NArg() > 0 {
		return UsageError{fmt.Errorf("unexpected arguments %q", fs.Args())}
	}
	if *version {
		fmt.Fprintln(stdout, Version, Commit)
		return nil
	}
	if *dsnFile != "" {
		dbSet := false
		fs.Visit(func(f *flag.Flag) { dbSet = dbSet || f.Name == "db" })
		if dbSet {
			return UsageError{errors.New("--db and --db-file are exclusive")}
		}
		b, err := os.ReadFile(*dsnFile)
		if err != nil {
			return UsageError{fmt.Errorf("--db-file: %w", err)}
		}
		*dsn = strings.TrimSpace(string(b))
	}
	host, _, err := net.SplitHostPort(*listen)
	if err != nil {
		return UsageError{fmt.Errorf("--listen %q: %w", *listen, err)}
	}
	if ip := net.ParseIP(host); !*allowRemote && (host == "" || (host != "localhost" && (ip == nil || !ip.IsLoopback()))) {
		return UsageError{fmt.Errorf("--listen %q is not a loopback address; pass --allow-remote to serve beyond this host", *listen)}
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	slog.SetDefault(logger)

	store, err := Open(ctx, *dsn)
	if err != nil {
		return err
	}
	defer store.Close()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: NewServer(store, Version, Commit), ReadHeaderTimeout: 10 * time.Second}
	logger.Info("benchadmin serving", "address", ln.Addr().String(), "database", store.Kind(), "db", redact(*dsn), "version", Version)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// redact is dsn without its password (in the userinfo or a password
// parameter), for the log.
func redact(dsn string) string {
	if strings.HasPrefix(dsn, "sqlite://") {
		return dsn
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable DSN)"
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}
