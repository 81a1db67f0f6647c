package main

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"
)

// Set with -ldflags by the Makefile.
var (
	version = "dev"
	commit  = "unknown"
)

func init() {
	register(func(*globals) *cobra.Command {
		return &cobra.Command{
			Use:   "version",
			Short: "Print benchctl's version",
			Args:  exactArgs(0),
			RunE: func(cmd *cobra.Command, _ []string) error {
				_, err := fmt.Fprintf(cmd.OutOrStdout(), "benchctl %s (commit %s, %s %s/%s)\n", version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
				return err
			},
		}
	})
}
