// Package page renders benchctl's HTML report: one self-contained file
// (its CSS, JavaScript and data inline; nothing fetched) that shows where
// each workflow's time went, the noise of its samples, a timeline of any
// execution with its critical path, the diff of two reports, and the
// change points of a history of reports.
package page

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"

	"github.com/benchctl/benchctl/reports"
)

//go:embed page.css
var css string

//go:embed page.js
var js string

// Section is one report with, when its run's records were at hand, the
// timelines of its executions.
type Section struct {
	// Source names where the report came from (a file or a run directory).
	Source    string
	Report    *reports.Report
	Timelines []reports.Timeline
}

// Page is what one HTML file shows.
type Page struct {
	Title    string
	Sections []Section
	Diffs    []*reports.Diff
	// NoTimelines, when set, says why there are none and where they come
	// from.
	NoTimelines string
	// History, when set, is drawn after the sections and diffs.
	History *History
}

// History is a history of reports (reports/history) as the page draws
// it: a line chart per metric with its change points marked. The page
// takes the document as JSON so that it draws exactly what 'benchctl
// history -o json' prints (and page need not import the package that
// renders through it).
type History struct {
	// Document is the history as its WriteJSON writes it.
	Document json.RawMessage `json:"document"`
	// Summary is the one-line count of change points.
	Summary string `json:"summary"`
	// All charts every metric; otherwise only those with a change point.
	All bool `json:"all"`
}

// data is the page's embedded JSON: reports and diffs as the same
// documents as their YAML (reports.EncodeJSON), timelines as they are.
type data struct {
	Title       string            `json:"title"`
	Sections    []sectionData     `json:"sections"`
	Diffs       []json.RawMessage `json:"diffs"`
	NoTimelines string            `json:"noTimelines,omitempty"`
	History     *History          `json:"history,omitempty"`
}

type sectionData struct {
	Source    string             `json:"source"`
	Report    json.RawMessage    `json:"report"`
	Timelines []reports.Timeline `json:"timelines"`
}

var tmpl = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>{{.CSS}}</style>
</head>
<body>
<header><h1>{{.Title}}</h1><p class="sub">{{.Sub}}</p></header>
<main id="main"><noscript>This report draws its charts with JavaScript; the YAML report holds every number.</noscript></main>
<div id="tip" hidden></div>
<script type="application/json" id="data">{{.Data}}</script>
<script>{{.JS}}</script>
</body>
</html>
`))

// Write renders p as one HTML document.
func Write(w io.Writer, p Page) error {
	d := data{Title: p.Title, NoTimelines: p.NoTimelines, Sections: []sectionData{}, Diffs: []json.RawMessage{}, History: p.History}
	for _, s := range p.Sections {
		var buf bytes.Buffer
		if err := reports.EncodeJSON(&buf, s.Report); err != nil {
			return err
		}
		tl := s.Timelines
		if tl == nil {
			tl = []reports.Timeline{}
		}
		d.Sections = append(d.Sections, sectionData{Source: s.Source, Report: buf.Bytes(), Timelines: tl})
	}
	for _, df := range p.Diffs {
		var buf bytes.Buffer
		if err := df.WriteJSON(&buf); err != nil {
			return err
		}
		d.Diffs = append(d.Diffs, buf.Bytes())
	}
	b, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("encode page data: %w", err)
	}
	sub := "benchctl report: where the time goes, from the controller's own spans."
	if p.History != nil && len(p.Sections) == 0 {
		sub = "benchctl history: where each metric shifted over a series of reports."
	}
	return tmpl.Execute(w, struct {
		Title, Sub string
		CSS        template.CSS
		JS         template.JS
		Data       template.JS
	}{p.Title, sub, template.CSS(css), template.JS(js), template.JS(safeJSON(b))})
}

// safeJSON keeps JSON inside a <script> element: "</" cannot end it.
func safeJSON(b []byte) string {
	return string(bytes.ReplaceAll(b, []byte("</"), []byte(`<\/`)))
}

// Render writes the page (Write as a method).
func (p *Page) Render(w io.Writer) error { return Write(w, *p) }
