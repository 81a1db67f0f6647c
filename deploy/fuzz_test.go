package deploy

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/benchctl/benchctl/reports/reportstest"
	"go.yaml.in/yaml/v3"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/cli/values"
	"helm.sh/helm/v3/pkg/getter"
)

// leaves calls f with the key path of every leaf of a values tree (list
// indices as decimal keys, as in the JSON pointers of schema errors).
func leaves(v any, path []string, f func(path []string, v any)) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			leaves(e, append(path[:len(path):len(path)], k), f)
		}
	case []any:
		for i, e := range v {
			leaves(e, append(path[:len(path):len(path)], strconv.Itoa(i)), f)
		}
	default:
		f(path, v)
	}
}

// normal is a values tree as JSON, and so Helm, carries it: numbers are
// float64, mappings have string keys.
func normal(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = normal(e)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[fmt.Sprint(k)] = normal(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = normal(e)
		}
		return out
	case int:
		return float64(v)
	case int64:
		return float64(v)
	case uint64:
		return float64(v)
	}
	return v
}

// FuzzConfigOverlay feeds named config files and --set overlays to the
// config loader and to the merge Prepare does. An accepted config
// re-encodes and re-decodes to the same values, survives the deep copy
// Helm's coalescing needs, and names its file and line when a key is
// unknown; an --set value wins over the config's and is blamed on its
// --set argument; errors are one line naming the file; and parsing
// allocates in proportion to the input.
func FuzzConfigOverlay(f *testing.F) {
	paths, err := filepath.Glob("configs/*.yaml")
	if err != nil || len(paths) == 0 {
		f.Fatalf("no named configs (err %v)", err)
	}
	sets := []string{
		"config.workflowStore=Bogus", "config.workers=3", "config.blobstore.url=s3://bucket?access_key=AKIA&secret_key=s",
		"config.maxStreakLength=0,config.workers=2", "admin.database.dsn=postgres://u:pw@db/x", "config.taskPod.tolerations[0].key=a",
		"config.events.sink=admin", "a.b.c=d", "",
	}
	for i, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, sets[i%len(sets)])
	}
	f.Add([]byte("# why\nconfg:\n  workers: 2\n"), "config.workers=1")
	f.Add([]byte("- a\n- b\n"), "")
	f.Add([]byte("config: [\n"), "")
	// What JSON cannot carry: NaN, and (before parseConfig kept them as
	// written) timestamps and integer keys, which copyValues dropped.
	f.Add([]byte("# x\nconfig:\n  a: .nan\n  1: b\n"), "config.a=1")
	f.Add([]byte("# x\nconfig:\n  1: b\n  c: {2: d}\n  t: 2001-12-14\n  a: &a {x: 1, y: [1, 2]}\n  b: *a\n"), "config.c.2=e")
	f.Add([]byte("config:\n  a: &a [x, x, x, x, x, x, x, x, x, x]\n  b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n  c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n  d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n  e: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"), "")
	const file = "fuzz.yaml"
	f.Fuzz(func(t *testing.T, data []byte, set string) {
		var c NamedConfig
		var err error
		n := reportstest.Allocated(func() { c, err = parseConfig("fuzz", "built-in", file, data) })
		if limit := 16<<20 + 1024*uint64(len(data)); n > limit {
			t.Fatalf("parsing %d bytes allocated %d bytes, more than %d", len(data), n, limit)
		}
		if err != nil {
			if msg := err.Error(); strings.ContainsAny(msg, "\n\r") || !strings.HasPrefix(msg, file) {
				t.Fatalf("error %q is not one line naming the file", msg)
			}
			return
		}
		if c.Values == nil {
			t.Fatal("accepted with nil values")
		}
		// Re-encode and re-decode.
		b, err := yaml.Marshal(c.Values)
		if err != nil {
			t.Fatalf("values do not encode: %v", err)
		}
		c2, err := parseConfig("fuzz", "built-in", "re-encoded.yaml", b)
		if err != nil {
			t.Fatalf("re-encoded values do not parse: %v\n%s", err, b)
		}
		if a, b := fmt.Sprintf("%#v", c.Values), fmt.Sprintf("%#v", c2.Values); a != b {
			t.Fatalf("values changed in a round trip:\n%s\n%s", a, b)
		}
		// Prepare deep-copies the values before Helm coalesces them.
		if a, b := fmt.Sprintf("%#v", normal(c.Values)), fmt.Sprintf("%#v", normal(copyValues(c.Values))); a != b {
			t.Fatalf("copyValues changed the values:\n%s\n%s", a, b)
		}
		// Unknown top-level keys are refused on one line naming the file
		// and the line.
		if len(c.Values) > 0 {
			known := map[string]any{}
			for k := range c.Values {
				known[k] = nil
			}
			if err := c.CheckKeys(known); err != nil {
				t.Fatalf("CheckKeys refuses the config's own keys: %v", err)
			}
			err := c.CheckKeys(map[string]any{})
			if err == nil || strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), file+":") {
				t.Fatalf("CheckKeys of unknown keys: err = %v, want one line naming the file and line", err)
			}
		}

		// --set over the config, merged as Prepare merges them.
		opts := &values.Options{Values: []string{set}}
		user, err := opts.MergeValues(getter.Providers{})
		if err != nil {
			return
		}
		merged, err := opts.MergeValues(getter.Providers{})
		if err != nil {
			t.Fatal(err)
		}
		vals := chartutil.CoalesceTables(merged, copyValues(c.Values))
		in := inputs{set: []string{set}}
		leaves(user, nil, func(path []string, v any) {
			got, ok := lookupPath(vals, path)
			if !ok || fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", v) {
				if v != nil { // a null --set value deletes the key
					t.Fatalf("--set %s: %s is %#v after the merge, want %#v", set, strings.Join(path, "."), got, v)
				}
			}
			if plainPath(path, true) {
				if got := in.blame(c, path); got != "--set "+set {
					t.Fatalf("%s is set by --set %s, but blamed on %s", strings.Join(path, "."), set, got)
				}
			}
		})
		lines := strings.Split(string(data), "\n")
		leaves(c.Values, nil, func(path []string, _ any) {
			if !plainPath(path, false) {
				return
			}
			if _, ok := lookupPath(user, path[:1]); ok {
				return // --set touches this subtree
			}
			got := in.blame(c, path)
			rest, ok := strings.CutPrefix(got, file+":")
			line, err := strconv.Atoi(rest)
			if !ok || err != nil || line < 1 || line > len(lines) {
				t.Fatalf("%s comes from the config but is blamed on %q, not a line of %s", strings.Join(path, "."), got, file)
			}
			if !strings.Contains(lines[line-1], path[len(path)-1]) {
				t.Fatalf("%s is blamed on %s, which reads %q", strings.Join(path, "."), got, lines[line-1])
			}
		})
	})
}

// plainPath is a path that a dotted path and a --set key can spell
// unambiguously; indices says whether it may go through lists.
func plainPath(path []string, indices bool) bool {
	if len(path) == 0 {
		return false
	}
	for _, k := range path {
		if k == "" || strings.ContainsAny(k, ".[]=,\\ \t\n\r\"'{}") {
			return false
		}
		if _, err := strconv.Atoi(k); err == nil && !indices {
			return false
		}
	}
	return true
}

// lookupPath reads a key path of a values tree (indices into lists).
func lookupPath(v any, path []string) (any, bool) {
	for _, k := range path {
		switch m := v.(type) {
		case map[string]any:
			e, ok := m[k]
			if !ok {
				return nil, false
			}
			v = e
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(m) {
				return nil, false
			}
			v = m[i]
		default:
			return nil, false
		}
	}
	return v, true
}
