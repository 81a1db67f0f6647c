package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/benchctl/benchctl/deploy"
)

func init() { register(newConfigsCmd) }

func newConfigsCmd(*globals) *cobra.Command {
	var output *outputFlag
	cmd := &cobra.Command{
		Use:   "configs",
		Short: "List the named controller configs",
		Long: `List the built-in named configs. A config is a values overlay for the
controller's chart (deploy/configs/<name>.yaml); deploy and run take one by
name with --config, or a path to your own overlay.`,
		Example: `  benchctl configs
  benchctl run --config default --config streak-1
  benchctl configs -o yaml                 # with each config's values`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := output.check(); err != nil {
				return err
			}
			all, err := deploy.Configs()
			if err != nil {
				return err
			}
			if output.format != formatText {
				type entry struct {
					Name        string         `json:"name"`
					Description string         `json:"description"`
					Source      string         `json:"source"`
					Values      map[string]any `json:"values"`
				}
				var list []entry
				for _, c := range all {
					list = append(list, entry{c.Name, c.Description, c.Source, c.Values})
				}
				return printData(cmd.OutOrStdout(), output.format, list)
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tWHY")
			for _, c := range all {
				fmt.Fprintf(w, "%s\t%s\n", c.Name, c.Description)
			}
			return w.Flush()
		},
	}
	output = addOutputFlag(cmd, formatText, formatYAML, formatJSON)
	return cmd
}
