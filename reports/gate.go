package reports

import (
	"fmt"
	"math"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ThresholdHelp documents the --fail-on grammar; the diff command prints it.
const ThresholdHelp = `A threshold is  [WORKFLOW:]METRIC OP [SIGN]AMOUNT[UNIT]
  WORKFLOW  optional glob over workflow names (default: every workflow)
  METRIC    glob over metric names:
              wall setup teardown user kubernetes controller      (per workflow)
              node.total node.user node.kubernetes node.controller (top nodes)
              <infra>.count|p50|p90|p95|max, where <infra> is events.workflow
              events.node events.task crd.updates blob.reads blob.writes
              catalog.gets catalog.puts pod.creates rounds streaks
  OP        '>' fails on an increase (B above A), '<' on a decrease
  AMOUNT    the increase or decrease that is tolerated; beyond it fails:
              5%           relative to A's median
              50ms, 1.5s   absolute, for time metrics (ns us µs ms s m h)
              3            absolute, for counts (a bare number)
A threshold gates on the interval of the difference, not on the medians: a
row is a regression only when the WHOLE confidence interval of its shift
(Hodges-Lehmann, at 1 - --alpha) lies beyond the amount. 'wall>+5%' fails
when the interval's lower end is above +5% of A's median, 'setup<10ms' when
its upper end is below -10ms. An interval that could not reach 1 - alpha
(too few samples) never fails the gate. --correction does not change it.
Every threshold must match at least one compared metric, so a typo is an
error rather than a gate that never fires.`

// Threshold is one parsed --fail-on rule.
type Threshold struct {
	Spec     string
	Workflow string // glob; "" matches every workflow
	Metric   string // glob
	// Increase is true for '>' (fail when B - A exceeds Amount) and false
	// for '<' (fail when A - B exceeds Amount).
	Increase bool
	// Amount is in percent (Unit "%"), seconds (UnitSeconds) or a count
	// (UnitCount).
	Amount float64
	Unit   string
}

var reThreshold = regexp.MustCompile(`^\s*(?:([^:<>]+):)?([^:<>\s]+)\s*([<>])\s*([+-]?)\s*((?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)\s*(%|ns|us|µs|ms|s|m|h)?\s*$`)

var timeUnits = map[string]float64{"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}

// ParseThreshold parses a --fail-on rule such as 'wall>+5%',
// 'controller>50ms', 'long-chain:crd.updates.count>+2' or '*.p95>+20%'.
func ParseThreshold(spec string) (Threshold, error) {
	m := reThreshold.FindStringSubmatch(spec)
	if m == nil {
		return Threshold{}, fmt.Errorf("threshold %q: want [WORKFLOW:]METRIC(>|<)[+|-]AMOUNT[%%|ns|us|ms|s|m|h], e.g. 'wall>+5%%' or 'controller>50ms'", spec)
	}
	t := Threshold{Spec: strings.TrimSpace(spec), Workflow: strings.TrimSpace(m[1]), Metric: m[2], Increase: m[3] == ">"}
	// The spec is printed in diffs, Markdown tables and JUnit files: a
	// control character or a line break would break them.
	if !printable(t.Spec) || !printable(t.Workflow) || !printable(t.Metric) {
		return Threshold{}, fmt.Errorf("threshold %q: holds a control character, a line break or invalid UTF-8; separate its parts with plain spaces", spec)
	}
	for _, g := range []string{t.Workflow, t.Metric} {
		if _, err := path.Match(g, ""); err != nil {
			return Threshold{}, fmt.Errorf("threshold %q: bad glob %q: %w", spec, g, err)
		}
	}
	switch {
	case m[4] == "-" && t.Increase:
		return Threshold{}, fmt.Errorf("threshold %q: '>' takes an increase; for a decrease write %s<%s%s", spec, m[2], m[5], m[6])
	case m[4] == "+" && !t.Increase:
		return Threshold{}, fmt.Errorf("threshold %q: '<' takes a decrease; for an increase write %s>+%s%s", spec, m[2], m[5], m[6])
	}
	v, err := strconv.ParseFloat(m[5], 64)
	if err != nil {
		return Threshold{}, fmt.Errorf("threshold %q: %w", spec, err)
	}
	switch u := m[6]; {
	case u == "%":
		t.Amount, t.Unit = v, "%"
	case u == "":
		t.Amount, t.Unit = v, UnitCount
	default:
		t.Amount, t.Unit = v*timeUnits[u], UnitSeconds
	}
	if math.IsInf(t.Amount, 0) {
		return Threshold{}, fmt.Errorf("threshold %q: amount %s%s is out of range", spec, m[5], m[6])
	}
	return t, nil
}

// printable says whether s is valid UTF-8 that prints on one line.
func printable(s string) bool {
	return utf8.ValidString(s) && strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) < 0
}

// matches says whether the threshold applies to the row: names match and
// an absolute amount has the row's unit.
func (t Threshold) matches(r Row) bool {
	if t.Workflow != "" {
		if ok, _ := path.Match(t.Workflow, r.Workflow); !ok {
			return false
		}
	}
	if ok, _ := path.Match(t.Metric, r.Metric); !ok {
		return false
	}
	return t.Unit == "%" || t.Unit == r.Unit
}

// exceeded says whether the whole interval of the row's shift, at a
// confidence of at least level, lies beyond the threshold.
func (t Threshold) exceeded(r Row, level float64) bool {
	iv := r.ShiftInterval
	if iv == nil || iv.Confidence < level {
		return false
	}
	if t.Unit == "%" {
		if r.ShiftPercentInterval == nil {
			// A's median is 0: beyond any relative amount once the whole
			// interval is on the threshold's side of zero.
			return (t.Increase && iv.Lo > 0) || (!t.Increase && iv.Hi < 0)
		}
		iv = r.ShiftPercentInterval
	}
	if t.Increase {
		return iv.Lo > t.Amount
	}
	return iv.Hi < -t.Amount
}

// GateResult is the outcome of the thresholds.
type GateResult struct {
	Thresholds []string    `yaml:"thresholds"`
	Violations []Violation `yaml:"violations,omitempty"`
}

// Passed is true when no threshold was exceeded.
func (g *GateResult) Passed() bool { return len(g.Violations) == 0 }

// Violation is a significant change beyond a threshold.
type Violation struct {
	Threshold string `yaml:"threshold"`
	Row       int    `yaml:"row"` // index into Diff.Rows
	Message   string `yaml:"message"`
}

// ApplyGate evaluates thresholds over the diff's rows and records the
// result in d.Gate. A threshold that matches no row is an error.
func (d *Diff) ApplyGate(ths []Threshold) error {
	g := &GateResult{Thresholds: []string{}}
	for _, t := range ths {
		g.Thresholds = append(g.Thresholds, t.Spec)
		matched := false
		for i, r := range d.Rows {
			if !t.matches(r) {
				continue
			}
			matched = true
			if t.exceeded(r, 1-d.Alpha) {
				g.Violations = append(g.Violations, Violation{Threshold: t.Spec, Row: i, Message: violationMessage(t, r)})
			}
		}
		if !matched {
			return fmt.Errorf("--fail-on %q matches no compared metric%s; metrics in this diff: %s", t.Spec, unitHint(t), strings.Join(d.metricNames(), " "))
		}
	}
	d.Gate = g
	return nil
}

func unitHint(t Threshold) string {
	switch t.Unit {
	case UnitCount:
		return " with a count unit (a bare number is a count; give times a unit such as ms or %)"
	case UnitSeconds:
		return " with a time unit"
	}
	return ""
}

func (d *Diff) metricNames() []string {
	var out []string
	for _, r := range d.Rows {
		if !slices.Contains(out, r.Metric) {
			out = append(out, r.Metric)
		}
	}
	return out
}

func violationMessage(t Threshold, r Row) string {
	return fmt.Sprintf("%s %s: %s -> %s, shift %s (p=%.3f n=%d+%d): the whole interval is beyond %s",
		r.Name(), r.Metric, FormatValue(r.Unit, r.A), FormatValue(r.Unit, r.B),
		r.shiftString(true), r.P, r.NA, r.NB, t.Spec)
}

// shiftString is the shift with its interval, relative when A's median
// is not 0 ("+3.1% [+1.2%, +5.0%]"), else absolute; withLevel adds the
// interval's confidence. "" when there is no shift.
func (r Row) shiftString(withLevel bool) string {
	if r.Shift == nil {
		return ""
	}
	var s string
	iv := r.ShiftInterval
	if r.ShiftPercent != nil {
		iv = r.ShiftPercentInterval
		s = fmt.Sprintf("%s [%s, %s]", pct1(*r.ShiftPercent), pct1(iv.Lo), pct1(iv.Hi))
	} else {
		s = fmt.Sprintf("%s [%s, %s]", formatSigned(r.Unit, *r.Shift), formatSigned(r.Unit, iv.Lo), formatSigned(r.Unit, iv.Hi))
	}
	if withLevel {
		s += fmt.Sprintf(" at %s", levelString(iv.Confidence))
	}
	return s
}

// pct1 is a signed percentage with one decimal; what rounds to zero is
// "+0.0%", never "-0.0%".
func pct1(x float64) string {
	if math.Abs(x) < 0.05 {
		x = 0
	}
	return fmt.Sprintf("%+.1f%%", x)
}

// levelString is a confidence level in percent, with as many decimals as
// it needs up to one ("95%", "90%", "66.7%").
func levelString(c float64) string {
	return strconv.FormatFloat(math.Floor(1000*c+1e-9)/10, 'f', -1, 64) + "%"
}

func changeString(r Row) string {
	if r.Change == nil {
		return "new"
	}
	return fmt.Sprintf("%+.2f%%", *r.Change)
}
