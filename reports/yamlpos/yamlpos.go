// Package yamlpos finds where a field is in a YAML document, so that an
// error can name the file, the line and the field: the one place benchctl
// maps field paths to lines, for reports, portfolios and configs alike.
//
// A path joins mapping keys with "." and sequence indices as "[i]", as in
// workflows[0].wall.median.
package yamlpos

import (
	"fmt"
	"regexp"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// Get returns the value of key in mapping n, or nil.
func Get(n *yaml.Node, key string) *yaml.Node {
	_, v := getKey(n, key)
	return v
}

func getKey(n *yaml.Node, key string) (k, v *yaml.Node) {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i], n.Content[i+1]
		}
	}
	return nil, nil
}

// deref is the node an alias stands for (n itself when not an alias), so
// that a path through an alias finds the anchored value's lines.
func deref(n *yaml.Node) *yaml.Node {
	if n != nil && n.Kind == yaml.AliasNode {
		return n.Alias
	}
	return n
}

var reSegment = regexp.MustCompile(`([^.\[\]]+)|\[(\d+)\]`)

// Find walks path from root. It returns the key node of the last mapping
// key on the path (nil when the path ends in a sequence index or is
// empty), its value, and the deepest node it reached; found says whether
// the whole path exists.
func Find(root *yaml.Node, path string) (key, value, deepest *yaml.Node, found bool) {
	n := root
	deepest = root
	for _, m := range reSegment.FindAllStringSubmatch(path, -1) {
		var k, next *yaml.Node
		if m[2] != "" {
			i, _ := strconv.Atoi(m[2])
			if s := deref(n); s != nil && s.Kind == yaml.SequenceNode && i < len(s.Content) {
				next = s.Content[i]
			}
		} else {
			k, next = getKey(n, m[1])
		}
		if next == nil {
			return nil, nil, deepest, false
		}
		key, n = k, next
		if k != nil {
			deepest = k
		} else {
			deepest = next
		}
	}
	return key, n, deepest, true
}

// Line is the line of path in root; where the path ends in a field that
// is absent it is the line of the deepest part found.
func Line(root *yaml.Node, path string) int {
	_, _, d, _ := Find(root, path)
	if d == nil {
		return 0
	}
	return d.Line
}

// Join appends key to path.
func Join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// Pos is a mapping key: its line and its name.
type Pos struct {
	Line int
	Key  string
}

// Paths maps every mapping key of root to its path.
func Paths(root *yaml.Node) map[Pos]string {
	out := map[Pos]string{}
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				p := Join(path, k.Value)
				out[Pos{k.Line, k.Value}] = p
				walk(n.Content[i+1], p)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, fmt.Sprintf("%s[%d]", path, i))
			}
		}
	}
	walk(root, "")
	return out
}

// PathAt is the path of the deepest key on line ("" if none).
func PathAt(root *yaml.Node, line int) string {
	found := ""
	for k, p := range Paths(root) {
		if k.Line == line && (found == "" || len(p) > len(found)) {
			found = p
		}
	}
	return found
}
