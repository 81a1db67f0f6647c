package main

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/benchctl/benchctl/controller"
)

// controllerCmdName runs the controller built into benchctl; deploy starts
// it as a host process on the local provider.
const controllerCmdName = "controller"

func init() {
	register(func(*globals) *cobra.Command {
		return &cobra.Command{
			Use:                controllerCmdName + " [benchflow flags]",
			Short:              "Run the bundled controller (what 'benchctl deploy' starts on the local provider)",
			Hidden:             true,
			DisableFlagParsing: true,
			Args:               cobra.ArbitraryArgs,
			RunE: func(cmd *cobra.Command, args []string) error {
				err := controller.Main(cmd.Context(), args, cmd.OutOrStdout(), cmd.ErrOrStderr())
				var u controller.UsageError
				if errors.As(err, &u) {
					return usageError(err)
				}
				return err
			},
		}
	})
}
