package deploy

import (
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	helmregistry "helm.sh/helm/v3/pkg/registry"
)

const miniChart = "testdata/charts/mini"

func valuesFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPrepareChart: any chart under the named-config mechanism: a values
// file is the config (named by the file), -f and --set go over it, the
// chart renders with them, and the inputs a run records are the chart's
// values after them, credentials masked.
func TestPrepareChart(t *testing.T) {
	cfg := valuesFile(t, "propeller-a.yaml", "# more workers\npropeller:\n  workers: 200\ndatabase:\n  password: hunter2\n")
	p, err := Prepare(context.Background(), Options{Chart: miniChart, Config: cfg, Set: []string{"propeller.maxStreakLength=2"}})
	if err != nil {
		t.Fatal(err)
	}
	o := p.Options
	if o.Name != "propeller-a" || o.Namespace != "benchctl-propeller-a" || o.Release != "mini" || p.Build != nil {
		t.Errorf("options %+v", o)
	}
	if c := p.Controller(); c.Version != "v1.16.1" || c.Commit != "0.1.0" || c.Source != miniChart || p.Chart.Name != "mini" {
		t.Errorf("controller %+v, chart %+v", c, p.Chart)
	}
	m, err := p.manifest(context.Background(), p.Values)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m, "workers: 200") || !strings.Contains(m, "max-streak-length: 2") {
		t.Errorf("rendered:\n%s", m)
	}
	prop, _ := p.Inputs["propeller"].(map[string]any)
	db, _ := p.Inputs["database"].(map[string]any)
	if prop["workers"] != float64(200) || prop["maxStreakLength"] != float64(2) || db["password"] != "xxxxx" || p.InputsHash == "" {
		t.Errorf("inputs %v", p.Inputs)
	}
	// Without a config the chart's own values, under its name.
	p, err = Prepare(context.Background(), Options{Chart: miniChart})
	if err != nil {
		t.Fatal(err)
	}
	if p.Options.Name != "mini" || p.Named.Name != "mini" {
		t.Errorf("no config: deployment %q, config %q", p.Options.Name, p.Named.Name)
	}
}

// TestPrepareChartRefuses: bad input about a chart is a ConfigError on
// one line naming the file and line, before any cluster is touched.
func TestPrepareChartRefuses(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"a key the chart does not have", Options{Chart: miniChart, Config: valuesFile(t, "a.yaml", "# x\npropeler:\n  workers: 2\n")},
			`a.yaml:2: unknown chart value "propeler" (the chart has: database, propeller)`},
		{"a value its schema refuses", Options{Chart: miniChart, Config: valuesFile(t, "b.yaml", "# x\npropeller:\n  workers: 0\n")},
			"b.yaml:3: propeller.workers: minimum"},
		{"a --set its schema refuses", Options{Chart: miniChart, Set: []string{"propeller.wrokers=3"}},
			"--set propeller.wrokers=3: propeller: additional properties 'wrokers' not allowed"},
		{"a named config of the bundled controller", Options{Chart: miniChart, Config: "streak-1"},
			"--config streak-1: with --chart, --config names a values file for chart mini"},
		{"no chart there", Options{Chart: "testdata/charts/none"}, "--chart testdata/charts/none:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Prepare(context.Background(), tt.opts)
			var ce *ConfigError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("err = %v, want one line of a ConfigError saying %q", err, tt.want)
			}
		})
	}
}

// TestPrepareChartPackagedAndOCI: a packaged chart and one pushed to an
// OCI registry (in process, on loopback) prepare as its directory does.
func TestPrepareChartPackagedAndOCI(t *testing.T) {
	c, err := loader.Load(miniChart)
	if err != nil {
		t.Fatal(err)
	}
	tgz, err := chartutil.Save(c, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	reg := httptest.NewServer(registry.New())
	t.Cleanup(reg.Close)
	host := strings.TrimPrefix(reg.URL, "http://")
	client, err := helmregistry.NewClient(helmregistry.ClientOptPlainHTTP())
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(tgz)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Push(data, host+"/charts/mini:0.1.0"); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{tgz, "oci://" + host + "/charts/mini:0.1.0"} {
		p, err := Prepare(context.Background(), Options{Chart: ref, Set: []string{"propeller.workers=7"}})
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		m, err := p.manifest(context.Background(), p.Values)
		if err != nil || !strings.Contains(m, "workers: 7") || p.Chart.Version != "0.1.0" || p.Chart.Ref != ref {
			t.Errorf("%s: chart %+v, rendered %v:\n%s", ref, p.Chart, err, m)
		}
	}
	if _, err := Prepare(context.Background(), Options{Chart: "oci://" + host + "/charts/absent:9.9.9"}); err == nil || !strings.Contains(err.Error(), "absent") {
		t.Errorf("a chart the registry does not have: %v", err)
	}
}
