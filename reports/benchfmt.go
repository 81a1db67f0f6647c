package reports

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode"
)

// BenchfmtIgnore are the file-level keys that name what is being compared
// (the config and the builds). benchstat splits results into separate
// tables by every file-level key that differs, so comparing two exports
// with benchstat needs these ignored; see WriteBenchfmt.
var BenchfmtIgnore = []string{"config", "config-hash", "controller", "controller-commit", "benchctl", "benchctl-commit"}

// WriteBenchfmt exports r in the Go benchmark format
// (golang.org/design/14313-benchmark-format), one line per measured
// execution, so that benchstat and other x/perf tools can read it:
//
//	goos: linux
//	provider: local
//	config: default
//	...
//	BenchmarkWorkflow/short-chain 1 5.34 sec/op 0.051 setup-sec/op ...
//	BenchmarkNode/short-chain/n0 1 1.02 sec/op ...
//	BenchmarkInfra/short-chain/crd.updates 1 40 calls/op
//	BenchmarkInfra/short-chain/crd.updates 1 0.0021 p50-sec/op ...
//
// Workflow lines carry wall (sec/op), setup, teardown, user, kubernetes
// and controller time; node lines carry node time (done - ready, sec/op)
// and its parts; infrastructure lines carry the operation count, and
// separate lines the latency quantiles of each execution that had
// operations. Times are seconds to the nanosecond they were measured at;
// not ns/op, because benchfmt leaves a zero "user-ns/op" untidied and
// benchstat would then show zeros in a table of their own. Compare two
// exports with:
//
//	benchstat -ignore config,config-hash,controller,controller-commit,benchctl,benchctl-commit a.txt b.txt
func WriteBenchfmt(w io.Writer, r *Report) error {
	ew := &errWriter{w: w}
	e := r.Environment
	keys := []struct{ k, v string }{
		{"goos", e.Host.OS},
		{"goarch", e.Host.Arch},
		{"cpus", itoaNonZero(e.Host.CPUs)},
		{"go", e.Host.GoVersion},
		{"pkg", "benchctl/" + e.Portfolio.Name},
		{"provider", e.Provider.Name},
		{"kubernetes", e.Provider.KubernetesVersion},
		{"nodes", itoaNonZero(e.Provider.Nodes)},
		{"portfolio", e.Portfolio.Name},
		{"tier", e.Portfolio.Tier},
		{"portfolio-hash", e.Portfolio.Hash},
		{"config", e.Config.Name},
		{"config-hash", e.Config.Hash},
		{"controller", e.Controller.Version},
		{"controller-commit", e.Controller.Commit},
		{"benchctl", e.Benchctl.Version},
		{"benchctl-commit", e.Benchctl.Commit},
	}
	for _, kv := range keys {
		if v := oneLine(kv.v); v != "" {
			ew.printf("%s: %s\n", kv.k, v)
		}
	}
	for _, wf := range r.Workflows {
		name := benchName(wf.Name)
		for i := range wf.Executions {
			ew.printf("BenchmarkWorkflow/%s 1 %s sec/op %s setup-sec/op %s teardown-sec/op %s user-sec/op %s kubernetes-sec/op %s controller-sec/op\n",
				name, ns(wf.Wall.Samples[i]), ns(wf.Setup.Samples[i]), ns(wf.Teardown.Samples[i]),
				ns(wf.Overhead.User.Samples[i]), ns(wf.Overhead.Kubernetes.Samples[i]), ns(wf.Overhead.Controller.Samples[i]))
		}
		for _, n := range wf.Nodes {
			nn := name + "/" + benchName(n.Name)
			for i := range n.User.N {
				ew.printf("BenchmarkNode/%s 1 %s sec/op %s user-sec/op %s kubernetes-sec/op %s controller-sec/op\n",
					nn, ns(n.Total.Samples[i]), ns(n.User.Samples[i]), ns(n.Kubernetes.Samples[i]), ns(n.Controller.Samples[i]))
			}
		}
		for _, m := range wf.Infrastructure {
			mn := name + "/" + benchName(m.Name)
			for _, c := range m.Count.Samples {
				ew.printf("BenchmarkInfra/%s 1 %s calls/op\n", mn, strconv.FormatFloat(c, 'f', -1, 64))
			}
			for i := range m.P50.N {
				ew.printf("BenchmarkInfra/%s 1 %s p50-sec/op %s p90-sec/op %s p95-sec/op %s max-sec/op\n",
					mn, ns(m.P50.Samples[i]), ns(m.P90.Samples[i]), ns(m.P95.Samples[i]), ns(m.Max.Samples[i]))
			}
		}
	}
	return ew.err
}

// ns renders seconds rounded to the nanosecond, the measurement
// resolution, without float noise (0.300000001, not 0.30000000100000003).
func ns(sec float64) string {
	n := int64(math.Round(sec * 1e9))
	sign := ""
	if n < 0 {
		sign, n = "-", -n
	}
	s := fmt.Sprintf("%s%d.%09d", sign, n/1e9, n%1e9)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

func itoaNonZero(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

// benchName makes a name safe inside a benchmark name: no spaces.
func benchName(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return '_'
		}
		return r
	}, s)
}

func oneLine(s string) string { return strings.TrimSpace(strings.ReplaceAll(s, "\n", " ")) }
