package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"
)

// Output formats.
const (
	formatText      = "text"
	formatYAML      = "yaml"
	formatJSON      = "json"
	formatMarkdown  = "markdown"
	formatBenchstat = "benchstat"
	formatHTML      = "html"
)

// outputFlag is -o/--output, as kubectl and helm name it; --format, its
// former name, is kept as a hidden alias.
type outputFlag struct {
	format  string
	allowed []string
}

// addOutputFlag registers -o/--output on cmd with the formats allowed,
// the first being the default.
func addOutputFlag(cmd *cobra.Command, allowed ...string) *outputFlag {
	o := &outputFlag{format: allowed[0], allowed: allowed}
	usage := "output format: " + strings.Join(allowed, ", ")
	cmd.Flags().StringVarP(&o.format, "output", "o", o.format, usage)
	cmd.Flags().StringVar(&o.format, "format", o.format, usage)
	_ = cmd.Flags().MarkHidden("format")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(allowed, cobra.ShellCompDirectiveNoFileComp))
	return o
}

// check is the flag's value as a usage error when it is not allowed.
func (o *outputFlag) check() error {
	if !slices.Contains(o.allowed, o.format) {
		return usageError(fmt.Errorf("--output %q: want %s", o.format, strings.Join(o.allowed, ", ")))
	}
	return nil
}

// printData writes v as YAML or JSON (through its JSON field names, so
// both documents are the same).
func printData(w io.Writer, format string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode output: %w", err)
	}
	if format == formatYAML {
		if b, err = yaml.JSONToYAML(b); err != nil {
			return fmt.Errorf("encode output: %w", err)
		}
		_, err = w.Write(b)
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
