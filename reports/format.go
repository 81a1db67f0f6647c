package reports

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// FormatValue renders a number of the given unit for people: seconds
// with two decimals from one second up and three significant digits in
// ms/µs/ns below, counts as whole numbers where they are whole, ratios as
// percentages.
func FormatValue(unit string, x float64) string {
	switch unit {
	case UnitSeconds:
		return formatSeconds(x)
	case UnitRatio:
		return fmt.Sprintf("%.1f%%", 100*x)
	default:
		return formatCount(x)
	}
}

func formatSeconds(x float64) string {
	a := math.Abs(x)
	switch {
	case a == 0:
		return "0s"
	case a >= 1:
		return fmt.Sprintf("%.2fs", x)
	case a >= 1e-3:
		return sig3(x*1e3) + "ms"
	case a >= 1e-6:
		return sig3(x*1e6) + "µs"
	default:
		return sig3(x*1e9) + "ns"
	}
}

// sig3 prints x (with |x| in [1, 1000)) to three significant digits.
func sig3(x float64) string {
	a := math.Abs(x)
	switch {
	case a >= 100:
		return fmt.Sprintf("%.0f", x)
	case a >= 10:
		return fmt.Sprintf("%.1f", x)
	default:
		return fmt.Sprintf("%.2f", x)
	}
}

func formatCount(x float64) string {
	if x == math.Trunc(x) && math.Abs(x) < 1e15 {
		return strconv.FormatInt(int64(x), 10)
	}
	return strconv.FormatFloat(x, 'f', 1, 64)
}

// formatSigned is FormatValue with an explicit sign.
func formatSigned(unit string, x float64) string {
	s := FormatValue(unit, x)
	if x > 0 || (x == 0 && !strings.HasPrefix(s, "-")) {
		return "+" + s
	}
	return s
}

func pct(x float64) string { return fmt.Sprintf("%.1f%%", 100*x) }

// shortHash trims "sha256:" hashes for display.
func shortHash(h string) string {
	h = strings.TrimPrefix(h, "sha256:")
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// errWriter keeps the first write error so renderers can write freely
// and check once.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

// mdEscape keeps a value from breaking a Markdown table.
func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "<", "&lt;", ">", "&gt;").Replace(s)
}
