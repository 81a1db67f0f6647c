package local

import (
	_ "embed"
	"fmt"

	"github.com/benchctl/benchctl/provision"
	"sigs.k8s.io/yaml"
)

//go:embed stages.yaml
var stagesYAML []byte

// kwokConfig returns KWOK's configuration: a KwokConfiguration document and
// the stages. KWOK v0.8 does not default the parallelism options when a
// configuration document is given and refuses to start, so they are set.
func kwokConfig(podParallelism int) ([]byte, error) {
	cfg := map[string]any{
		"apiVersion": "config.kwok.x-k8s.io/v1alpha1",
		"kind":       "KwokConfiguration",
		"options": map[string]any{
			"cidr":                              "10.244.0.0/16",
			"nodeIP":                            "127.0.0.1",
			"manageAllNodes":                    false,
			"manageNodesWithAnnotationSelector": nodeAnnotation + "=fake",
			"podPlayStageParallelism":           podParallelism,
			"nodePlayStageParallelism":          2,
			"nodeLeaseParallelism":              2,
			"podsOnNodeSyncParallelism":         2,
			"nodeLeaseDurationSeconds":          40,
		},
	}
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("encode KWOK configuration: %w", err)
	}
	return append(append(b, "---\n"...), stagesYAML...), nil
}

func writeKWOKConfig(path string, podParallelism int) error {
	b, err := kwokConfig(podParallelism)
	if err != nil {
		return err
	}
	if err := provision.WriteFile0600(path, b); err != nil {
		return fmt.Errorf("write KWOK configuration: %w", err)
	}
	return nil
}
