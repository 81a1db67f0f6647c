package yamlpos

import (
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestFind(t *testing.T) {
	const doc = `config:
  a: &a
    x: 1
    y: [1, 2]
  b: *a
  l: &l [p, q]
  m: *l
workflows:
  - name: w
    wall: {median: 1}
`
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(doc), &root); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path  string
		line  int
		found bool
	}{
		{"config.a.x", 3, true},
		{"workflows[0].wall.median", 10, true},
		{"workflows[0].wall.p90", 10, false},
		{"workflows[1]", 8, false},
		// Through an alias: the anchored value's line (the fuzzer found
		// blame falling back to the file's name without one).
		{"config.b.x", 3, true},
		{"config.b.y[1]", 4, true},
		{"config.m[1]", 6, true},
		{"config.b.z", 5, false},
	}
	for _, tt := range tests {
		_, _, _, found := Find(root.Content[0], tt.path)
		if got := Line(root.Content[0], tt.path); got != tt.line || found != tt.found {
			t.Errorf("%s: line %d found %v, want line %d found %v", tt.path, got, found, tt.line, tt.found)
		}
	}
}
