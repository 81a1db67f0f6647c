package controller

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/benchctl/benchctl/controller/config"
)

// UsageError is bad command-line input or a bad config file (exit code 2).
type UsageError struct{ Err error }

func (e UsageError) Error() string { return e.Err.Error() }

func (e UsageError) Unwrap() error { return e.Err }

// Main is the benchflow command line: flags --config, --kubeconfig,
// --namespace, --http-address and --version. Both the benchflow binary and
// 'benchctl controller' call it; it runs until ctx is done.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("benchflow", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "controller config YAML (the chart's ConfigMap); defaults apply to omitted fields")
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig path (default: $KUBECONFIG, then the in-cluster config)")
	namespace := fs.String("namespace", os.Getenv("POD_NAMESPACE"), "namespace whose Workflows to run (env POD_NAMESPACE)")
	httpAddr := fs.String("http-address", "", "override the config's http.address (the chart's Deployment listens on the pod's addresses)")
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
	cfg := config.Defaults()
	if *configPath != "" {
		var err error
		if cfg, err = config.Load(*configPath); err != nil {
			return UsageError{err}
		}
	}
	if *httpAddr != "" {
		cfg.HTTP.Address = *httpAddr
		if err := cfg.Validate(); err != nil {
			return UsageError{fmt.Errorf("--http-address: %w", err)}
		}
	}
	if *namespace == "" {
		return UsageError{errors.New("--namespace is required (or set POD_NAMESPACE)")}
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return UsageError{fmt.Errorf("logLevel: %w", err)}
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})))

	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = *kubeconfig
	restConfig, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	return Run(ctx, cfg, restConfig, *namespace)
}
