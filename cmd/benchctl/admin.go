package main

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/benchctl/benchctl/controller/admin"
)

// adminCmdName runs the admin service built into benchctl; deploy starts
// it as a host process beside the controller on the local provider.
const adminCmdName = "admin"

func init() {
	register(func(*globals) *cobra.Command {
		return &cobra.Command{
			Use:                adminCmdName + " [benchadmin flags]",
			Short:              "Run the bundled admin service (what 'benchctl deploy' starts beside the controller on the local provider)",
			Hidden:             true,
			DisableFlagParsing: true,
			Args:               cobra.ArbitraryArgs,
			RunE: func(cmd *cobra.Command, args []string) error {
				err := admin.Main(cmd.Context(), args, cmd.OutOrStdout(), cmd.ErrOrStderr())
				var u admin.UsageError
				if errors.As(err, &u) {
					return usageError(err)
				}
				return err
			},
		}
	})
}
