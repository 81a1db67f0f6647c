package history

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"strings"
	"text/tabwriter"

	"go.yaml.in/yaml/v3"

	"github.com/benchctl/benchctl/reports"
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

// chart is one metric's series drawn as an SVG polyline, with the change
// points marked.
type chart struct {
	Title, Subtitle string
	Width, Height   int
	Points          string
	Marks           []mark
	Dots            []dot
	YLo, YHi        string
}

type mark struct {
	X     float64
	Label string
}

type dot struct {
	X, Y  float64
	Label string
}

var htmlTmpl = template.Must(template.New("history").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#1a202c}
h1{font-size:1.4em} h2{font-size:1.05em;margin:1.4em 0 .2em}
.muted{color:#718096} .note{background:#fffbea;border-left:3px solid #d69e2e;padding:.3em .6em;margin:.3em 0}
svg{background:#f7fafc;border:1px solid #e2e8f0} table{border-collapse:collapse} td,th{padding:2px 8px;text-align:left}
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<p class="muted">{{.Method}}</p>
{{range .Notes}}<div class="note">{{.}}</div>
{{end}}
<p>{{.Summary}}</p>
{{range .Charts}}<section class="metric">
<h2>{{.Title}}</h2><div class="muted">{{.Subtitle}}</div>
<svg width="{{.Width}}" height="{{.Height}}" role="img" aria-label="{{.Title}}">
<text x="4" y="12" font-size="10" fill="#718096">{{.YHi}}</text><text x="4" y="{{.Height}}" dy="-4" font-size="10" fill="#718096">{{.YLo}}</text>
{{range .Marks}}<line x1="{{.X}}" x2="{{.X}}" y1="0" y2="{{$.ChartHeight}}" stroke="#e53e3e" stroke-dasharray="4 3"><title>{{.Label}}</title></line>
{{end}}<polyline fill="none" stroke="#2b6cb0" stroke-width="1.5" points="{{.Points}}"/>
{{range .Dots}}<circle cx="{{.X}}" cy="{{.Y}}" r="2.5" fill="#2b6cb0"><title>{{.Label}}</title></circle>
{{end}}</svg>
</section>
{{end}}
<h2>reports</h2>
<table><tr><th>#</th><th>start</th><th>commit</th><th>config</th><th>source</th></tr>
{{range .Reports}}<tr><td>{{.Index}}</td><td>{{.Start.UTC.Format "2006-01-02 15:04:05"}}</td><td>{{.Commit}}</td><td>{{.Config}}</td><td>{{.Source}}</td></tr>
{{end}}</table>
</body>
</html>
`))

// WriteHTML writes one self-contained page: a chart per metric with a
// change point (every metric with all), the change points marked.
func (h *History) WriteHTML(w io.Writer, all bool) error {
	const width, height = 720, 140
	series := h.Changed()
	if all {
		series = h.Series
	}
	var charts []chart
	n := len(h.Reports)
	x := func(i int) float64 {
		if n <= 1 {
			return width / 2
		}
		return 30 + float64(i)*float64(width-40)/float64(n-1)
	}
	for _, s := range series {
		lo, hi := s.Points[0].Median, s.Points[0].Median
		for _, p := range s.Points {
			lo, hi = min(lo, p.Median), max(hi, p.Median)
		}
		span := hi - lo
		if span == 0 {
			span = 1
		}
		y := func(v float64) float64 { return 10 + (height-20)*(1-(v-lo)/span) }
		c := chart{Title: s.Workflow + " " + s.Metric, Width: width, Height: height,
			YLo: reports.FormatValue(s.Unit, lo), YHi: reports.FormatValue(s.Unit, hi)}
		var pts []string
		for _, p := range s.Points {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(p.Report), y(p.Median)))
			c.Dots = append(c.Dots, dot{X: x(p.Report), Y: y(p.Median),
				Label: fmt.Sprintf("#%d %s: %s", p.Report, shortCommit(h.Reports[p.Report].Commit), reports.FormatValue(s.Unit, p.Median))})
		}
		c.Points = strings.Join(pts, " ")
		var subs []string
		for _, ch := range s.Changes {
			label := fmt.Sprintf("from #%d (commit %s): %s, p=%.3f", ch.Report, shortCommit(ch.Commit), ch.text(s.Unit), ch.P)
			c.Marks = append(c.Marks, mark{X: x(ch.Report) - float64(width-40)/float64(max(n-1, 1))/2, Label: label})
			subs = append(subs, label)
		}
		if len(subs) == 0 {
			subs = []string{"no change point"}
		}
		c.Subtitle = strings.Join(subs, "; ")
		charts = append(charts, c)
	}
	var notes []string
	for _, s := range h.Incomparable {
		notes = append(notes, "forced: "+s)
	}
	notes = append(notes, h.Warnings...)
	return htmlTmpl.Execute(w, map[string]any{
		"Title": "benchctl history",
		"Method": fmt.Sprintf("%d reports; change points by %s (%s), permutation test at alpha %v, %d permutations, seed %d.",
			len(h.Reports), h.Method.Name, h.Method.Reference, h.Method.Alpha, h.Method.Permutations, h.Method.Seed),
		"Notes":       notes,
		"Summary":     h.summary() + " Dashed red lines mark where a metric shifted; hover for values.",
		"Charts":      charts,
		"ChartHeight": height,
		"Reports":     h.Reports,
	})
}
