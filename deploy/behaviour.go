package deploy

import (
	"fmt"
	"net/url"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/benchctl/benchctl/reports/redact"
)

// locating are the controller config fields that only say where one
// deployment lives (an address, a directory), not how it behaves. Two
// deployments that differ only there behave alike, so the config hash
// leaves them out. A blobstore URL keeps its scheme (file, s3, gs, mem):
// the kind of store does change behaviour.
var locating = []string{"http.address", "events.file", "events.admin.url", "blobstore.url", "taskPod.image"}

// Behaviour is a controller's effective config (YAML, as /v1/config
// serves it) less the locating fields: what the config hash covers. The
// controller image's tag follows its commit, which the environment
// records apart.
func Behaviour(effective []byte) (map[string]any, error) {
	cfg := map[string]any{}
	if err := yaml.Unmarshal(effective, &cfg); err != nil {
		return nil, fmt.Errorf("decode effective config: %w", err)
	}
	if cfg == nil {
		cfg = map[string]any{}
	}
	stripLocating(cfg)
	// The behaviour goes into every report: no credential (an OTLP
	// endpoint's password, a token in any other value) may go with it.
	return redact.Values(cfg), nil
}

func stripLocating(cfg map[string]any) {
	for _, path := range locating {
		parent, key := cfg, path
		if i := strings.LastIndex(path, "."); i >= 0 {
			p, ok := lookupMap(cfg, path[:i])
			if !ok {
				continue
			}
			parent, key = p, path[i+1:]
		}
		v, ok := parent[key]
		if !ok {
			continue
		}
		switch path {
		case "blobstore.url":
			if s, ok := v.(string); ok {
				if u, err := url.Parse(s); err == nil && u.Scheme != "" {
					parent[key] = u.Scheme + "://"
					continue
				}
			}
			delete(parent, key)
		default:
			delete(parent, key)
		}
	}
}

// chartInputs are a deployment's complete chart values (defaults, config,
// -f, --set) less what only locates or names it: what a resumed run must
// find unchanged.
func chartInputs(full map[string]any) (map[string]any, error) {
	out := redactValues(full)
	for _, k := range []string{"replicaCount", "image"} {
		delete(out, k)
	}
	if a, ok := out["admin"].(map[string]any); ok {
		delete(a, "replicaCount")
		delete(a, "image")
	}
	if c, ok := out["config"].(map[string]any); ok {
		stripLocating(c)
	}
	return out, nil
}

func lookupMap(m map[string]any, dotted string) (map[string]any, bool) {
	for _, k := range strings.Split(dotted, ".") {
		next, ok := m[k].(map[string]any)
		if !ok {
			return nil, false
		}
		m = next
	}
	return m, true
}

// redactValues is a copy of vals without credentials (the admin
// service's database password, a blob URL's keys, any value of a
// credential-named key), for records and manifests.
func redactValues(vals map[string]any) map[string]any {
	out := copyValues(vals)
	if dsn, _ := lookup(out, valAdminDSN).(string); dsn != "" {
		setValue(out, valAdminDSN, redactDSN(dsn))
	}
	return redact.Values(out)
}
