package controller_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"

	"github.com/benchctl/benchctl/controller/api/telemetry"
	"github.com/benchctl/benchctl/controller/chart"
	"github.com/benchctl/benchctl/controller/obs"
)

// dashboardFile is the Grafana dashboard that the chart's dashboard
// ConfigMap carries and that imports into Grafana by hand.
const dashboardFile = chartDir + "/dashboards/benchflow.json"

// metricPrefixes are the prefixes of the names in the controller's
// registry: its own metrics and the Go and process collectors'.
var metricPrefixes = []string{"benchflow_", "go_", "process_"}

// targetLabels are the labels Prometheus (and the operator, for a
// ServiceMonitor) adds to every scraped series.
var targetLabels = []string{"namespace", "job", "instance", "pod", "service", "endpoint", "container"}

// The part of a Grafana dashboard these tests check.
type (
	grafanaDashboard struct {
		UID        string `json:"uid"`
		Title      string `json:"title"`
		Templating struct {
			List []grafanaVariable `json:"list"`
		} `json:"templating"`
		Panels []grafanaPanel `json:"panels"`
	}
	grafanaDatasource struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	}
	grafanaVariable struct {
		Name       string             `json:"name"`
		Type       string             `json:"type"`
		Query      json.RawMessage    `json:"query"`
		Datasource *grafanaDatasource `json:"datasource"`
	}
	grafanaPanel struct {
		ID         *int               `json:"id"`
		Type       string             `json:"type"`
		Title      string             `json:"title"`
		Datasource *grafanaDatasource `json:"datasource"`
		Targets    []struct {
			RefID      string             `json:"refId"`
			Expr       string             `json:"expr"`
			Datasource *grafanaDatasource `json:"datasource"`
		} `json:"targets"`
	}
)

// query is a variable's query: a string (datasource variables: the
// plugin type) or an object with the PromQL query.
func (v grafanaVariable) query() string {
	var s string
	if json.Unmarshal(v.Query, &s) == nil {
		return s
	}
	var q struct {
		Query string `json:"query"`
	}
	_ = json.Unmarshal(v.Query, &q)
	return q.Query
}

// parseDashboard decodes a dashboard and checks its structure: panels with
// unique ids, each with at least one target and every target with a PromQL
// expr, all on the $datasource variable (of type datasource, prometheus),
// and namespace and job variables that the queries can filter on.
func parseDashboard(src []byte) (*grafanaDashboard, error) {
	var d grafanaDashboard
	if err := json.Unmarshal(src, &d); err != nil {
		return nil, fmt.Errorf("dashboard JSON: %w", err)
	}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if d.UID == "" || d.Title == "" {
		bad("dashboard without uid or title")
	}
	vars := map[string]grafanaVariable{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v
	}
	if v, ok := vars["datasource"]; !ok || v.Type != "datasource" || v.query() != "prometheus" {
		bad("no $datasource variable of type datasource for prometheus")
	}
	for _, name := range []string{"namespace", "job"} {
		if v, ok := vars[name]; !ok || v.Type != "query" || v.query() == "" || !onDatasourceVar(v.Datasource) {
			bad("no $%s query variable on $datasource", name)
		}
	}
	if len(d.Panels) == 0 {
		bad("no panels")
	}
	ids := map[int]string{}
	for i, p := range d.Panels {
		name := fmt.Sprintf("panel %d %q", i, p.Title)
		switch {
		case p.ID == nil:
			bad("%s has no id", name)
		case ids[*p.ID] != "":
			bad("%s has id %d, as %s", name, *p.ID, ids[*p.ID])
		default:
			ids[*p.ID] = name
		}
		if !onDatasourceVar(p.Datasource) {
			bad("%s is not on $datasource", name)
		}
		if len(p.Targets) == 0 {
			bad("%s has no target", name)
		}
		refs := map[string]bool{}
		for j, tg := range p.Targets {
			if strings.TrimSpace(tg.Expr) == "" {
				bad("%s target %d has no expr", name, j)
			}
			if tg.RefID == "" || refs[tg.RefID] {
				bad("%s target %d: refId %q empty or repeated", name, j, tg.RefID)
			}
			refs[tg.RefID] = true
			if tg.Datasource != nil && !onDatasourceVar(tg.Datasource) {
				bad("%s target %s is not on $datasource", name, tg.RefID)
			}
		}
	}
	return &d, errors.Join(errs...)
}

func onDatasourceVar(ds *grafanaDatasource) bool {
	return ds != nil && ds.Type == "prometheus" && (ds.UID == "${datasource}" || ds.UID == "$datasource")
}

// exprs are the dashboard's PromQL queries (panel targets, then variable
// queries), each with where it is.
func (d *grafanaDashboard) exprs() (targets, variables map[string]string) {
	targets, variables = map[string]string{}, map[string]string{}
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			targets[fmt.Sprintf("%s/%s", p.Title, tg.RefID)] = tg.Expr
		}
	}
	for _, v := range d.Templating.List {
		if v.Type == "query" {
			variables["$"+v.Name] = v.query()
		}
	}
	return targets, variables
}

func readDashboard(t *testing.T) ([]byte, *grafanaDashboard) {
	t.Helper()
	src, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	d, err := parseDashboard(src)
	if err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	return src, d
}

func TestMonitoringDashboardIsWellFormed(t *testing.T) {
	real, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	// edit returns the real dashboard changed by f, to prove that the
	// checks catch each kind of mistake.
	edit := func(f func(d map[string]any)) []byte {
		var d map[string]any
		if err := json.Unmarshal(real, &d); err != nil {
			t.Fatal(err)
		}
		f(d)
		b, _ := json.Marshal(d)
		return b
	}
	panel := func(d map[string]any, i int) map[string]any { return d["panels"].([]any)[i].(map[string]any) }
	for _, tt := range []struct {
		name string
		src  []byte
		want string // "" = valid
	}{
		{"the chart's dashboard", real, ""},
		{"not JSON", []byte(`{"panels": [`), "dashboard JSON"},
		{"no panels", edit(func(d map[string]any) { d["panels"] = []any{} }), "no panels"},
		{"repeated panel id", edit(func(d map[string]any) { panel(d, 1)["id"] = panel(d, 0)["id"] }), "has id"},
		{"panel without id", edit(func(d map[string]any) { delete(panel(d, 2), "id") }), "has no id"},
		{"panel without targets", edit(func(d map[string]any) { panel(d, 0)["targets"] = []any{} }), "has no target"},
		{"target without expr", edit(func(d map[string]any) {
			panel(d, 0)["targets"].([]any)[0].(map[string]any)["expr"] = " "
		}), "has no expr"},
		{"panel on a fixed datasource", edit(func(d map[string]any) {
			panel(d, 0)["datasource"] = map[string]any{"type": "prometheus", "uid": "P1809F7CD0C75ACF3"}
		}), "not on $datasource"},
		{"no datasource variable", edit(func(d map[string]any) {
			d["templating"].(map[string]any)["list"] = d["templating"].(map[string]any)["list"].([]any)[1:]
		}), "$datasource"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseDashboard(tt.src)
			if tt.want == "" && err != nil {
				t.Fatal(err)
			}
			if tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// exportedMetric is a metric family of the controller's registry.
type exportedMetric struct {
	typ dto.MetricType
	// values of each label; nil for a label whose values are not fixed
	// up front (the test made them up).
	labels map[string]map[string]bool
}

// controllerMetrics gathers the registry the controller serves at
// /metrics (obs.NewMetrics). Label values that NewMetrics creates up front
// are the label's known values.
func controllerMetrics(t *testing.T) map[string]exportedMetric {
	t.Helper()
	m := obs.NewMetrics()
	gather := func() map[string]*dto.MetricFamily {
		fams, err := m.Registry.Gather()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]*dto.MetricFamily{}
		for _, f := range fams {
			out[f.GetName()] = f
		}
		return out
	}
	known := gather()
	// Vectors with no label values fixed up front are missing from Gather
	// until they have a child.
	m.NodeTransitions.WithLabelValues("task", "Succeeded")
	all := gather()

	// Every metric the registry describes must be gathered by now: a new
	// vector needs its WithLabelValues above.
	descs := make(chan *prometheus.Desc)
	go func() { m.Registry.Describe(descs); close(descs) }()
	fqName := regexp.MustCompile(`fqName: "([^"]+)"`)
	for d := range descs {
		mm := fqName.FindStringSubmatch(d.String())
		if mm == nil {
			t.Fatalf("cannot read the name of %s", d)
		}
		if all[mm[1]] == nil {
			t.Errorf("metric %s is registered but not gathered: give it a label set in controllerMetrics", mm[1])
		}
	}

	out := map[string]exportedMetric{}
	for name, f := range all {
		e := exportedMetric{typ: f.GetType(), labels: map[string]map[string]bool{}}
		for _, mt := range f.GetMetric() {
			for _, lp := range mt.GetLabel() {
				if known[name] == nil {
					e.labels[lp.GetName()] = nil
					continue
				}
				if e.labels[lp.GetName()] == nil {
					e.labels[lp.GetName()] = map[string]bool{}
				}
				e.labels[lp.GetName()][lp.GetValue()] = true
			}
		}
		out[name] = e
	}
	return out
}

// promToken is a PromQL token: i identifier, s string (unquoted), n number
// or duration, v Grafana variable outside a string, p punctuation.
type promToken struct {
	kind byte
	text string
}

func lexPromQL(src string) ([]promToken, error) {
	var toks []promToken
	isIdent := func(c byte, first bool) bool {
		return c == '_' || c == ':' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || !first && '0' <= c && c <= '9'
	}
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '#':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case c == '"' || c == '\'' || c == '`':
			j := i + 1
			for j < len(src) && src[j] != c {
				if src[j] == '\\' && c != '`' {
					j++
				}
				j++
			}
			if j >= len(src) {
				return nil, fmt.Errorf("unterminated string at %d", i)
			}
			raw := src[i : j+1]
			if c == '\'' {
				raw = `"` + strings.ReplaceAll(src[i+1:j], `"`, `\"`) + `"`
			}
			s, err := strconv.Unquote(raw)
			if err != nil {
				s = src[i+1 : j]
			}
			toks = append(toks, promToken{'s', s})
			i = j + 1
		case isIdent(c, true):
			j := i + 1
			for j < len(src) && isIdent(src[j], false) {
				j++
			}
			toks = append(toks, promToken{'i', src[i:j]})
			i = j
		case '0' <= c && c <= '9' || c == '.':
			j := i + 1
			for j < len(src) && (isIdent(src[j], false) || src[j] == '.') {
				j++
			}
			toks = append(toks, promToken{'n', src[i:j]})
			i = j
		case c == '$':
			j := i + 1
			if j < len(src) && src[j] == '{' {
				for j < len(src) && src[j] != '}' {
					j++
				}
				j++
			} else {
				for j < len(src) && isIdent(src[j], false) {
					j++
				}
			}
			toks = append(toks, promToken{'v', src[i:min(j, len(src))]})
			i = j
		default:
			if i+1 < len(src) && slices.Contains([]string{"=~", "!~", "!=", "==", ">=", "<="}, src[i:i+2]) {
				toks = append(toks, promToken{'p', src[i : i+2]})
				i += 2
			} else {
				toks = append(toks, promToken{'p', src[i : i+1]})
				i++
			}
		}
	}
	return toks, nil
}

// promMatcher is one label matcher of a selector.
type promMatcher struct{ label, op, value string }

// promSelector is a metric a query selects: a name with a metric prefix,
// written before its {matchers} or as {__name__="..."}.
type promSelector struct {
	name     string
	matchers []promMatcher
	ranged   bool // followed by a [range]
}

// promSelectors finds the selectors of a query. Every identifier with a
// metric prefix outside a string and outside {} is a metric name, whatever
// follows it ({, [, (, ), space, the end).
func promSelectors(expr string) ([]promSelector, error) {
	toks, err := lexPromQL(expr)
	if err != nil {
		return nil, err
	}
	matchers := func(i int) ([]promMatcher, int, error) { // toks[i] is {
		var ms []promMatcher
		for i++; i < len(toks) && toks[i].text != "}"; {
			if toks[i].text == "," {
				i++
				continue
			}
			if i+2 >= len(toks) || toks[i].kind != 'i' || toks[i+1].kind != 'p' || toks[i+2].kind != 's' {
				return nil, 0, fmt.Errorf("bad label matcher at token %q", toks[i].text)
			}
			ms = append(ms, promMatcher{toks[i].text, toks[i+1].text, toks[i+2].text})
			i += 3
		}
		if i >= len(toks) {
			return nil, 0, errors.New("unterminated {")
		}
		return ms, i + 1, nil
	}
	var sels []promSelector
	for i := 0; i < len(toks); {
		tk := toks[i]
		var sel promSelector
		switch {
		case tk.kind == 'i' && hasMetricPrefix(tk.text):
			sel.name = tk.text
			i++
			if i < len(toks) && toks[i].text == "{" {
				if sel.matchers, i, err = matchers(i); err != nil {
					return nil, err
				}
			}
		case tk.text == "{":
			if sel.matchers, i, err = matchers(i); err != nil {
				return nil, err
			}
			for _, m := range sel.matchers {
				if m.label == "__name__" {
					if m.op != "=" {
						return nil, fmt.Errorf("metric name matched with %s %q: cannot check it", m.op, m.value)
					}
					sel.name = m.value
				}
			}
			if sel.name == "" {
				return nil, errors.New("selector without a metric name")
			}
		default:
			i++
			continue
		}
		sel.ranged = i < len(toks) && toks[i].text == "["
		sels = append(sels, sel)
	}
	return sels, nil
}

func hasMetricPrefix(name string) bool {
	return slices.ContainsFunc(metricPrefixes, func(p string) bool { return strings.HasPrefix(name, p) })
}

// checkQuery checks that every metric a query selects is one the
// controller exports, under the name its type gives series (a histogram's
// _bucket, _sum and _count), with labels it has and, where the controller
// fixes them, their values; with rates set (panels, not label_values
// variables), counters must be read over a range (rate()). It returns the
// families the query uses.
func checkQuery(expr string, exported map[string]exportedMetric, rates bool) ([]string, error) {
	sels, err := promSelectors(expr)
	if err != nil {
		return nil, err
	}
	if len(sels) == 0 {
		return nil, errors.New("selects no controller metric")
	}
	var families []string
	var errs []error
	for _, s := range sels {
		family, suffix := s.name, ""
		e, ok := exported[s.name]
		if !ok {
			for _, sfx := range []string{"_bucket", "_sum", "_count"} {
				base := strings.TrimSuffix(s.name, sfx)
				if b, found := exported[base]; base != s.name && found {
					family, suffix, e, ok = base, sfx, b, true
					break
				}
			}
		}
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("%s: the controller exports no such metric", s.name))
			continue
		case suffix == "" && (e.typ == dto.MetricType_HISTOGRAM || e.typ == dto.MetricType_SUMMARY):
			errs = append(errs, fmt.Errorf("%s is a %s: select %[1]s_bucket, _sum or _count", s.name, e.typ))
			continue
		case suffix == "_bucket" && e.typ != dto.MetricType_HISTOGRAM, suffix != "" && e.typ != dto.MetricType_HISTOGRAM && e.typ != dto.MetricType_SUMMARY:
			errs = append(errs, fmt.Errorf("%s: %s is a %s, it has no %s series", s.name, family, e.typ, suffix))
			continue
		}
		if rates && !s.ranged && (suffix != "" || e.typ == dto.MetricType_COUNTER) {
			errs = append(errs, fmt.Errorf("%s is a counter: read it with rate(%[1]s[5m])", s.name))
		}
		for _, m := range s.matchers {
			values, has := e.labels[m.label]
			switch {
			case m.label == "__name__" || slices.Contains(targetLabels, m.label) || m.label == "le" && suffix == "_bucket":
			case !has:
				errs = append(errs, fmt.Errorf("%s has no label %s", s.name, m.label))
			case m.op == "=" && values != nil && !values[m.value]:
				errs = append(errs, fmt.Errorf("%s{%s=%q}: the controller's %s values are %v", s.name, m.label, m.value, m.label, slices.Sorted(maps.Keys(values))))
			}
		}
		families = append(families, family)
	}
	return families, errors.Join(errs...)
}

func TestMonitoringDashboardQueriesUseExportedMetrics(t *testing.T) {
	exported := controllerMetrics(t)
	_, d := readDashboard(t)
	targets, variables := d.exprs()

	type query struct {
		name  string
		expr  string
		rates bool
		want  string // "" = valid
	}
	var tests []query
	for _, name := range slices.Sorted(maps.Keys(targets)) {
		tests = append(tests, query{"panel " + name, targets[name], true, ""})
	}
	for _, name := range slices.Sorted(maps.Keys(variables)) {
		expr := variables[name]
		tests = append(tests, query{"variable " + name, expr, false, ""})
	}
	// The checker catches what a dashboard gets wrong.
	tests = append(tests, []query{
		{"gauge", `sum(benchflow_queue_depth{namespace=~"$namespace"})`, true, ""},
		{"metric names in strings are not selectors", `label_replace(benchflow_workers_free, "x", "benchflow_nope", "", "")`, true, ""},
		{"Grafana range variable", `rate(benchflow_rounds_total[$__rate_interval])`, true, ""},
		{"unknown metric", `sum(rate(benchflow_roundz_total[5m]))`, true, "benchflow_roundz_total: the controller exports no such metric"},
		{"unknown metric before )", `sum(benchflow_queue_depht)`, true, "benchflow_queue_depht: the controller exports no such metric"},
		{"unknown metric by __name__", `{__name__="benchflow_nope", job="x"}`, true, "benchflow_nope: the controller exports no such metric"},
		{"unknown Go metric", `go_gorutines`, true, "go_gorutines: the controller exports no such metric"},
		{"unknown histogram", `histogram_quantile(0.9, sum by (le) (rate(benchflow_round_seconds_bucket[5m])))`, true, "benchflow_round_seconds_bucket: the controller exports no such metric"},
		{"histogram without suffix", `rate(benchflow_pod_create_duration_seconds[5m])`, true, "select benchflow_pod_create_duration_seconds_bucket"},
		{"bucket of a counter", `rate(benchflow_rounds_total_bucket[5m])`, true, "benchflow_rounds_total is a COUNTER, it has no _bucket series"},
		{"count of a gauge", `benchflow_queue_depth_count`, true, "benchflow_queue_depth is a GAUGE, it has no _count series"},
		{"counter without rate", `sum(benchflow_rounds_total)`, true, "read it with rate("},
		{"label the metric lacks", `rate(benchflow_rounds_total{result="ok"}[5m])`, true, "benchflow_rounds_total has no label result"},
		{"label value the controller never sets", `rate(benchflow_workflow_update_duration_seconds_count{result="conflicted"}[5m])`, true, `result="conflicted"`},
		{"regex metric name", `{__name__=~"benchflow_.*"}`, true, "cannot check"},
		{"no controller metric", `vector(1)`, true, "selects no controller metric"},
	}...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := checkQuery(tt.expr, exported, tt.rates)
			if tt.want == "" && err != nil {
				t.Fatalf("%s\n%v", tt.expr, err)
			}
			if tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("%s: err = %v, want one containing %q", tt.expr, err, tt.want)
			}
		})
	}

	t.Run("every panel query filters on $namespace and $job", func(t *testing.T) {
		for name, expr := range targets {
			sels, err := promSelectors(expr)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range sels {
				var got []string
				for _, m := range s.matchers {
					if m.op == "=~" && m.value == "$"+m.label {
						got = append(got, m.label)
					}
				}
				if !slices.Contains(got, "namespace") || !slices.Contains(got, "job") {
					t.Errorf("%s: %s does not filter on namespace=~\"$namespace\" and job=~\"$job\"", name, s.name)
				}
			}
		}
	})
	t.Run("every controller metric has a panel", func(t *testing.T) {
		used := map[string]bool{}
		for _, expr := range targets {
			fams, _ := checkQuery(expr, exported, true)
			for _, f := range fams {
				used[f] = true
			}
		}
		for name := range exported {
			if strings.HasPrefix(name, "benchflow_") && !used[name] {
				t.Errorf("no panel shows %s", name)
			}
		}
	})
}

// serviceMonitor is the part of a monitoring.coreos.com/v1 ServiceMonitor
// the chart renders (the prometheus-operator's field names).
type serviceMonitor struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   metav1.ObjectMeta `json:"metadata"`
	Spec       struct {
		NamespaceSelector struct {
			Any        bool     `json:"any"`
			MatchNames []string `json:"matchNames"`
		} `json:"namespaceSelector"`
		Selector  metav1.LabelSelector `json:"selector"`
		Endpoints []smEndpoint         `json:"endpoints"`
	} `json:"spec"`
}

type smEndpoint struct {
	Port          string `json:"port"`
	Path          string `json:"path"`
	Interval      string `json:"interval"`
	ScrapeTimeout string `json:"scrapeTimeout"`
	Relabelings   []struct {
		SourceLabels []string `json:"sourceLabels"`
		Separator    string   `json:"separator"`
		Regex        string   `json:"regex"`
		Action       string   `json:"action"`
	} `json:"relabelings"`
}

// scrapes reports whether the endpoint's relabelings keep a target of the
// named Service, as Prometheus applies keep/drop rules (anchored regex over
// the source labels joined by the separator).
func scrapes(ep smEndpoint, service string) bool {
	for _, r := range ep.Relabelings {
		sep := r.Separator
		if sep == "" {
			sep = ";"
		}
		var vals []string
		for _, l := range r.SourceLabels {
			if l == "__meta_kubernetes_service_name" {
				vals = append(vals, service)
			} else {
				vals = append(vals, "")
			}
		}
		re := r.Regex
		if re == "" {
			re = "(.*)"
		}
		match := regexp.MustCompile("^(?:" + re + ")$").MatchString(strings.Join(vals, sep))
		switch strings.ToLower(r.Action) {
		case "keep":
			if !match {
				return false
			}
		case "drop":
			if match {
				return false
			}
		}
	}
	return true
}

func TestChartMonitoring(t *testing.T) {
	ch := loadChart(t)
	dashboardJSON, _ := readDashboard(t)
	both := map[string]any{"monitoring": map[string]any{
		"serviceMonitor": map[string]any{"enabled": true, "interval": "30s", "scrapeTimeout": "10s", "labels": map[string]any{"release": "kube-prometheus-stack"}},
		"dashboard": map[string]any{"enabled": true, "namespace": "monitoring", "labels": map[string]any{"team": "bench"},
			"annotations": map[string]any{"grafana_folder": "benchctl"}},
	}}
	tests := []struct {
		name          string
		values        map[string]any
		wantMonitor   bool
		wantInterval  string
		wantSMLabels  map[string]string
		wantDashboard bool
		wantCMNS      string
		wantCMLabels  map[string]string
	}{
		{name: "defaults: neither"},
		{name: "service monitor", values: map[string]any{"monitoring": map[string]any{"serviceMonitor": map[string]any{"enabled": true}}},
			wantMonitor: true, wantInterval: "15s"},
		{name: "dashboard", values: map[string]any{"monitoring": map[string]any{"dashboard": map[string]any{"enabled": true}}},
			wantDashboard: true, wantCMNS: "bench", wantCMLabels: map[string]string{"grafana_dashboard": "1"}},
		{name: "both, with overrides", values: both,
			wantMonitor: true, wantInterval: "30s", wantSMLabels: map[string]string{"release": "kube-prometheus-stack"},
			wantDashboard: true, wantCMNS: "monitoring", wantCMLabels: map[string]string{"grafana_dashboard": "1", "team": "bench"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := render(t, ch, tt.values)
			if err != nil {
				t.Fatal(err)
			}
			smSrc := strings.TrimSpace(out["benchflow/templates/servicemonitor.yaml"])
			cmSrc := strings.TrimSpace(out["benchflow/templates/dashboard.yaml"])
			if (smSrc != "") != tt.wantMonitor || (cmSrc != "") != tt.wantDashboard {
				t.Fatalf("service monitor rendered %v (want %v), dashboard %v (want %v)", smSrc != "", tt.wantMonitor, cmSrc != "", tt.wantDashboard)
			}
			svc := manifest[corev1.Service](t, out, "service.yaml")
			if tt.wantMonitor {
				var sm serviceMonitor
				if err := yaml.UnmarshalStrict([]byte(smSrc), &sm); err != nil {
					t.Fatalf("%v\n%s", err, smSrc)
				}
				if sm.APIVersion != "monitoring.coreos.com/v1" || sm.Kind != "ServiceMonitor" || sm.Metadata.Namespace != svc.Namespace {
					t.Fatalf("%s %s in %q", sm.APIVersion, sm.Kind, sm.Metadata.Namespace)
				}
				sel, err := metav1.LabelSelectorAsSelector(&sm.Spec.Selector)
				if err != nil || sel.Empty() || !sel.Matches(labels.Set(svc.Labels)) {
					t.Fatalf("selector %v (%v) does not select service %s with labels %v", sel, err, svc.Name, svc.Labels)
				}
				if !sm.Spec.NamespaceSelector.Any && !slices.Contains(sm.Spec.NamespaceSelector.MatchNames, svc.Namespace) {
					t.Fatalf("namespace selector %+v misses %s", sm.Spec.NamespaceSelector, svc.Namespace)
				}
				if len(sm.Spec.Endpoints) != 1 {
					t.Fatalf("%d endpoints", len(sm.Spec.Endpoints))
				}
				ep := sm.Spec.Endpoints[0]
				if !slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == ep.Port }) {
					t.Fatalf("endpoint port %q is not a port of service %s: %+v", ep.Port, svc.Name, svc.Spec.Ports)
				}
				if ep.Path != telemetry.PathMetrics || ep.Interval != tt.wantInterval {
					t.Fatalf("endpoint path %q interval %q, want %s and %s", ep.Path, ep.Interval, telemetry.PathMetrics, tt.wantInterval)
				}
				// The admin Service has the same labels and a port of the
				// same name: only the controller's is scraped.
				if !scrapes(ep, svc.Name) || scrapes(ep, "benchflow-admin") {
					t.Fatalf("relabelings %+v: scrape %s %v, benchflow-admin %v; want only the controller", ep.Relabelings, svc.Name, scrapes(ep, svc.Name), scrapes(ep, "benchflow-admin"))
				}
				for k, v := range tt.wantSMLabels {
					if sm.Metadata.Labels[k] != v {
						t.Fatalf("service monitor labels %v lack %s=%s", sm.Metadata.Labels, k, v)
					}
				}
			}
			if tt.wantDashboard {
				cm := manifest[corev1.ConfigMap](t, out, "dashboard.yaml")
				if cm.Namespace != tt.wantCMNS {
					t.Fatalf("dashboard ConfigMap in %q, want %q", cm.Namespace, tt.wantCMNS)
				}
				for k, v := range tt.wantCMLabels {
					if cm.Labels[k] != v {
						t.Fatalf("dashboard labels %v lack %s=%q", cm.Labels, k, v)
					}
				}
				if len(cm.Data) != 1 || !bytes.Equal([]byte(cm.Data["benchflow.json"]), bytes.TrimSpace(dashboardJSON)) {
					t.Fatalf("ConfigMap data keys %v: benchflow.json is not %s", slices.Sorted(maps.Keys(cm.Data)), dashboardFile)
				}
				if _, err := parseDashboard([]byte(cm.Data["benchflow.json"])); err != nil {
					t.Fatal(err)
				}
			}
		})
	}

	t.Run("lint with both", func(t *testing.T) {
		for _, m := range lint.All(chartDir, both, "bench", false).Messages {
			if m.Severity >= support.WarningSev {
				t.Errorf("lint: %s", m)
			}
		}
	})

	for _, tt := range []struct {
		name   string
		values map[string]any
		want   string
	}{
		{"bad interval", map[string]any{"monitoring": map[string]any{"serviceMonitor": map[string]any{"interval": "soon"}}}, "interval"},
		{"empty interval", map[string]any{"monitoring": map[string]any{"serviceMonitor": map[string]any{"interval": ""}}}, "interval"},
		{"unknown monitoring value", map[string]any{"monitoring": map[string]any{"serviceMonitor": map[string]any{"enable": true}}}, "enable"},
		{"non-string label", map[string]any{"monitoring": map[string]any{"dashboard": map[string]any{"labels": map[string]any{"grafana_dashboard": 1}}}}, "grafana_dashboard"},
		{"bad namespace", map[string]any{"monitoring": map[string]any{"dashboard": map[string]any{"namespace": "Monitoring"}}}, "namespace"},
	} {
		t.Run("schema rejects "+tt.name, func(t *testing.T) {
			_, err := render(t, ch, tt.values)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one naming %q", err, tt.want)
			}
		})
	}
}

// TestEmbeddedChartCarriesTheDashboard: benchctl deploys the chart it
// embeds, so the dashboard must be in it, as on disk.
func TestEmbeddedChartCarriesTheDashboard(t *testing.T) {
	want, err := os.ReadFile(filepath.Join("chart", "dashboards", "benchflow.json"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := fs.ReadFile(chart.FS(), "dashboards/benchflow.json")
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("embedded dashboard: %d bytes, %v; want the %d bytes on disk", len(got), err, len(want))
	}
}
