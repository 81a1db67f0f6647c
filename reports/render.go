package reports

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// RenderOptions tune the text and Markdown renderers.
type RenderOptions struct {
	// MaxNodes caps the per-node lines of a workflow; workflows with more
	// nodes show those with the largest controller overhead. 0 shows all.
	MaxNodes int
}

// DefaultRenderOptions keep a 500-node workflow to a screenful.
var DefaultRenderOptions = RenderOptions{MaxNodes: 10}

// Legend explains the numbers of the text and Markdown summaries.
const Legend = "Medians over the measured executions. Overhead is summed over a workflow's nodes; " +
	"percentages are shares of node time (user + kubernetes + controller)."

// WriteText renders the summary in the shape of the RFC example:
//
//	short-chain: 5.34s with 370ms (6.9%) controller overhead and 300ms (5.6%) kubernetes overhead
//	  n0: 1.02s with 50.0ms (4.9%) controller and 40.0ms (3.9%) kubernetes
//	                   count  p50     p90     p95     max
//	  events workflow  5      21.0ms  ...
func WriteText(w io.Writer, r *Report, o RenderOptions) error {
	ew := &errWriter{w: w}
	for _, l := range headerLines(r) {
		ew.printf("%s\n", l)
	}
	ew.printf("\n%s\n", Legend)
	for _, wf := range r.Workflows {
		if lead, subs := pathLines(wf); lead != "" {
			ew.printf("\n%s\n  %s\n", lead, subs)
			ew.printf("  node sums (node-seconds): %s (%s) controller, %s (%s) kubernetes\n",
				FormatValue(UnitSeconds, wf.Overhead.Controller.Median), pct(wf.Overhead.ControllerRatio.Median),
				FormatValue(UnitSeconds, wf.Overhead.Kubernetes.Median), pct(wf.Overhead.KubernetesRatio.Median))
		} else {
			ew.printf("\n%s: %s with %s (%s) controller overhead and %s (%s) kubernetes overhead\n",
				wf.Name, FormatValue(UnitSeconds, wf.Wall.Median),
				FormatValue(UnitSeconds, wf.Overhead.Controller.Median), pct(wf.Overhead.ControllerRatio.Median),
				FormatValue(UnitSeconds, wf.Overhead.Kubernetes.Median), pct(wf.Overhead.KubernetesRatio.Median))
		}
		if fm, f := wf.FloorMultiple, r.Environment.Floor; fm != nil && f != nil {
			ew.printf("  controller per serial step: %s = %.1f× the floor (%s/node), over %s steps on the path\n",
				FormatValue(UnitSeconds, fm.Median*f.PerNode), fm.Median, FormatValue(UnitSeconds, f.PerNode), FormatValue(UnitCount, wf.PathSteps.Median))
		}
		ew.printf("  n=%d  wall %s  setup %s  teardown %s  user %s (%s)\n",
			wf.Executions, withCI(wf.Wall), FormatValue(UnitSeconds, wf.Setup.Median),
			FormatValue(UnitSeconds, wf.Teardown.Median),
			FormatValue(UnitSeconds, wf.Overhead.User.Median), pct(wf.Overhead.UserRatio.Median))
		nodes, hidden := pickNodes(wf.Nodes, o.MaxNodes)
		for _, n := range nodes {
			ew.printf("  %s: %s with %s (%s) controller and %s (%s) kubernetes\n",
				n.Name, FormatValue(UnitSeconds, n.Total.Median),
				FormatValue(UnitSeconds, n.Controller.Median), pct(n.ControllerRatio.Median),
				FormatValue(UnitSeconds, n.Kubernetes.Median), pct(n.KubernetesRatio.Median))
		}
		if hidden > 0 {
			ew.printf("  ... %d more nodes; the %d above have the most controller overhead (--max-nodes 0 shows all)\n", hidden, len(nodes))
		}
		if len(wf.Infrastructure) > 0 {
			tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
			fmt.Fprintf(tw, "  \tcount\tp50\tp90\tp95\tmax\n")
			for _, m := range wf.Infrastructure {
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", infraLabel(m.Name), FormatValue(UnitCount, m.Count.Median),
					latency(m.P50), latency(m.P90), latency(m.P95), latency(m.Max))
			}
			if err := tw.Flush(); err != nil && ew.err == nil {
				ew.err = err
			}
		}
		if ev := wf.Events; ev != nil {
			ew.printf("  admin events: %s persisted per execution; %s task runtimes from events agree with the trace within %s (largest difference %s, node %s)\n",
				FormatValue(UnitCount, ev.Persisted.Median), FormatValue(UnitCount, ev.Compared.Median),
				FormatValue(UnitSeconds, ev.Tolerance), FormatValue(UnitSeconds, ev.MaxDisagreement), orDash(ev.Node))
		}
	}
	return ew.err
}

// pathLines lead a workflow's summary with its critical path, as
//
//	map-fanout: 18.2s wall — critical path: 0s user, 4.1s kubernetes, 14.1s controller (77.5%); 1,000 attempts, 13.7ks node-seconds of controller time
//	  controller on the path: launch 9.8s, observe 4.1s, setup 10ms, teardown 200ms
//
// and are empty for a report without one.
func pathLines(wf Workflow) (lead, subs string) {
	cp := wf.CriticalPath
	if cp == nil {
		return "", ""
	}
	sec := func(name string) string { return FormatValue(UnitSeconds, cp.Part(name).Seconds.Median) }
	lead = fmt.Sprintf("%s: %s wall — critical path: %s user, %s kubernetes, %s controller (%s)",
		wf.Name, FormatValue(UnitSeconds, wf.Wall.Median), sec(PathUser), sec(PathKubernetes), sec(PathController),
		pct(cp.Part(PathController).Share.Median))
	if wf.Attempts != nil {
		lead += fmt.Sprintf("; %s attempts, %s node-seconds of controller time", FormatValue(UnitCount, wf.Attempts.Median),
			FormatValue(UnitSeconds, wf.Overhead.Controller.Median))
	}
	var parts []string
	for _, sub := range PathSubs {
		p := cp.Part(PathController + "." + sub)
		if p.Seconds.Median > 0 {
			parts = append(parts, sub+" "+FormatValue(UnitSeconds, p.Seconds.Median))
		}
	}
	if len(parts) == 0 {
		parts = []string{"none"}
	}
	return lead, "controller on the path: " + strings.Join(parts, ", ")
}

// headerLines describe where and how the run happened.
func headerLines(r *Report) []string {
	e := r.Environment
	lines := []string{
		fmt.Sprintf("config %s (%s), controller %s, portfolio %s tier %s (%s)",
			e.Config.Name, shortHash(e.Config.Hash), buildString(e.Controller.Version, e.Controller.Commit),
			e.Portfolio.Name, orDash(e.Portfolio.Tier), shortHash(e.Portfolio.Hash)),
		fmt.Sprintf("provider %s, Kubernetes %s, %d nodes; host %s/%s, %d CPUs, %s; benchctl %s",
			e.Provider.Name, orDash(e.Provider.KubernetesVersion), e.Provider.Nodes,
			e.Host.OS, e.Host.Arch, e.Host.CPUs, orDash(e.Host.GoVersion), buildString(e.Benchctl.Version, e.Benchctl.Commit)),
	}
	if e.Engine != nil {
		lines = append(lines[:1], append([]string{fmt.Sprintf("engine %s %s", e.Engine.Name, orDash(e.Engine.Version))}, lines[1:]...)...)
	}
	if e.Admin != nil {
		lines = append(lines, fmt.Sprintf("events: admin service %s on %s", buildString(e.Admin.Version, e.Admin.Commit), orDash(e.Admin.Database)))
	}
	if f := e.Floor; f != nil {
		lines = append(lines, FloorLine(f))
	}
	lines = append(lines,
		runLine(r.Run),
		"validity: "+r.Validity.Summary(),
	)
	for _, rs := range r.Validity.Reasons {
		where := ""
		if rs.Workflow != "" {
			where = rs.Workflow + ": "
		}
		lines = append(lines, fmt.Sprintf("  %s %s: %s%s", rs.Severity, rs.Kind, where, rs.Message))
	}
	return lines
}

func runLine(ri RunInfo) string {
	s := fmt.Sprintf("run: %d warm-up, %d repetitions, interleaving %s", ri.Warmup, ri.Repetitions, ri.Interleaving.Mode)
	if len(ri.Interleaving.Configs) > 0 {
		s += " (" + strings.Join(ri.Interleaving.Configs, " ") + ")"
	}
	if !ri.Start.IsZero() {
		s += ", started " + ri.Start.UTC().Format(time.RFC3339)
		if !ri.End.IsZero() {
			s += ", took " + ri.End.Sub(ri.Start).Round(time.Second).String()
		}
	}
	return s
}

func buildString(version, commit string) string {
	s := orDash(version)
	if commit != "" {
		c := commit
		if len(c) > 12 {
			c = c[:12]
		}
		s += " (" + c + ")"
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// withCI renders a median with its confidence interval when there is one.
func withCI(s Stats) string {
	v := FormatValue(s.Unit, s.Median)
	if s.MedianCI != nil {
		v += fmt.Sprintf(" [%s, %s]", FormatValue(s.Unit, s.MedianCI.Lo), FormatValue(s.Unit, s.MedianCI.Hi))
	}
	return v
}

func latency(s Stats) string {
	if s.N == 0 {
		return "-"
	}
	return FormatValue(UnitSeconds, s.Median)
}

func infraLabel(name string) string { return strings.ReplaceAll(name, ".", " ") }

// pickNodes returns all nodes, or the max with the largest median
// controller overhead (kept in their original order) and how many were
// left out.
func pickNodes(nodes []Node, max int) ([]Node, int) {
	if max <= 0 || len(nodes) <= max {
		return nodes, 0
	}
	idx := make([]int, len(nodes))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		return cmp.Compare(nodes[b].Controller.Median, nodes[a].Controller.Median)
	})
	idx = idx[:max]
	slices.Sort(idx)
	out := make([]Node, len(idx))
	for i, j := range idx {
		out[i] = nodes[j]
	}
	return out, len(nodes) - max
}

// WriteMarkdown renders the report as Markdown (GitHub flavour).
func WriteMarkdown(w io.Writer, r *Report, o RenderOptions) error {
	ew := &errWriter{w: w}
	e := r.Environment
	ew.printf("## benchctl report: config `%s`\n\n", mdEscape(e.Config.Name))
	h := headerLines(r)
	for _, l := range h[:3] {
		ew.printf("- %s\n", mdEscape(l))
	}
	status := "✅ valid"
	if !r.Validity.Valid {
		status = "❌ **invalid**"
	} else if len(r.Validity.Reasons) > 0 {
		status = "⚠️ valid, with warnings"
	}
	ew.printf("- validity: %s\n", status)
	for _, rs := range r.Validity.Reasons {
		where := ""
		if rs.Workflow != "" {
			where = "`" + mdEscape(rs.Workflow) + "`: "
		}
		ew.printf("  - %s `%s`: %s%s\n", rs.Severity, rs.Kind, where, mdEscape(rs.Message))
	}
	ew.printf("\n%s\n\n", Legend)
	ew.printf("| workflow | n | wall | setup | teardown | user | kubernetes | controller |\n")
	ew.printf("|---|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, wf := range r.Workflows {
		ew.printf("| %s | %d | %s | %s | %s | %s (%s) | %s (%s) | %s (%s) |\n", mdEscape(wf.Name), wf.Executions,
			withCI(wf.Wall), FormatValue(UnitSeconds, wf.Setup.Median), FormatValue(UnitSeconds, wf.Teardown.Median),
			FormatValue(UnitSeconds, wf.Overhead.User.Median), pct(wf.Overhead.UserRatio.Median),
			FormatValue(UnitSeconds, wf.Overhead.Kubernetes.Median), pct(wf.Overhead.KubernetesRatio.Median),
			FormatValue(UnitSeconds, wf.Overhead.Controller.Median), pct(wf.Overhead.ControllerRatio.Median))
	}
	if slices.ContainsFunc(r.Workflows, func(w Workflow) bool { return w.CriticalPath != nil }) {
		ew.printf("\nWhere the wall time went: the critical path, which partitions each execution's wall time.\n\n")
		ew.printf("| workflow | wall | user | kubernetes | controller | controller on the path |\n")
		ew.printf("|---|--:|--:|--:|--:|---|\n")
		for _, wf := range r.Workflows {
			cp := wf.CriticalPath
			if cp == nil {
				continue
			}
			cell := func(name string) string {
				p := cp.Part(name)
				return fmt.Sprintf("%s (%s)", FormatValue(UnitSeconds, p.Seconds.Median), pct(p.Share.Median))
			}
			_, subs := pathLines(wf)
			ew.printf("| %s | %s | %s | %s | %s | %s |\n", mdEscape(wf.Name), FormatValue(UnitSeconds, wf.Wall.Median),
				cell(PathUser), cell(PathKubernetes), cell(PathController), mdEscape(strings.TrimPrefix(subs, "controller on the path: ")))
		}
	}
	for _, wf := range r.Workflows {
		ew.printf("\n### %s\n", mdEscape(wf.Name))
		nodes, hidden := pickNodes(wf.Nodes, o.MaxNodes)
		if len(nodes) > 0 {
			title := fmt.Sprintf("%d nodes", len(wf.Nodes))
			if hidden > 0 {
				title = fmt.Sprintf("%d of %d nodes, those with the most controller overhead", len(nodes), len(wf.Nodes))
			}
			ew.printf("\n<details><summary>%s</summary>\n\n", title)
			ew.printf("| node | kind | time | user | kubernetes | controller |\n|---|---|--:|--:|--:|--:|\n")
			for _, n := range nodes {
				ew.printf("| %s | %s | %s | %s | %s (%s) | %s (%s) |\n", mdEscape(n.Name), mdEscape(orDash(n.Kind)),
					FormatValue(UnitSeconds, n.Total.Median), FormatValue(UnitSeconds, n.User.Median),
					FormatValue(UnitSeconds, n.Kubernetes.Median), pct(n.KubernetesRatio.Median),
					FormatValue(UnitSeconds, n.Controller.Median), pct(n.ControllerRatio.Median))
			}
			ew.printf("\n</details>\n")
		}
		if len(wf.Infrastructure) > 0 {
			ew.printf("\n| infrastructure | count | p50 | p90 | p95 | max |\n|---|--:|--:|--:|--:|--:|\n")
			for _, m := range wf.Infrastructure {
				ew.printf("| %s | %s | %s | %s | %s | %s |\n", mdEscape(infraLabel(m.Name)), FormatValue(UnitCount, m.Count.Median),
					latency(m.P50), latency(m.P90), latency(m.P95), latency(m.Max))
			}
		}
	}
	return ew.err
}

// FloorLine is the one-line summary of a calibrated floor, as
//
//	floor: 13.8ms/node [12.1ms, 15.9ms] = pod create 3.57ms + watch delivery 5.03ms + update of long-chain (100 nodes) 5.23ms; client qps 100 burst 200
func FloorLine(f *Floor) string {
	part := func(name string) string {
		if s := f.Operation(name); s != nil {
			return FormatValue(UnitSeconds, s.Median)
		}
		return "-"
	}
	return fmt.Sprintf("floor: %s/node %s = pod create %s + watch delivery %s + update of %s %s; client %s",
		FormatValue(UnitSeconds, f.PerNode), ciOf(f.PerNodeCI), part(FloorPodCreate), part(FloorWatchDelivery),
		f.Large, part(FloorWorkflowUpdateLarge), f.Client)
}

func ciString(s Stats) string { return ciOf(s.MedianCI) }

func ciOf(ci *Interval) string {
	if ci == nil {
		return "[no interval]"
	}
	return fmt.Sprintf("[%s, %s]", FormatValue(UnitSeconds, ci.Lo), FormatValue(UnitSeconds, ci.Hi))
}
