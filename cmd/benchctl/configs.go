package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/benchctl/benchctl/deploy"
)

func init() { register(newConfigsCmd) }

func newConfigsCmd(*globals) *cobra.Command {
	return &cobra.Command{
		Use:   "configs",
		Short: "List the named controller configs",
		Long: `List the built-in named configs. A config is a values overlay for the
controller's chart (deploy/configs/<name>.yaml); deploy and run take one by
name with --config, or a path to your own overlay.`,
		Example: `  benchctl configs
  benchctl run --config default --config streak-1`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			all, err := deploy.Configs()
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tWHY")
			for _, c := range all {
				fmt.Fprintf(w, "%s\t%s\n", c.Name, c.Description)
			}
			return w.Flush()
		},
	}
}
