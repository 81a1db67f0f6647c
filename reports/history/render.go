package history

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"go.yaml.in/yaml/v3"

	"github.com/benchctl/benchctl/reports"
	"github.com/benchctl/benchctl/reports/page"
)

func signed(unit string, x float64) string {
	s := reports.FormatValue(unit, x)
	if !strings.HasPrefix(s, "-") {
		return "+" + s
	}
	return s
}

func shortCommit(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	if c == "" {
		return "-"
	}
	return c
}

// changeText is "5.74s -> 6.31s (+570ms, +9.9%)".
func (c Change) text(unit string) string {
	s := fmt.Sprintf("%s -> %s (%s", reports.FormatValue(unit, c.Before), reports.FormatValue(unit, c.After), signed(unit, c.Shift))
	if c.ShiftPercent != nil {
		s += fmt.Sprintf(", %+.1f%%", *c.ShiftPercent)
	}
	return s + ")"
}

// WriteText lists the reports in series order and every change point,
// metric by metric.
func (h *History) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%d reports; change points by %s (%s), permutation test at alpha %v (%d permutations, seed %d), segments of at least %d reports\n",
		len(h.Reports), h.Method.Name, h.Method.Reference, h.Method.Alpha, h.Method.Permutations, h.Method.Seed, h.Method.MinSize)
	for _, s := range h.Incomparable {
		fmt.Fprintf(&b, "FORCED: %s\n", s)
	}
	for _, s := range h.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", s)
	}
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "\n#\tstart\tcommit\tconfig\tsource\t\n")
	for _, r := range h.Reports {
		v := ""
		if !r.Valid {
			v = "INVALID"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", r.Index, r.Start.UTC().Format("2006-01-02 15:04:05"), shortCommit(r.Commit), r.Config, r.Source, v)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	changed := h.Changed()
	fmt.Fprintf(&b, "\n%s\n", h.summary())
	if len(changed) > 0 {
		tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "workflow\tmetric\tat #\tcommit\tchange\tp\t\n")
		for _, s := range changed {
			for _, c := range s.Changes {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%.3f\t\n", s.Workflow, s.Metric, c.Report, shortCommit(c.Commit), c.text(s.Unit), c.P)
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// summary counts the change points and says how many metrics chance
// alone would give one: each series is tested at alpha.
func (h *History) summary() string {
	n := 0
	for _, s := range h.Changed() {
		n += len(s.Changes)
	}
	return fmt.Sprintf("%d change point(s) in %d of %d metrics. Each metric is tested at alpha %v: if nothing changed, about %.0f of them would still show one by chance.",
		n, len(h.Changed()), len(h.Series), h.Method.Alpha, h.Method.Alpha*float64(len(h.Series)))
}

// WriteYAML writes the whole history.
func (h *History) WriteYAML(w io.Writer) error {
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(h); err != nil {
		return fmt.Errorf("encoding history: %w", err)
	}
	return enc.Close()
}

// WriteJSON writes the whole history as JSON.
func (h *History) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(h); err != nil {
		return fmt.Errorf("encoding history: %w", err)
	}
	return nil
}

// WriteHTML writes one self-contained page, drawn by the report page
// (reports/page) from the same JSON WriteJSON writes: a chart per metric
// with a change point (every metric with all), the change points and the
// level of each segment marked.
func (h *History) WriteHTML(w io.Writer, all bool) error {
	var doc bytes.Buffer
	if err := h.WriteJSON(&doc); err != nil {
		return err
	}
	return page.Write(w, page.Page{
		Title:   "benchctl history",
		History: &page.History{Document: doc.Bytes(), Summary: h.summary(), All: all},
	})
}
