package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/benchctl/benchctl/cmd/internal/bench"
	"github.com/benchctl/benchctl/reports"
	"github.com/benchctl/benchctl/reports/page"
)

func init() { register(newReportCmd) }

func newReportCmd(*globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Render saved benchmark reports",
		Long: `Work with the YAML reports that 'benchctl aggregate' and 'benchctl run' write
(apiVersion benchctl/v1, kind Report). Every number in a report keeps its raw
samples, one per measured execution; 'benchctl diff' compares two reports.`,
		Example: `  benchctl report show out/default.yaml
  benchctl diff out/default.yaml out/workers-800.yaml`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError(fmt.Errorf("unknown command %q for %s; see '%s --help'", args[0], cmd.CommandPath(), cmd.CommandPath()))
			}
			return cmd.Help()
		},
	}
	cmd.AddCommand(newReportShowCmd())
	return cmd
}

func newReportShowCmd() *cobra.Command {
	var output *outputFlag
	opts := reports.DefaultRenderOptions
	cmd := &cobra.Command{
		Use:   "show FILE|RUN_DIR",
		Short: "Print a saved report as text, Markdown, YAML, JSON or Go benchmark format",
		Long: `Print a saved report. The file is checked strictly first: an unknown field, a
wrong apiVersion or a summary that does not match its samples is an error
naming the file, the line and the field.

Formats:
  text       the summary: per workflow, wall time with controller and kubernetes
             overhead, per-node lines, then the infrastructure table
             (count, p50, p90, p95, max of events, CRD updates, blob and catalog
             operations, pod creates, rounds and streaks)
  markdown   the same, as GitHub-flavoured Markdown
  yaml       the report itself, re-validated
  json       the same document as JSON (report files may be JSON too)
  benchstat  Go benchmark format, one line per measured execution, for benchstat
             and other golang.org/x/perf tools
  html       one self-contained page (no network needed): where each workflow's
             time went on its critical path, the samples, and, given a run
             directory, a timeline of every execution (RUN_DIR/reports/index.html
             is the same page, written by 'benchctl run')`,
		Example: `  # The summary of a run:
  benchctl report show out/default.yaml

  # Every node of large workflows, not only the 10 with the most overhead:
  benchctl report show out/default.yaml --max-nodes 0

  # Markdown for a wiki page or a pull request:
  benchctl report show out/default.yaml -o markdown > report.md

  # The HTML page of a run, with its timelines:
  benchctl report show -o html ~/.local/share/benchctl/runs/20261122-101500-default > report.html

  # Compare two runs with benchstat (ignore the keys that name what differs):
  benchctl report show a.yaml -o benchstat > a.txt
  benchctl report show b.yaml -o benchstat > b.txt
  benchstat -ignore ` + strings.Join(reports.BenchfmtIgnore, ",") + ` a.txt b.txt`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.MaxNodes < 0 {
				return usageError(fmt.Errorf("--max-nodes %d: want 0 (all) or more", opts.MaxNodes))
			}
			if err := output.check(); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			write := map[string]func(*reports.Report) error{
				formatText:      func(r *reports.Report) error { return reports.WriteText(out, r, opts) },
				formatMarkdown:  func(r *reports.Report) error { return reports.WriteMarkdown(out, r, opts) },
				formatYAML:      func(r *reports.Report) error { return reports.Encode(out, r) },
				formatJSON:      func(r *reports.Report) error { return reports.EncodeJSON(out, r) },
				formatBenchstat: func(r *reports.Report) error { return reports.WriteBenchfmt(out, r) },
			}[output.format]
			if output.format == formatHTML {
				p, err := (&bench.Page{Path: args[0]}).Run(cmd.Context())
				if err != nil {
					return err
				}
				return page.Write(out, *p)
			}
			if st, err := os.Stat(args[0]); err == nil && st.IsDir() {
				return usageError(fmt.Errorf("%s is a directory: a run directory renders as -o html; its reports are in %s", args[0], filepath.Join(args[0], "reports")))
			}
			r, err := reports.Load(args[0])
			if err != nil {
				return usageError(err)
			}
			return write(r)
		},
	}
	output = addOutputFlag(cmd, formatText, formatMarkdown, formatYAML, formatJSON, formatBenchstat, formatHTML)
	cmd.Flags().IntVar(&opts.MaxNodes, "max-nodes", opts.MaxNodes, "per-node lines per workflow in text and markdown, those with the most controller overhead (0: all)")
	return cmd
}
