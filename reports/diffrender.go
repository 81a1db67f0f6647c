package reports

import (
	"bytes"
	"cmp"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"go.yaml.in/yaml/v3"
)

// DiffRenderOptions tune the text and Markdown diff.
type DiffRenderOptions struct {
	// All shows every node and infrastructure row; by default only the
	// significant ones are shown (workflow rows are always all shown).
	All bool
}

func (r Row) pn() string {
	n := fmt.Sprintf("n=%d", r.NA)
	if r.NA != r.NB {
		n = fmt.Sprintf("n=%d+%d", r.NA, r.NB)
	}
	s := fmt.Sprintf("p=%.3f %s", r.P, n)
	if r.PAdjusted != nil {
		s = fmt.Sprintf("p=%.3f adjusted %.3f %s", r.P, *r.PAdjusted, n)
	}
	if r.TooFew {
		s += " too few"
	}
	return s
}

// changeCell is "~" when not significant, else the signed % change.
func (r Row) changeCell() string {
	if !r.Significant {
		return "~"
	}
	return changeString(r)
}

// shiftCell is the shift with its interval, and the interval's level when
// it is below the one asked for (1 - alpha).
func (r Row) shiftCell(alpha float64) string {
	if r.ShiftInterval == nil {
		return ""
	}
	return r.shiftString(r.ShiftInterval.Confidence < 1-alpha)
}

func (r Row) valueCell(v float64, noise *float64) string {
	s := FormatValue(r.Unit, v)
	if noise != nil {
		s += fmt.Sprintf(" ±%.0f%%", 100**noise)
	}
	return s
}

func sideLine(s Side) string {
	v := "valid"
	if !s.Valid {
		v = "INVALID"
	}
	file := ""
	if s.File != "" {
		file = s.File + ": "
	}
	return fmt.Sprintf("%sconfig %s (%s), controller %s, %s", file, s.Config, shortHash(s.ConfigHash), s.Controller, v)
}

func (d *Diff) legend() string {
	s := fmt.Sprintf("Medians; ± is the 95%% confidence interval of the median. Mann-Whitney U over the raw samples, alpha=%v; ~ = not significant.", d.Alpha)
	s += fmt.Sprintf(" shift: the Hodges-Lehmann estimate of B - A with its distribution-free %s interval, in %% of A's median (absolute when A's is 0); a level after it is the lower one its few samples allow.", levelString(1-d.Alpha))
	// Many tests at one alpha: say how many hits chance alone would give,
	// so a handful of significant infrastructure rows is read correctly.
	n := len(d.Rows)
	switch {
	case n == 0:
	case d.Correction == CorrectionHolm:
		s += fmt.Sprintf(" p adjusted by Holm's method over these %d comparisons: the chance that any of them is significant by chance alone is at most %v (uncorrected, about %.0f would be).", n, d.Alpha, float64(n)*d.Alpha)
	case d.Correction == CorrectionBH:
		s += fmt.Sprintf(" p adjusted by Benjamini-Hochberg over these %d comparisons: on average at most %v of the significant rows are so by chance (uncorrected, about %.0f of the %d would be).", n, d.Alpha, float64(n)*d.Alpha, n)
	default:
		s += fmt.Sprintf(" If nothing changed, about %.0f of these %d comparisons would still be significant by chance (--correction holm|bh adjusts for that).", float64(n)*d.Alpha, n)
	}
	return s
}

// WriteText renders the diff as aligned text tables, one per workflow
// metric with a geomean row, then the top nodes and the infrastructure.
func (d *Diff) WriteText(w io.Writer, o DiffRenderOptions) error {
	ew := &errWriter{w: w}
	ew.printf("A: %s\nB: %s\n%s\n", sideLine(d.A), sideLine(d.B), d.legend())
	for _, s := range d.Incomparable {
		ew.printf("FORCED: %s\n", s)
	}
	for _, s := range d.Warnings {
		ew.printf("warning: %s\n", s)
	}
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	for _, m := range WorkflowMetrics {
		fmt.Fprintf(tw, "\n%s\tA\tB\tdelta\tchange\tshift [%s]\t\n", m, levelString(1-d.Alpha))
		for _, r := range d.Rows {
			if r.Node == "" && r.Metric == m {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t(%s)\n", r.Workflow, r.valueCell(r.A, r.NoiseA), r.valueCell(r.B, r.NoiseB),
					formatSigned(r.Unit, r.Delta), r.changeCell(), r.shiftCell(d.Alpha), r.pn())
			}
		}
		for _, g := range d.Geomeans {
			if g.Metric == m {
				fmt.Fprintf(tw, "geomean\t%s\t%s\t\t%+.2f%%\t\t\n", FormatValue(g.Unit, g.A), FormatValue(g.Unit, g.B), g.Change)
			}
		}
	}
	shown, hidden := d.detailRows(o.All)
	if len(shown) > 0 || hidden > 0 {
		fmt.Fprintf(tw, "\nnodes and infrastructure\tmetric\tA\tB\tdelta\tchange\tshift [%s]\t\n", levelString(1-d.Alpha))
		for _, r := range shown {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t(%s)\n", r.Name(), r.Metric, r.valueCell(r.A, r.NoiseA), r.valueCell(r.B, r.NoiseB),
				formatSigned(r.Unit, r.Delta), r.changeCell(), r.shiftCell(d.Alpha), r.pn())
		}
	}
	if err := tw.Flush(); err != nil && ew.err == nil {
		ew.err = err
	}
	if hidden > 0 {
		ew.printf("(%d node and infrastructure rows without a significant difference are not shown; --all shows them)\n", hidden)
	}
	d.writeGateText(ew)
	return ew.err
}

// detailRows are the node and infrastructure rows to show.
func (d *Diff) detailRows(all bool) (shown []Row, hidden int) {
	for i, r := range d.Rows {
		if r.Node == "" && isWorkflowMetric(r.Metric) {
			continue
		}
		if all || r.Significant || d.violated(i) {
			shown = append(shown, r)
		} else {
			hidden++
		}
	}
	return shown, hidden
}

func isWorkflowMetric(m string) bool {
	for _, x := range WorkflowMetrics {
		if x == m {
			return true
		}
	}
	return false
}

func (d *Diff) violated(row int) bool {
	if d.Gate == nil {
		return false
	}
	for _, v := range d.Gate.Violations {
		if v.Row == row {
			return true
		}
	}
	return false
}

func (d *Diff) writeGateText(ew *errWriter) {
	if d.Gate == nil {
		return
	}
	if d.Gate.Passed() {
		ew.printf("\ngate: passed (%s)\n", strings.Join(d.Gate.Thresholds, ", "))
		return
	}
	ew.printf("\ngate: FAILED, %d regression(s) whose whole shift interval lies beyond a threshold:\n", len(d.Gate.Violations))
	for _, v := range d.Gate.Violations {
		ew.printf("  %s\n", v.Message)
	}
}

// WriteMarkdown renders the diff for a pull-request comment: workflow
// metrics in full, node and infrastructure changes in a collapsed block.
func (d *Diff) WriteMarkdown(w io.Writer, o DiffRenderOptions) error {
	ew := &errWriter{w: w}
	ew.printf("## benchctl diff: `%s` → `%s`\n\n", mdEscape(d.A.Config), mdEscape(d.B.Config))
	if d.Gate != nil {
		if d.Gate.Passed() {
			ew.printf("✅ **gate passed** (%s)\n\n", mdEscape(strings.Join(d.Gate.Thresholds, ", ")))
		} else {
			ew.printf("❌ **gate failed**: %d regression(s) whose whole shift interval lies beyond a threshold\n\n", len(d.Gate.Violations))
			for _, v := range d.Gate.Violations {
				ew.printf("- %s\n", mdEscape(v.Message))
			}
			ew.printf("\n")
		}
	}
	ew.printf("- **A**: %s\n- **B**: %s\n\n%s\n", mdEscape(sideLine(d.A)), mdEscape(sideLine(d.B)), mdEscape(d.legend()))
	if len(d.Incomparable)+len(d.Warnings) > 0 {
		ew.printf("\n")
		for _, s := range d.Incomparable {
			ew.printf("> ⚠️ forced: %s\n", mdEscape(s))
		}
		for _, s := range d.Warnings {
			ew.printf("> ⚠️ %s\n", mdEscape(s))
		}
	}
	ew.printf("\n%s\n", d.mdHeader())
	for _, m := range WorkflowMetrics {
		for _, r := range d.Rows {
			if r.Node == "" && r.Metric == m {
				d.mdRow(ew, r)
			}
		}
		for _, g := range d.Geomeans {
			if g.Metric == m {
				ew.printf("| *geomean* | %s | %s | %s | | %+.2f%% | | |\n", m, FormatValue(g.Unit, g.A), FormatValue(g.Unit, g.B), g.Change)
			}
		}
	}
	shown, hidden := d.detailRows(o.All)
	if len(shown) > 0 || hidden > 0 {
		what := fmt.Sprintf("nodes and infrastructure: %d significant", len(shown))
		if o.All {
			what = fmt.Sprintf("nodes and infrastructure: %d rows", len(shown))
		}
		ew.printf("\n<details><summary>%s</summary>\n\n", what)
		if len(shown) > 0 {
			ew.printf("%s\n", d.mdHeader())
			for _, r := range shown {
				d.mdRow(ew, r)
			}
		}
		if hidden > 0 {
			ew.printf("\n%d rows without a significant difference are not shown.\n", hidden)
		}
		ew.printf("\n</details>\n")
	}
	return ew.err
}

func (d *Diff) mdRow(ew *errWriter, r Row) {
	ch := r.changeCell()
	if r.Significant && r.Verdict == "worse" {
		ch = "**" + ch + "**"
	}
	ew.printf("| %s | %s | %s | %s | %s | %s | %s | %s |\n", mdEscape(r.Name()), r.Metric, r.valueCell(r.A, r.NoiseA), r.valueCell(r.B, r.NoiseB),
		formatSigned(r.Unit, r.Delta), ch, r.shiftCell(d.Alpha), r.pn())
}

func (d *Diff) mdHeader() string {
	return "| workflow | metric | A | B | delta | change | shift [" + levelString(1-d.Alpha) + "] | p, n |\n|---|---|--:|--:|--:|--:|--:|---|"
}

// WriteYAML writes the whole diff, every row included.
func (d *Diff) WriteYAML(w io.Writer) error {
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(d); err != nil {
		return fmt.Errorf("encoding diff: %w", err)
	}
	return enc.Close()
}

// WriteJSON writes the whole diff as JSON, the same document as its YAML.
func (d *Diff) WriteJSON(w io.Writer) error {
	var buf bytes.Buffer
	if err := d.WriteYAML(&buf); err != nil {
		return err
	}
	return yamlToJSON(w, buf.Bytes())
}

// JUnit XML, the subset CI systems (Jenkins, GitLab, GitHub test
// reporters) read.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	ClassName string        `xml:"classname,attr"`
	Name      string        `xml:"name,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes one test case per compared metric (failed when it
// broke a --fail-on threshold) and one per report for its validity
// (an error when the run is invalid).
func (d *Diff) WriteJUnit(w io.Writer) error {
	s := junitSuite{Name: "benchctl diff", Properties: []junitProperty{
		{"a", sideLine(d.A)}, {"b", sideLine(d.B)}, {"alpha", fmt.Sprint(d.Alpha)}, {"correction", cmp.Or(d.Correction, CorrectionNone)},
	}}
	for i, side := range []Side{d.A, d.B} {
		c := junitCase{ClassName: "validity", Name: []string{"A", "B"}[i] + " " + side.File}
		if !side.Valid {
			c.Error = &junitProblem{Message: "invalid run: " + side.Validity, Type: "invalid-run", Text: side.Validity}
		}
		s.Cases = append(s.Cases, c)
	}
	for _, inc := range d.Incomparable {
		s.Cases = append(s.Cases, junitCase{ClassName: "comparability", Name: "forced", SystemOut: inc})
	}
	for i, r := range d.Rows {
		c := junitCase{ClassName: r.Name(), Name: r.Metric,
			SystemOut: fmt.Sprintf("A %s, B %s, delta %s, change %s, shift %s (%s)", FormatValue(r.Unit, r.A), FormatValue(r.Unit, r.B),
				formatSigned(r.Unit, r.Delta), r.changeCell(), r.shiftString(true), r.pn())}
		if d.Gate != nil {
			for _, v := range d.Gate.Violations {
				if v.Row == i {
					c.Failure = &junitProblem{Message: v.Message, Type: "regression", Text: v.Message}
					break
				}
			}
		}
		s.Cases = append(s.Cases, c)
	}
	return writeJUnit(w, s)
}

// WriteJUnitError writes a JUnit file with a single errored test case,
// for CI when no diff could be made (incomparable or unreadable reports).
func WriteJUnitError(w io.Writer, name, message string) error {
	return writeJUnit(w, junitSuite{Name: "benchctl diff", Cases: []junitCase{{
		ClassName: "benchctl diff", Name: name,
		Error: &junitProblem{Message: message, Type: name, Text: message},
	}}})
}

func writeJUnit(w io.Writer, s junitSuite) error {
	for _, c := range s.Cases {
		s.Tests++
		if c.Failure != nil {
			s.Failures++
		}
		if c.Error != nil {
			s.Errors++
		}
	}
	doc := junitSuites{Name: s.Name, Tests: s.Tests, Failures: s.Failures, Errors: s.Errors, Suites: []junitSuite{s}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("encoding JUnit XML: %w", err)
	}
	if err := enc.Close(); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
