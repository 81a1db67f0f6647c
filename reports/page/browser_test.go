package page_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/benchctl/benchctl/aggregate"
	"github.com/benchctl/benchctl/portfolio/rundir"
	"github.com/benchctl/benchctl/reports"
	"github.com/benchctl/benchctl/reports/history"
	"github.com/benchctl/benchctl/reports/page"
	"github.com/benchctl/benchctl/reports/reportstest"
)

// EnvRequireBrowser makes a missing browser a failure instead of a skip
// (CI sets it); EnvBrowser names the browser binary (default: chromium
// on PATH).
const (
	EnvRequireBrowser = "BENCHCTL_REQUIRE_BROWSER"
	EnvBrowser        = "BENCHCTL_BROWSER"
	// EnvScreenshots names a directory to keep the screenshots in.
	EnvScreenshots = "BENCHCTL_SCREENSHOTS"
	// EnvRun names a run directory to draw instead of the recorded smoke
	// run (the screenshots script and the load benchmark use it).
	EnvRun = "BENCHCTL_PAGE_RUN"
)

const smokeRun = "../../aggregate/testdata/smoke-run"

func browser(tb testing.TB) string {
	tb.Helper()
	name := os.Getenv(EnvBrowser)
	if name == "" {
		name = "chromium"
	}
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv(EnvRequireBrowser) != "" {
			tb.Fatalf("%s is set but the browser %q is not installed: %v (Debian: apt-get install chromium)", EnvRequireBrowser, name, err)
		}
		tb.Skipf("browser test: %q is not installed (Debian: apt-get install chromium); set %s to require it", name, EnvRequireBrowser)
	}
	return path
}

// newBrowser starts headless Chromium with the network off: the page
// must need nothing from it.
func newBrowser(tb testing.TB) (context.Context, *pageLog) {
	tb.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser(tb)),
		chromedp.UserDataDir(tb.TempDir()),
		chromedp.NoSandbox,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.WindowSize(1400, 1000),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	tb.Cleanup(func() { cancelC(); cancelA() })
	log := &pageLog{}
	listen := func(ev any) {
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeAssert {
				log.add(fmt.Sprintf("console.%s: %s", e.Type, args(e.Args)))
			}
		case *runtime.EventExceptionThrown:
			d := e.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			log.add(fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber+1, msg))
		case *network.EventRequestWillBeSent:
			if !strings.HasPrefix(e.Request.URL, "file://") && !strings.HasPrefix(e.Request.URL, "data:") {
				log.add("network request: " + e.Request.URL)
			}
		}
	}
	if err := chromedp.Listen(ctx, listen); err != nil {
		tb.Fatalf("start %s: %v", browser(tb), err)
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		tb.Fatalf("network on: %v", err)
	}
	offline := network.EmulateNetworkConditionsByRuleParams{MatchedNetworkConditions: []*network.Conditions{{Offline: true, DownloadThroughput: -1, UploadThroughput: -1}}}
	if _, err := chromedp.Call(ctx, network.EmulateNetworkConditionsByRule, offline); err != nil {
		tb.Fatalf("network off: %v", err)
	}
	return ctx, log
}

type pageLog struct {
	mu   sync.Mutex
	errs []string
}

func (l *pageLog) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs = append(l.errs, s)
}

func (l *pageLog) list() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.errs...)
}

func args(as []*runtime.RemoteObject) string {
	var out []string
	for _, a := range as {
		out = append(out, string(a.Value)+a.Description)
	}
	return strings.Join(out, " ")
}

// runPage writes the HTML page of a run directory, as 'report show -o
// html RUN_DIR' does, and returns its path and what it shows.
func runPage(tb testing.TB, dir string) (string, []aggregate.Output) {
	tb.Helper()
	run, err := rundir.Load(dir)
	if err != nil {
		tb.Fatal(err)
	}
	outs, err := aggregate.Reports(run)
	if err != nil {
		tb.Fatal(err)
	}
	p := page.Page{Title: "benchctl run " + filepath.Base(dir)}
	for _, o := range outs {
		p.Sections = append(p.Sections, page.Section{Source: dir, Report: o.Report, Timelines: o.Timelines})
	}
	if len(outs) > 1 {
		d, err := reports.Compare(outs[0].Report, outs[1].Report, reports.DefaultDiffOptions)
		if err != nil {
			tb.Fatal(err)
		}
		p.Diffs = append(p.Diffs, d)
	}
	path := filepath.Join(tb.TempDir(), "index.html")
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	if err := page.Write(f, p); err != nil {
		tb.Fatal(err)
	}
	return path, outs
}

// load opens the page and waits until its script has drawn every
// timeline (the page marks the body when it is done).
func load(tb testing.TB, ctx context.Context, path string) {
	tb.Helper()
	// A script error leaves the body unmarked: fail, not wait forever.
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx,
		chromedp.Navigate("file://"+path),
		chromedp.WaitVisible(chromedp.CSS(`body[data-rendered="true"]`)),
		chromedp.Evaluate[chromedp.Void](`window.benchctl.drawAll()`),
	); err != nil {
		tb.Fatalf("load %s: %v", path, err)
	}
}

func pageRun() string {
	if d := os.Getenv(EnvRun); d != "" {
		return d
	}
	return smokeRun
}

// TestPageInBrowser loads the page of a real smoke run in headless
// Chromium with the network off: no console error, one timeline bar per
// node attempt, critical-path bars that add up to the wall time.
func TestPageInBrowser(t *testing.T) {
	ctx, log := newBrowser(t)
	path, outs := runPage(t, pageRun())
	load(t, ctx, path)
	bars, err := chromedp.Run(ctx, chromedp.Evaluate[[]map[string]string](`[...document.querySelectorAll('details.wf')].map(d => ({workflow: d.dataset.workflow, bars: (d.querySelector('canvas.tl')||{dataset:{}}).dataset.bars || ''}))`))
	if err != nil {
		t.Fatal(err)
	}
	paths, err := chromedp.Run(ctx, chromedp.Evaluate[[]map[string]any](`[...document.querySelectorAll('.bar.cp')].map(b => ({workflow: b.dataset.workflow, wall: Number(b.dataset.wall), sum: [...b.children].reduce((s, c) => s + Number(c.dataset.seconds), 0)}))`))
	if err != nil {
		t.Fatal(err)
	}
	if errs := log.list(); len(errs) > 0 {
		t.Errorf("the page logged errors or used the network:\n%s", strings.Join(errs, "\n"))
	}
	// Sections come in order, each with its workflows in order.
	var wfs []reports.Workflow
	for _, o := range outs {
		wfs = append(wfs, o.Report.Workflows...)
	}
	if len(bars) != len(wfs) || len(paths) != len(wfs) {
		t.Fatalf("%d timelines and %d critical-path bars for %d workflows", len(bars), len(paths), len(wfs))
	}
	for i, w := range wfs {
		med := w.CriticalPath.Median.Execution
		if want := fmt.Sprint(w.Attempts.Samples[med]); bars[i]["bars"] != want {
			t.Errorf("%s: %s timeline bars, the median execution has %s node attempts", w.Name, bars[i]["bars"], want)
		}
		if d := math.Abs(paths[i]["sum"].(float64) - w.Wall.Samples[med]); d > 1e-6 || paths[i]["workflow"] != w.Name {
			t.Errorf("%s: critical-path bars add up to %vs, wall %vs", w.Name, paths[i]["sum"], w.Wall.Samples[med])
		}
	}
	screenshots(t, ctx)
}

// screenshots keeps pictures of the page for a person to judge (and the
// README, through scripts/screenshots.sh): the summary, a map's timeline
// and, when the run compared configs, the diff.
func screenshots(t *testing.T, ctx context.Context) {
	dir := os.Getenv(EnvScreenshots)
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	shots := []struct{ file, sel string }{
		{"summary.png", `section.report table.summary`},
		{"timeline.png", `details.wf[data-workflow="map-fanout"]`},
	}
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('section.diff').length`)); err == nil && n > 0 {
		shots = append(shots, struct{ file, sel string }{"diff.png", `section.diff`})
	}
	// A picture of a diff shows its first rows, not all of them.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`document.querySelectorAll('table.diffrows tr').forEach((tr, i) => { if (i > 24) tr.hidden = true; })`)); err != nil {
		t.Fatal(err)
	}
	for _, sh := range shots {
		b, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS(sh.sel)))
		if err != nil {
			t.Fatalf("screenshot of %s: %v", sh.sel, err)
		}
		if err := os.WriteFile(filepath.Join(dir, sh.file), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("screenshots in %s", dir)
}

// TestDiffPageInBrowser loads the diff page of a report against itself:
// one table row per diff row, and none significant.
func TestDiffPageInBrowser(t *testing.T) {
	ctx, log := newBrowser(t)
	r, err := reports.Load("../../aggregate/testdata/smoke-run.golden.yaml")
	if err != nil {
		t.Fatal(err)
	}
	d, err := reports.Compare(r, r, reports.DefaultDiffOptions)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "diff.html")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := page.Write(f, page.Page{Title: "diff", Diffs: []*reports.Diff{d}}); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	load(t, ctx, path)
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('table.diffrows tr[data-significant]')].map(tr => tr.lastChild.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(d.Rows) || len(rows) == 0 {
		t.Fatalf("%d table rows, the diff has %d", len(rows), len(d.Rows))
	}
	for i, v := range rows {
		if v != "~" {
			t.Errorf("row %d (%s %s): verdict %q comparing a report with itself", i, d.Rows[i].Workflow, d.Rows[i].Metric, v)
		}
	}
	// Every row shows its shift and interval (the smoke run's 3+3 samples
	// reach only 90%, which the cell says); against itself the shift is 0.
	shifts, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('table.diffrows td.shift')].map(td => td.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	if len(shifts) != len(d.Rows) {
		t.Fatalf("%d shift cells for %d rows", len(shifts), len(d.Rows))
	}
	for i, s := range shifts {
		r := d.Rows[i]
		low := r.ShiftInterval.Confidence < 1-d.Alpha
		if !strings.Contains(s, " [") || (r.ShiftPercent != nil && !strings.HasPrefix(s, "+0.0% [")) || low != strings.HasSuffix(s, "] at 90%") {
			t.Errorf("row %d (%s %s): shift cell %q", i, r.Workflow, r.Metric, s)
		}
	}
	if errs := log.list(); len(errs) > 0 {
		t.Errorf("the page logged errors or used the network:\n%s", strings.Join(errs, "\n"))
	}
}

// TestHistoryPageInBrowser draws a history whose short-chain controller
// time steps up by 30% at report 6 of 12 (the change point the analysis
// finds): with --all a chart per series, otherwise one per series with a
// change; one point per report of each; a dashed change line only where
// the analysis put one, and its tooltip names the report.
func TestHistoryPageInBrowser(t *testing.T) {
	ctx, log := newBrowser(t)
	var entries []history.Entry
	for i := range 12 {
		s := reportstest.Default("default", uint64(10+i), 5)
		if i >= 6 {
			s.Workflows[0].Scale = 1.3
		}
		r := reportstest.MustBuild(s)
		r.Run.Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i)
		r.Environment.Controller.Commit = fmt.Sprintf("c%02d", i)
		entries = append(entries, history.Entry{Source: fmt.Sprintf("r%02d.yaml", i), Report: r})
	}
	h, err := history.Build(entries, history.BuildOptions{Options: history.DefaultOptions})
	if err != nil {
		t.Fatal(err)
	}
	type chart struct {
		Metric  string `json:"metric"`
		Points  int    `json:"points"`
		Changes int    `json:"changes"`
		Tip     string `json:"tip"`
	}
	for _, all := range []bool{false, true} {
		t.Run(fmt.Sprintf("all=%v", all), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "history.html")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := h.WriteHTML(f, all); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			load(t, ctx, path)
			// The tooltip is what a reader sees on hovering the change line.
			got, err := chromedp.Run(ctx, chromedp.Evaluate[[]chart](`[...document.querySelectorAll('.hseries')].map(s => {
				const ln = s.querySelector('line.change');
				if (ln) { const r = ln.getBoundingClientRect(); ln.dispatchEvent(new MouseEvent('mousemove', {clientX: r.x, clientY: r.y, bubbles: true})); }
				return {metric: s.dataset.metric, points: s.querySelectorAll('circle.point').length,
					changes: s.querySelectorAll('line.change').length, tip: ln ? document.getElementById('tip').textContent : ''};
			})`))
			if err != nil {
				t.Fatal(err)
			}
			want := h.Changed()
			if all {
				want = h.Series
			}
			if len(got) != len(want) || len(want) == 0 {
				t.Fatalf("%d charts, want %d", len(got), len(want))
			}
			for i, s := range want {
				g := got[i]
				if g.Metric != s.Workflow+" "+s.Metric || g.Points != len(s.Points) || g.Changes != len(s.Changes) {
					t.Errorf("chart %d: %+v, want %s %s with %d points and %d change(s)", i, g, s.Workflow, s.Metric, len(s.Points), len(s.Changes))
				}
				if len(s.Changes) > 0 && !strings.Contains(g.Tip, fmt.Sprintf("report #%d (commit %s", s.Changes[0].Report, s.Changes[0].Commit)) {
					t.Errorf("chart %d: change tooltip %q does not name report #%d", i, g.Tip, s.Changes[0].Report)
				}
			}
			if errs := log.list(); len(errs) > 0 {
				t.Errorf("the page logged errors or used the network:\n%s", strings.Join(errs, "\n"))
			}
			if dir := os.Getenv(EnvScreenshots); dir != "" && !all {
				b, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS(`section.history`)))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, "history.png"), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPageLoad measures loading a run's page in Chromium until it has
// rendered, every timeline drawn (BENCHCTL_PAGE_RUN names the run; a
// default-tier run is the interesting one).
func BenchmarkPageLoad(b *testing.B) {
	ctx, _ := newBrowser(b)
	path, _ := runPage(b, pageRun())
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(fi.Size())
	for b.Loop() {
		start := time.Now()
		load(b, ctx, path)
		b.ReportMetric(time.Since(start).Seconds(), "load-s")
	}
}
